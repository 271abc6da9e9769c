"""What a layer counts, and the snapshot ``layer.statistics()`` returns."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Counters", "LayerStatistics"]


@dataclass(slots=True)
class Counters:
    """The mutable counters behind :class:`LayerStatistics` (one set per layer)."""

    sent: int = 0
    received: int = 0
    group_sends: int = 0
    rejected_full: int = 0
    group_skipped_full: int = 0
    dropped_overflow: int = 0
    expired: int = 0
    undecodable: int = 0
    resyncs: int = 0


def _no_extra() -> dict[str, int]:
    return {}


@dataclass(frozen=True, slots=True)
class LayerStatistics:
    """A snapshot of one layer's counters in this process (``layer.statistics()``).

    Counters only grow; ``channels``, ``groups``, ``buffered`` and ``waiting_receivers``
    are the current sizes (gauges). A backend's own numbers are split the same way:
    counters in :attr:`extra`, gauges in :attr:`gauges`.
    """

    channels: int = 0
    """Channels with a mailbox here (messages or receivers waiting)."""
    groups: int = 0
    """Groups with at least one local member."""
    buffered: int = 0
    """Messages waiting in local mailboxes."""
    waiting_receivers: int = 0
    """``receive()`` calls waiting for a message."""
    sent: int = 0
    """Messages accepted by ``send`` (one per call)."""
    received: int = 0
    """Messages handed to ``receive()`` callers."""
    group_sends: int = 0
    """``group_send`` calls."""
    rejected_full: int = 0
    """``send`` calls refused with ``ChannelFull``."""
    group_skipped_full: int = 0
    """Group members skipped by ``group_send`` because their channel was full."""
    dropped_overflow: int = 0
    """Messages dropped by a DROP_OLDEST / DROP_NEWEST overflow policy."""
    expired: int = 0
    """Messages dropped because they waited longer than ``expiry``."""
    undecodable: int = 0
    """Messages dropped because they could not be decrypted or decoded."""
    resyncs: int = 0
    """Times this layer told its local receivers that messages may have been lost
    (one ``layer.reconnected`` notice per affected local channel and occasion)."""
    extra: dict[str, int] = field(default_factory=_no_extra)
    """Backend-specific counters: each only grows (e.g. reconnects)."""
    gauges: dict[str, int] = field(default_factory=_no_extra)
    """Backend-specific current sizes: each may go up and down (e.g. subscriptions)."""

"""The channel layer contract: what consumers and applications may call on any layer.

The semantics every implementation keeps (at most once, FIFO per channel, capacity per
channel, expiry, cancel-safe ``receive``) are stated in :mod:`fast_channels.layers.base`,
which implements them once for every backend.

The ``*_sync`` methods are the blocking twins of the async ones, for code that cannot
``await`` (threads, task queues, sync views); :mod:`fast_channels.sync` states how they run.
Every layer has them: ``BaseChannelLayer`` inherits them from
:class:`~fast_channels.sync.SyncLayerMethods`, so ``get_channel_layer().group_send_sync(...)``
type-checks and runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from fast_channels.layers.statistics import LayerStatistics
from fast_channels.types import Message

__all__ = ["ChannelLayer"]


@runtime_checkable
class ChannelLayer(Protocol):
    """What consumers and applications can do with any channel layer."""

    @property
    def extensions(self) -> Sequence[str]:
        """The optional parts of the contract this layer has (``"groups"``, ``"flush"``)."""
        ...

    async def send(self, channel: str, message: Message) -> None:
        """Queue ``message`` for the one receiver of ``channel``; ``ChannelFull`` when full."""
        ...

    async def receive(self, channel: str) -> Message:
        """Wait for the next message on ``channel``; cancel-safe."""
        ...

    async def new_channel(self, prefix: str = "specific.") -> str:
        """A fresh, unique channel name that this process receives on."""
        ...

    async def group_add(self, group: str, channel: str) -> None:
        """Make ``channel`` a member of ``group`` (refreshes its group expiry)."""
        ...

    async def group_discard(self, group: str, channel: str) -> None:
        """Remove ``channel`` from ``group``; no error if it was not a member."""
        ...

    async def group_send(self, group: str, message: Message) -> None:
        """Send ``message`` to every member of ``group``; full members are skipped."""
        ...

    async def flush(self) -> None:
        """Delete every queued message and group membership of this layer."""
        ...

    async def aclose(self) -> None:
        """Release the layer's connections and tasks; it cannot be used afterwards."""
        ...

    def statistics(self) -> LayerStatistics:
        """Counters and sizes of this layer in this process."""
        ...

    def send_sync(self, channel: str, message: Message) -> None:
        """Blocking ``send``, from code that is not async."""
        ...

    def group_send_sync(self, group: str, message: Message) -> None:
        """Blocking ``group_send``, from code that is not async."""
        ...

    def group_add_sync(self, group: str, channel: str) -> None:
        """Blocking ``group_add``, from code that is not async."""
        ...

    def group_discard_sync(self, group: str, channel: str) -> None:
        """Blocking ``group_discard``, from code that is not async."""
        ...

    def flush_sync(self) -> None:
        """Blocking ``flush``, from code that is not async."""
        ...

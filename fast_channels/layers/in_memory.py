"""The in-memory channel layer: one process, no network, the shared local core alone.

Use it for tests and single-process development. Messages still go through the
serializer, so a value that could not cross Redis fails here too, and the capacity,
expiry and group rules are exactly those of the Redis layers. It cannot reach another
process: use a Redis layer for HTTP workers, background workers or several machines.

Its process-local channels (``new_channel()``, with ``!``) belong to the layer object that
made them, as on the Redis layers: ``receive``, ``send`` and ``group_add`` with another
layer's such channel raise ``InvalidChannelNameError`` (nothing could ever receive it here).
"""

from __future__ import annotations

import asyncio
import functools

from fast_channels.exceptions import InvalidChannelNameError
from fast_channels.layers._local import Payload
from fast_channels.layers._memory_history import MemoryHistory
from fast_channels.layers._memory_presence import MemoryPresence
from fast_channels.layers.base import BaseChannelLayer, logger
from fast_channels.layers.history import HistoryStore
from fast_channels.layers.presence import PresenceStore

__all__ = ["InMemoryChannelLayer"]


class InMemoryChannelLayer(BaseChannelLayer):
    """A channel layer inside this process.

    ``send`` to a channel holding ``capacity`` messages raises ``ChannelFull``;
    ``group_send`` skips full members, counts them and logs a warning. Messages wait at
    most ``expiry`` seconds, memberships last ``group_expiry`` seconds unless renewed.
    Configuration is keyword-only, as on :class:`BaseChannelLayer`. Group history is a ring
    per group and presence a table in this layer object (:mod:`._memory_history`,
    :mod:`._memory_presence`).
    """

    @functools.cached_property
    def _mark(self) -> str:
        """What the names of this layer's process-local channels hold, up to the ``!``."""
        return f"inmemory.{self._random_suffix()[:8]}!"

    def _foreign(self, channel: str) -> InvalidChannelNameError:
        return InvalidChannelNameError(
            f"{channel!r} is a process-local channel ('!') that another InMemoryChannelLayer "
            "made: only the layer object whose new_channel() made it can deliver to it; use "
            "that layer (e.g. the registered one), or a named channel (no '!')"
        )

    async def _send(self, channel: str, data: bytes) -> None:
        if self._mark not in channel and "!" in channel:
            raise self._foreign(channel)
        if not self.local.put_nowait(channel, data):
            self.local.counters.rejected_full += 1
            raise self._full(channel)
        self.local.counters.sent += 1

    async def _receive(self, channel: str) -> Payload:
        if self._mark not in channel and "!" in channel:
            raise self._foreign(channel)
        return await self.local.get(channel)

    _ready_first = True  # its mailboxes hold messages for its own channels only

    def _receives_locally(self, channel: str, loop: asyncio.AbstractEventLoop) -> bool:
        return self._mark in channel or "!" not in channel

    async def _new_channel(self, prefix: str) -> str:
        return f"{prefix}{self._mark}{self._random_suffix()}"

    async def _group_add(self, group: str, channel: str) -> None:
        if self._mark not in channel and "!" in channel:
            raise self._foreign(channel)
        self.local.group_add(group, channel)

    async def _group_discard(self, group: str, channel: str) -> None:
        self.local.group_discard(group, channel)

    async def _group_send(self, group: str, data: bytes) -> None:
        self.local.counters.group_sends += 1
        _, skipped = self.local.fan_out(group, data)
        if skipped:
            logger.warning(
                "group_send to %r skipped %d member(s) whose channel is full", group, skipped
            )

    def _new_history_store(self) -> HistoryStore:
        return MemoryHistory(local=self.local, serializer=self.serializer, idle=self.group_expiry)

    def _new_presence_store(self) -> PresenceStore:
        return MemoryPresence(local=self.local)

    async def _flush(self) -> None:
        self.local.flush()

    async def _aclose(self) -> None:
        self.local.close()

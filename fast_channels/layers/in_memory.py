"""The in-memory channel layer: one process, no network, the shared local core alone.

Use it for tests and single-process development. Messages still go through the
serializer, so a value that could not cross Redis fails here too, and the capacity,
expiry and group rules are exactly those of the Redis layers. It cannot reach another
process: use a Redis layer for HTTP workers, background workers or several machines.
"""

from __future__ import annotations

import asyncio

from fast_channels.layers._local import Payload
from fast_channels.layers.base import BaseChannelLayer, logger

__all__ = ["InMemoryChannelLayer"]


class InMemoryChannelLayer(BaseChannelLayer):
    """A channel layer inside this process.

    ``send`` to a channel holding ``capacity`` messages raises ``ChannelFull``;
    ``group_send`` skips full members, counts them and logs a warning. Messages wait at
    most ``expiry`` seconds, memberships last ``group_expiry`` seconds unless renewed.
    Configuration is keyword-only, as on :class:`BaseChannelLayer`.
    """

    async def _send(self, channel: str, data: bytes) -> None:
        if not self.local.put_nowait(channel, data):
            self.local.counters.rejected_full += 1
            raise self._full(channel)
        self.local.counters.sent += 1

    async def _receive(self, channel: str) -> Payload:
        return await self.local.get(channel)

    _ready_first = True  # its mailboxes hold messages for its own channels only

    def _receives_locally(self, channel: str, loop: asyncio.AbstractEventLoop) -> bool:
        return True

    async def _new_channel(self, prefix: str) -> str:
        return f"{prefix}inmemory!{self._random_suffix()}"

    async def _group_add(self, group: str, channel: str) -> None:
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

    async def _flush(self) -> None:
        self.local.flush()

    async def _aclose(self) -> None:
        self.local.close()

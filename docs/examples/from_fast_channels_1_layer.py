"""A channel layer written against fast-channels 1.x's ``BaseChannelLayer``, unchanged.

It overrides the public async methods and uses 1.x's helpers (``get_capacity``,
``require_valid_channel_name``, ``require_valid_group_name``, ``non_local_name``). Such a
layer registers and serves consumers as it did; what it does not implement (here
``receive`` on other processes, expiry, statistics counters) it simply does not have.
"""

import asyncio
import uuid
from collections import defaultdict

from fast_channels.exceptions import ChannelFull
from fast_channels.layers import BaseChannelLayer
from fast_channels.type_defs import ChannelMessage


class QueueLayer(BaseChannelLayer):
    """One asyncio queue per channel, in this process."""

    extensions = ["groups", "flush"]

    def __init__(self, capacity: int = 100) -> None:
        super().__init__(capacity=capacity)  # 2.x: the base's options are keyword-only
        self.queues: dict[str, asyncio.Queue[ChannelMessage]] = {}
        self.groups: defaultdict[str, set[str]] = defaultdict(set)

    def _queue(self, channel: str) -> asyncio.Queue[ChannelMessage]:
        if channel not in self.queues:
            self.queues[channel] = asyncio.Queue(self.get_capacity(channel))
        return self.queues[channel]

    async def send(self, channel: str, message: ChannelMessage) -> None:
        self.require_valid_channel_name(channel)
        queue = self._queue(channel)
        if queue.full():
            raise ChannelFull(channel)
        queue.put_nowait(message)

    async def receive(self, channel: str) -> ChannelMessage:
        self.require_valid_channel_name(self.non_local_name(channel))
        return await self._queue(channel).get()

    async def new_channel(self, prefix: str = "specific.") -> str:
        return f"{prefix}queue!{uuid.uuid4().hex}"

    async def group_add(self, group: str, channel: str) -> None:
        self.require_valid_group_name(group)
        self.groups[group].add(channel)

    async def group_discard(self, group: str, channel: str) -> None:
        self.groups[group].discard(channel)

    async def group_send(self, group: str, message: ChannelMessage) -> None:
        for channel in list(self.groups[group]):
            try:
                await self.send(channel, message)
            except ChannelFull:
                continue  # a full member misses this message, as in the built-in layers

    async def flush(self) -> None:
        self.queues.clear()
        self.groups.clear()

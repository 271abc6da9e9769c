"""Joining and leaving a group costs the same however many groups a connection is in.

Measured by counting name comparisons, not time: a group name that counts how often it is
compared for equality. A bookkeeping that scans the groups joined compares each new name
with every earlier one (n * (n - 1) / 2 comparisons for n joins); one that hashes compares
a new name only on a hash collision.
"""

from __future__ import annotations

from typing import ClassVar

from fast_channels.consumer import AsyncWebsocketConsumer
from fast_channels.layers import InMemoryChannelLayer
from fast_channels.testing import WebsocketCommunicator


class CountedName(str):
    """A group name that counts its equality comparisons (it hashes like the plain str)."""

    comparisons: ClassVar[int] = 0

    def __eq__(self, other: object) -> bool:
        CountedName.comparisons += 1
        return str.__eq__(self, other)

    def __hash__(self) -> int:
        return str.__hash__(self)


JOINS = 2_000


class ManyRooms(AsyncWebsocketConsumer):
    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        names = [CountedName(f"room-{i}") for i in range(JOINS)]
        CountedName.comparisons = 0
        for name in names:
            await self.join_group(name)
        for name in names[: JOINS // 2]:
            await self.leave_group(name)
        await self.send(str(CountedName.comparisons))


async def test_join_and_leave_do_not_scan_the_groups_joined(
    memory_layer: InMemoryChannelLayer,
) -> None:
    async with WebsocketCommunicator(ManyRooms, "/") as client:
        await client.connect()
        await client.send_to(text_data="go")
        comparisons = int(await client.receive_from(timeout=20))
        assert memory_layer.statistics().groups == JOINS - JOINS // 2
    # A few per call at most (a hash collision); a scan would need about JOINS**2 / 2.
    assert comparisons <= 4 * JOINS, comparisons
    assert memory_layer.statistics().groups == 0

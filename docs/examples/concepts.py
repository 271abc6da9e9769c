"""Channels, groups and messages on a layer, without any web server.

Run it: ``python -m docs.examples.concepts``. Each ``receive`` below gets what the
comment next to it says; ``tests/docs/test_examples.py`` checks the printed lines.
"""

from __future__ import annotations

import asyncio

from fast_channels.exceptions import ChannelFull
from fast_channels.layers import InMemoryChannelLayer


async def main() -> None:
    # --8<-- [start:channels]
    layer = InMemoryChannelLayer(capacity=2)

    # A channel is a mailbox with a name. Each consumer gets one of its own.
    alice = await layer.new_channel()
    bob = await layer.new_channel()

    # send(): one message to one channel.
    await layer.send(alice, {"type": "chat.message", "text": "only for Alice"})
    print(await layer.receive(alice))  # {'type': 'chat.message', 'text': 'only for Alice'}

    # A group is a named set of channels; group_send() reaches every member.
    await layer.group_add("room", alice)
    await layer.group_add("room", bob)
    await layer.group_send("room", {"type": "chat.message", "text": "for the room"})
    print((await layer.receive(alice))["text"], "/", (await layer.receive(bob))["text"])
    # --8<-- [end:channels]

    # --8<-- [start:guarantees]
    # Capacity is per channel: a full channel refuses send() with ChannelFull...
    await layer.send(bob, {"type": "tick", "n": 1})
    await layer.send(bob, {"type": "tick", "n": 2})
    try:
        await layer.send(bob, {"type": "tick", "n": 3})
    except ChannelFull as full:
        print("refused:", type(full).__name__)

    # ...while group_send() skips full members and counts them, and goes on.
    await layer.group_send("room", {"type": "chat.message", "text": "again"})
    print("skipped:", layer.statistics().group_skipped_full)

    # FIFO per channel: Bob gets his messages in the order they were sent.
    print([(await layer.receive(bob))["n"] for _ in range(2)])  # [1, 2]
    # --8<-- [end:guarantees]
    await layer.aclose()


if __name__ == "__main__":
    asyncio.run(main())

"""Property: random interleavings of send / group_add / group_discard / group_send / receive
agree with a simple model of the layer contract.

The model: one FIFO per channel; group membership as sets; a send to a channel holding
``capacity`` messages raises ``ChannelFull``, a group_send skips full members. ``receive``
is only called when the model has a message for that channel, and must return exactly that
one; at the end, every channel must hold exactly what the model holds (checked by draining
it, then sending a marker that must come next: nothing extra, nothing lost).

The in-memory layer is checked against the full model (capacity 3). On the Redis layers,
delivery to the receiving process is asynchronous, so whether a message still counts
against capacity at a given instant depends on timing; they are checked with a capacity
that is never reached (FIFO, membership, no loss, no duplicate), the queue layer also with
capacity 3 for ``send`` alone, where the sender's view of capacity is exact. The pub/sub
layer applies a membership change to group messages already in flight (see
``run_against_model``'s ``settle``).
"""

from __future__ import annotations

import asyncio
import secrets
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fast_channels.exceptions import ChannelFull
from fast_channels.layers import InMemoryChannelLayer
from fast_channels.layers.base import BaseChannelLayer
from fast_channels.layers.redis import RedisChannelLayer, RedisPubSubChannelLayer
from tests.servers import RedisProcess

CHANNELS = 3
GROUPS = 2
SMALL = 3
NEVER_FULL = 10_000

Op = tuple[str, int, int]
"""(operation, channel index, group index)."""

_channel = st.integers(0, CHANNELS - 1)
_group = st.integers(0, GROUPS - 1)
ALL_OPS = st.lists(
    st.tuples(
        st.sampled_from(["send", "group_add", "group_discard", "group_send", "receive"]),
        _channel,
        _group,
    ),
    max_size=30,
)
SEND_OPS = st.lists(st.tuples(st.sampled_from(["send", "receive"]), _channel, _group), max_size=30)


@dataclass
class Model:
    capacity: int
    queues: list[deque[int]] = field(default_factory=lambda: [deque() for _ in range(CHANNELS)])
    members: list[set[int]] = field(default_factory=lambda: [set() for _ in range(GROUPS)])
    skipped: int = 0


async def run_against_model(
    layer: BaseChannelLayer, ops: list[Op], capacity: int, *, settle: bool = False
) -> None:
    """Run ``ops`` on ``layer`` and on the model, comparing as described above.

    ``settle``: after each ``group_send``, wait until the receiving side has handled it (a
    marker sent after it on this process's own subscription comes back). The pub/sub layer
    picks a group's local members when the message *arrives*, so a membership change made
    while a group message is in flight applies to it; settling makes that moment explicit.
    """
    model = Model(capacity)
    channels = [await layer.new_channel() for _ in range(CHANNELS)]
    probe = await layer.new_channel()
    groups = [f"g{i}" for i in range(GROUPS)]
    for number, (op, c, g) in enumerate(ops):
        message = {"type": "m", "n": number}
        if op == "send":
            if len(model.queues[c]) >= capacity:
                with pytest.raises(ChannelFull):
                    await layer.send(channels[c], message)
            else:
                await layer.send(channels[c], message)
                model.queues[c].append(number)
        elif op == "group_add":
            await layer.group_add(groups[g], channels[c])
            model.members[g].add(c)
        elif op == "group_discard":
            await layer.group_discard(groups[g], channels[c])
            model.members[g].discard(c)
        elif op == "group_send":
            await layer.group_send(groups[g], message)
            if settle:
                await layer.send(probe, {"type": "probe"})
                await asyncio.wait_for(layer.receive(probe), 2)
            for member in sorted(model.members[g]):
                if len(model.queues[member]) >= capacity:
                    model.skipped += 1
                else:
                    model.queues[member].append(number)
        elif model.queues[c]:
            got = await asyncio.wait_for(layer.receive(channels[c]), 2)
            assert got["n"] == model.queues[c].popleft(), f"after {ops[: number + 1]}"
    for c, channel in enumerate(channels):
        rest = [(await asyncio.wait_for(layer.receive(channel), 2))["n"] for _ in model.queues[c]]
        assert rest == list(model.queues[c]), f"channel {c} after {ops}"
        await layer.send(channel, {"type": "end"})
        assert (await asyncio.wait_for(layer.receive(channel), 2))["type"] == "end"
    assert layer.statistics().group_skipped_full == model.skipped


def _check(
    make: Callable[[int], BaseChannelLayer], ops: list[Op], capacity: int, *, settle: bool = False
) -> None:
    async def main() -> None:
        layer = make(capacity)
        async with layer:
            try:
                await run_against_model(layer, ops, capacity, settle=settle)
            finally:
                await layer.flush()

    asyncio.run(main())


@settings(max_examples=60, deadline=None)
@given(ops=ALL_OPS)
def test_in_memory_layer_agrees_with_the_model(ops: list[Op]) -> None:
    _check(lambda capacity: InMemoryChannelLayer(capacity=capacity), ops, SMALL)


def _queue(server: RedisProcess) -> Callable[[int], BaseChannelLayer]:
    def make(capacity: int) -> BaseChannelLayer:
        prefix = "prop" + secrets.token_hex(6)
        return RedisChannelLayer(hosts=[server.url], prefix=prefix, capacity=capacity)

    return make


REDIS = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.mark.redis
@REDIS
@given(ops=ALL_OPS)
def test_redis_queue_layer_agrees_with_the_model(redis_server: RedisProcess, ops: list[Op]) -> None:
    _check(_queue(redis_server), ops, NEVER_FULL)


@pytest.mark.redis
@REDIS
@given(ops=SEND_OPS)
def test_redis_queue_layer_capacity_agrees_with_the_model(
    redis_server: RedisProcess, ops: list[Op]
) -> None:
    _check(_queue(redis_server), ops, SMALL)


@pytest.mark.redis
@REDIS
@given(ops=ALL_OPS)
def test_redis_pubsub_layer_agrees_with_the_model(
    redis_server: RedisProcess, ops: list[Op]
) -> None:
    def make(capacity: int) -> BaseChannelLayer:
        prefix = "prop" + secrets.token_hex(6)
        return RedisPubSubChannelLayer(hosts=[redis_server.url], prefix=prefix, capacity=capacity)

    _check(make, ops, NEVER_FULL, settle=True)

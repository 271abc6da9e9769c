"""The channel layer contract: every layer kind in ``kinds.KINDS`` must pass all of it."""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

import pytest

from fast_channels.exceptions import (
    ChannelFull,
    ConfigurationError,
    InvalidChannelNameError,
    InvalidGroupNameError,
    InvalidMessageError,
    LayerClosedError,
    MessageTooLargeError,
    MessageTypeError,
    UnserializableMessageError,
)
from fast_channels.layers import BaseChannelLayer
from tests.layers.conftest import MakeLayer
from tests.layers.kinds import LayerKind

pytestmark = pytest.mark.asyncio


async def nothing_within(layer: BaseChannelLayer, channel: str, seconds: float = 0.2) -> bool:
    """True if ``channel`` yields no message within ``seconds`` (the wait is cancelled)."""
    try:
        await asyncio.wait_for(layer.receive(channel), seconds)
    except TimeoutError:
        return True
    return False


async def test_send_receive_round_trip_keeps_values(layer: BaseChannelLayer) -> None:
    channel = await layer.new_channel()
    message: dict[str, Any] = {
        "type": "chat.message",
        "text": "héllo ✓",
        "blob": b"\x00\xff",
        "nested": {"n": [1, 2.5, None, True], "k": {"deep": "x"}},
    }
    await layer.send(channel, message)
    assert await layer.receive(channel) == message


async def test_fifo_per_channel(layer: BaseChannelLayer) -> None:
    channel = await layer.new_channel()
    for i in range(50):
        await layer.send(channel, {"type": "n", "i": i})
    assert [(await layer.receive(channel))["i"] for _ in range(50)] == list(range(50))


async def test_new_channel_names_are_unique_and_valid(layer: BaseChannelLayer) -> None:
    names = {await layer.new_channel() for _ in range(100)}
    assert len(names) == 100
    for name in names:
        assert name.startswith("specific.")
        assert "!" in name
        layer.require_valid_channel_name(name)
    assert (await layer.new_channel("worker.")).startswith("worker.")


@pytest.mark.parametrize("prefix", ["bad prefix", "a!b", "x" * 51, 3])
async def test_new_channel_rejects_bad_prefix(layer: BaseChannelLayer, prefix: Any) -> None:
    with pytest.raises(InvalidChannelNameError, match="prefix"):
        await layer.new_channel(prefix)


@pytest.mark.parametrize(
    "name",
    ["", "has space", "ü", "a" * 100, "a!b!c", None, 42, b"x", "chat\n", "chat\u0661", "a!\u00e9"],
)
async def test_invalid_channel_names_are_rejected(layer: BaseChannelLayer, name: Any) -> None:
    with pytest.raises(InvalidChannelNameError, match="invalid channel name"):
        await layer.send(name, {"type": "x"})
    with pytest.raises(InvalidChannelNameError):
        await layer.receive(name)
    with pytest.raises(InvalidChannelNameError):
        await layer.group_add("g", name)


@pytest.mark.parametrize(
    "name", ["", "a!b", "has space", "a" * 100, None, 7, "room\n", "r\u00f6om"]
)
async def test_invalid_group_names_are_rejected(layer: BaseChannelLayer, name: Any) -> None:
    channel = await layer.new_channel()
    with pytest.raises(InvalidGroupNameError, match="invalid group name"):
        await layer.group_add(name, channel)
    with pytest.raises(InvalidGroupNameError):
        await layer.group_discard(name, channel)
    with pytest.raises(InvalidGroupNameError):
        await layer.group_send(name, {"type": "x"})


@pytest.mark.parametrize(
    ("message", "error", "match"),
    [
        ("not a dict", MessageTypeError, "must be a dict"),
        ([("type", "x")], MessageTypeError, "must be a dict"),
        ({"text": "no type"}, InvalidMessageError, "'type'"),
        ({"type": 3}, InvalidMessageError, "'type'"),
        ({"type": ""}, InvalidMessageError, "'type'"),
        ({"type": "x", 1: "int key"}, InvalidMessageError, "keys must be str"),
        ({"type": "x", "obj": object()}, UnserializableMessageError, "cannot be serialized"),
        ({"type": "x", "set": {1, 2}}, UnserializableMessageError, "cannot be serialized"),
    ],
)
async def test_bad_messages_get_typed_errors(
    layer: BaseChannelLayer, message: Any, error: type[Exception], match: str
) -> None:
    channel = await layer.new_channel()
    await layer.group_add("g", channel)
    with pytest.raises(error, match=match):
        await layer.send(channel, message)
    with pytest.raises(error, match=match):
        await layer.group_send("g", message)
    assert await nothing_within(layer, channel, 0.05)


@pytest.mark.parametrize(
    "kind_of_event",
    [
        "websocket.disconnect",
        "websocket.receive",
        "websocket.connect",
        "http.request",
        "lifespan.startup",
    ],
)
async def test_asgi_event_types_are_refused(layer: BaseChannelLayer, kind_of_event: str) -> None:
    """Only the server sends ASGI protocol events: a layer message must not pass for one."""
    channel = await layer.new_channel()
    await layer.group_add("g", channel)
    message = {"type": kind_of_event, "code": 1000, "text": "forged"}
    with pytest.raises(InvalidMessageError, match="ASGI protocol"):
        await layer.send(channel, message)
    with pytest.raises(InvalidMessageError, match="ASGI protocol"):
        await layer.group_send("g", message)
    await layer.send(channel, {"type": "app.websocket.disconnect"})  # a prefix of one's own
    assert await asyncio.wait_for(layer.receive(channel), 5) == {"type": "app.websocket.disconnect"}
    assert await nothing_within(layer, channel, 0.05)


async def test_receive_on_another_layers_local_channel_is_refused(
    make_layer: MakeLayer,
) -> None:
    """A ``!`` channel belongs to the layer object that made it: another one never gets its
    messages, so waiting on it there would block forever."""
    owner = await make_layer()
    other = await make_layer()
    channel = await owner.new_channel()
    with pytest.raises(InvalidChannelNameError, match="process-local"):
        await asyncio.wait_for(other.receive(channel), 5)


async def test_message_type_error_is_also_a_type_error() -> None:
    assert issubclass(MessageTypeError, TypeError)
    assert issubclass(InvalidMessageError, ValueError)


async def test_oversize_message_is_refused(make_layer: MakeLayer) -> None:
    layer = await make_layer(max_message_size=1000)
    channel = await layer.new_channel()
    await layer.send(channel, {"type": "small", "data": "x" * 900})
    with pytest.raises(MessageTooLargeError, match="max_message_size of 1000"):
        await layer.send(channel, {"type": "big", "data": "x" * 1000})
    assert (await layer.receive(channel))["type"] == "small"


async def test_capacity_is_per_channel(kind: LayerKind, make_layer: MakeLayer) -> None:
    if not kind.sender_sees_full:
        pytest.skip(f"{kind.name}: the receiver's mailbox is full, not the channel (next test)")
    if kind.shared_sets:
        pytest.skip(f"{kind.name}: one capacity per layer object (test_channels_redis_wire)")
    layer = await make_layer(capacity=3)
    channel = await layer.new_channel()
    for i in range(3):
        await layer.send(channel, {"type": "n", "i": i})
    with pytest.raises(ChannelFull, match="is full"):
        await layer.send(channel, {"type": "n", "i": 3})
    assert layer.statistics().rejected_full == 1
    # Other channels are not affected: 100 idle channels take one message each and more.
    others = [await layer.new_channel() for _ in range(100)]
    for other in others:
        await layer.send(other, {"type": "n"})
        await layer.send(other, {"type": "n"})
    # Room comes back as the receiver catches up.
    assert (await layer.receive(channel))["i"] == 0
    await layer.send(channel, {"type": "n", "i": 3})
    assert [(await layer.receive(channel))["i"] for _ in range(3)] == [1, 2, 3]


@pytest.mark.parametrize(
    ("policy", "kept"),
    [("drop_oldest", [1, 2, 3]), ("drop_newest", [0, 1, 2]), ("reject", [0, 1, 2])],
)
async def test_receiver_capacity_follows_overflow_policy(
    kind: LayerKind, make_layer: MakeLayer, policy: str, kept: list[int]
) -> None:
    """Where ``send`` cannot see a full channel (pub/sub: the receiver is in another
    process), the receiving mailbox holds ``capacity`` messages and its ``overflow=`` policy
    decides; every drop is counted, and other channels are not affected."""
    if kind.sender_sees_full:
        pytest.skip(f"{kind.name}: send raises ChannelFull (test_capacity_is_per_channel)")
    layer = await make_layer(capacity=3, overflow=policy)
    channel, other = await layer.new_channel(), await layer.new_channel()
    for i in range(4):
        await layer.send(channel, {"type": "n", "i": i})
    await layer.send(other, {"type": "n", "i": 9})
    assert (await layer.receive(other))["i"] == 9  # same inbox: everything before is in
    assert [(await layer.receive(channel))["i"] for _ in range(3)] == kept
    assert layer.statistics().dropped_overflow == 1
    assert await nothing_within(layer, channel, 0.05)


async def test_channel_capacity_patterns(kind: LayerKind, make_layer: MakeLayer) -> None:
    layer = await make_layer(capacity=2, channel_capacity={"big*": 5, re.compile(r"^tiny\."): 1})
    assert layer.capacity_for("big.one") == 5
    assert layer.capacity_for("tiny.x") == 1
    assert layer.capacity_for("other") == 2
    tiny = await layer.new_channel("tiny.")
    await layer.send(tiny, {"type": "n"})
    if kind.sender_sees_full:
        with pytest.raises(ChannelFull):
            await layer.send(tiny, {"type": "n"})
    else:
        barrier = await layer.new_channel("tiny.")
        await layer.send(tiny, {"type": "n"})
        await layer.send(barrier, {"type": "n"})
        await layer.receive(barrier)
        assert layer.statistics().dropped_overflow == 1


async def test_group_send_reaches_every_member(layer: BaseChannelLayer) -> None:
    members = [await layer.new_channel() for _ in range(5)]
    outsider = await layer.new_channel()
    for channel in members:
        await layer.group_add("room", channel)
    await layer.group_add("room", members[0])  # adding twice is harmless
    await layer.group_send("room", {"type": "hello", "n": 1})
    for channel in members:
        assert await layer.receive(channel) == {"type": "hello", "n": 1}
    assert await nothing_within(layer, members[0], 0.1)
    assert await nothing_within(layer, outsider, 0.1)


async def test_group_discard_stops_delivery(layer: BaseChannelLayer) -> None:
    a, b = await layer.new_channel(), await layer.new_channel()
    await layer.group_add("room", a)
    await layer.group_add("room", b)
    await layer.group_discard("room", a)
    await layer.group_discard("room", a)  # discarding twice is harmless
    await layer.group_discard("never-joined", a)
    await layer.group_send("room", {"type": "x"})
    assert await layer.receive(b) == {"type": "x"}
    assert await nothing_within(layer, a)


async def test_group_send_to_empty_group_is_a_no_op(layer: BaseChannelLayer) -> None:
    await layer.group_send("nobody-here", {"type": "x"})


async def test_group_send_skips_full_members_counts_and_warns(
    kind: LayerKind, make_layer: MakeLayer, caplog: pytest.LogCaptureFixture
) -> None:
    # Pub/sub kinds: a receiver-side mailbox that refuses (REJECT) is what "full" means.
    layer = await make_layer(
        capacity=1, **({} if kind.sender_sees_full else {"overflow": "reject"})
    )
    full, free = await layer.new_channel(), await layer.new_channel()
    if kind.shared_sets:  # one capacity for the layer's own channels: make one of them full
        full = "full.channel"
    await layer.group_add("room", full)
    await layer.group_add("room", free)
    await layer.send(full, {"type": "first"})
    with caplog.at_level(logging.WARNING, logger="fast_channels"):
        await layer.group_send("room", {"type": "broadcast"})
        await asyncio.sleep(0.05)
    assert await layer.receive(free) == {"type": "broadcast"}
    assert await layer.receive(full) == {"type": "first"}
    assert layer.statistics().group_skipped_full >= 1
    assert any("full" in r.getMessage() for r in caplog.records)


async def test_received_messages_are_independent_copies(layer: BaseChannelLayer) -> None:
    a, b = await layer.new_channel(), await layer.new_channel()
    await layer.group_add("room", a)
    await layer.group_add("room", b)
    sent: dict[str, Any] = {"type": "x", "items": [1]}
    await layer.group_send("room", sent)
    got_a = await layer.receive(a)
    got_a["type"] = "changed"
    sent["items"].append(2)
    assert await layer.receive(b) == {"type": "x", "items": [1]}


async def test_expired_messages_are_dropped(make_layer: MakeLayer) -> None:
    layer = await make_layer(expiry=1)
    channel = await layer.new_channel()
    await layer.send(channel, {"type": "old"})
    await asyncio.sleep(1.3)
    await layer.send(channel, {"type": "new"})
    assert await layer.receive(channel) == {"type": "new"}


async def test_group_memberships_expire(make_layer: MakeLayer) -> None:
    layer = await make_layer(group_expiry=1)
    channel = await layer.new_channel()
    await layer.group_add("room", channel)
    await asyncio.sleep(1.3)
    await layer.group_send("room", {"type": "late"})
    assert await nothing_within(layer, channel, 0.2)


async def test_cancelled_receive_loses_no_message(layer: BaseChannelLayer) -> None:
    channel = await layer.new_channel()
    for _ in range(20):
        waiter = asyncio.create_task(layer.receive(channel))
        await asyncio.sleep(0)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
    await layer.send(channel, {"type": "kept"})
    # A receive cancelled right as the message arrives must not swallow it either.
    waiter = asyncio.create_task(layer.receive(channel))
    await layer.send(channel, {"type": "kept-2"})
    waiter.cancel()
    results = await asyncio.gather(waiter, return_exceptions=True)
    got = [r["type"] for r in results if isinstance(r, dict)]
    while len(got) < 2:
        got.append((await asyncio.wait_for(layer.receive(channel), 5))["type"])
    assert got == ["kept", "kept-2"]


async def test_concurrent_receivers_share_a_channel_without_duplicates(
    layer: BaseChannelLayer,
) -> None:
    channel = await layer.new_channel()
    got: list[int] = []
    all_in = asyncio.Event()

    async def worker() -> None:
        while True:
            got.append((await layer.receive(channel))["i"])
            if len(got) == 40:
                all_in.set()

    workers = [asyncio.create_task(worker()) for _ in range(4)]
    for i in range(40):
        await layer.send(channel, {"type": "job", "i": i})
    await asyncio.wait_for(all_in.wait(), 10)
    for w in workers:
        w.cancel()
    await asyncio.gather(*workers, return_exceptions=True)
    assert sorted(got) == list(range(40))


async def test_flush_deletes_messages_and_groups(layer: BaseChannelLayer) -> None:
    channel = await layer.new_channel()
    await layer.group_add("room", channel)
    await layer.send(channel, {"type": "gone"})
    await layer.flush()
    await layer.group_send("room", {"type": "gone-too"})
    await layer.send(channel, {"type": "after"})
    assert await layer.receive(channel) == {"type": "after"}


async def test_closed_layer_refuses_work_and_wakes_receivers(layer: BaseChannelLayer) -> None:
    channel = await layer.new_channel()
    waiter = asyncio.create_task(layer.receive(channel))
    await asyncio.sleep(0.05)
    await layer.aclose()
    await layer.aclose()  # idempotent
    with pytest.raises(LayerClosedError):
        await asyncio.wait_for(waiter, 5)
    with pytest.raises(LayerClosedError, match="closed"):
        await layer.send(channel, {"type": "x"})
    with pytest.raises(LayerClosedError):
        await layer.receive(channel)


async def test_statistics_count_traffic(layer: BaseChannelLayer) -> None:
    channel = await layer.new_channel()
    await layer.group_add("room", channel)
    await layer.send(channel, {"type": "a"})
    await layer.group_send("room", {"type": "b"})
    await layer.receive(channel)
    await layer.receive(channel)
    stats = layer.statistics()
    assert stats.sent >= 1
    assert stats.group_sends == 1
    assert stats.received == 2


async def test_encrypted_round_trip_and_key_rotation(
    kind: LayerKind, make_layer: MakeLayer
) -> None:
    if not kind.shared:
        pytest.skip("needs two layer objects on one backend (see test_serialization)")
    old = await make_layer(symmetric_encryption_keys=["old-key"])
    rotated = await make_layer(symmetric_encryption_keys=["new-key", "old-key"])
    channel = await rotated.new_channel()
    await old.send(channel, {"type": "secret", "v": 1})
    await rotated.send(channel, {"type": "secret", "v": 2})
    assert [(await rotated.receive(channel))["v"] for _ in range(2)] == [1, 2]


async def test_undecryptable_message_is_dropped_and_logged(
    kind: LayerKind, make_layer: MakeLayer, caplog: pytest.LogCaptureFixture
) -> None:
    if not kind.shared:
        pytest.skip("needs two layer objects on one backend (see test_serialization)")
    receiver = await make_layer(symmetric_encryption_keys=["right"])
    stranger = await make_layer(symmetric_encryption_keys=["wrong"])
    channel = await receiver.new_channel()
    await stranger.send(channel, {"type": "unreadable"})
    await receiver.send(channel, {"type": "readable"})
    with caplog.at_level(logging.ERROR, logger="fast_channels"):
        assert await receiver.receive(channel) == {"type": "readable"}
    assert receiver.statistics().undecodable == 1
    named = channel.split("!")[0] if kind.shared_sets else channel
    assert any(named in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"capacity": 0}, "capacity"),
        ({"capacity": 1.5}, "capacity"),
        ({"expiry": -1}, "expiry"),
        ({"group_expiry": "1"}, "group_expiry"),
        ({"channel_capacity": {"a*": 0}}, "channel_capacity"),
        ({"channel_capacity": [("a", 1)]}, "channel_capacity"),
        ({"symmetric_encryption_keys": "one-key"}, "list of keys"),
        ({"symmetric_encryption_keys": []}, "at least one key"),
        ({"max_message_size": 0}, "max_message_size"),
    ],
)
async def test_bad_configuration_is_a_configuration_error(
    kind: LayerKind, request: pytest.FixtureRequest, options: dict[str, Any], match: str
) -> None:
    with pytest.raises(ConfigurationError, match=match):
        async with kind.make(request, **options):
            pass


async def test_unknown_option_is_a_type_error(
    kind: LayerKind, request: pytest.FixtureRequest
) -> None:
    with pytest.raises(TypeError, match="no_such_option"):
        async with kind.make(request, no_such_option=1):
            pass


async def test_message_to_named_channel_waits_for_late_receiver(
    kind: LayerKind, layer: BaseChannelLayer
) -> None:
    if not kind.persistent:
        pytest.skip(f"{kind.name} does not keep messages for absent receivers")
    await layer.send("thumbnails", {"type": "job", "id": 1})
    assert await asyncio.wait_for(layer.receive("thumbnails"), 5) == {"type": "job", "id": 1}

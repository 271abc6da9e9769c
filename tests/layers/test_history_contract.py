"""Group history with recovery: every layer kind in ``kinds.KINDS`` keeps this contract."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from fast_channels.exceptions import (
    ConfigurationError,
    HistoryNotEnabledError,
    InvalidMessageError,
    InvalidPositionError,
)
from fast_channels.layers import (
    BaseChannelLayer,
    GroupOptions,
    InMemoryChannelLayer,
    Position,
    Recovered,
    Unrecoverable,
)
from tests.layers.conftest import MakeLayer
from tests.layers.kinds import LayerKind
from tests.layers.test_contract import nothing_within

ROOMS = {"room.*": GroupOptions(history_size=5)}
NOT_A_POSITION: Any = "abc:1"


@pytest.fixture(autouse=True)
def _keeps_history_and_presence(request: pytest.FixtureRequest) -> None:
    if "kind" in request.fixturenames:  # a test on layers of every kind
        kind: LayerKind = request.getfixturevalue("kind")
        if not kind.history_and_presence:
            pytest.skip(f"{kind.name}: its wire format refuses history and presence")


async def kept_layer(make_layer: MakeLayer, **options: Any) -> BaseChannelLayer:
    return await make_layer(group_options=options.pop("group_options", ROOMS), **options)


async def receive(layer: BaseChannelLayer, channel: str) -> dict[str, Any]:
    return await asyncio.wait_for(layer.receive(channel), 5)


def offsets(messages: tuple[dict[str, Any], ...] | list[dict[str, Any]]) -> list[int]:
    return [m["position"]["offset"] for m in messages]


def recovered(result: Recovered | Unrecoverable) -> Recovered:
    assert isinstance(result, Recovered), result
    return result


async def test_kept_messages_carry_increasing_offsets_of_one_epoch(make_layer: MakeLayer) -> None:
    layer = await kept_layer(make_layer)
    channel = await layer.new_channel()
    start = recovered(await layer.group_recover("room.1", channel))
    assert start.position.offset == 0
    assert start.messages == ()
    for i in range(3):
        await layer.group_send("room.1", {"type": "chat", "i": i})
    got = [await receive(layer, channel) for _ in range(3)]
    assert [m["i"] for m in got] == [0, 1, 2]
    assert offsets(got) == [1, 2, 3]
    assert {m["position"]["epoch"] for m in got} == {start.position.epoch}
    assert {m["position"]["group"] for m in got} == {"room.1"}
    assert Position.of(got[-1]) == Position(start.position.epoch, 3)
    assert await layer.group_position("room.1") == Position(start.position.epoch, 3)


async def test_groups_without_history_are_unchanged(make_layer: MakeLayer) -> None:
    layer = await kept_layer(make_layer)
    channel = await layer.new_channel()
    await layer.group_add("lobby", channel)
    await layer.group_send("lobby", {"type": "chat", "text": "hi"})
    assert await receive(layer, channel) == {"type": "chat", "text": "hi"}
    with pytest.raises(HistoryNotEnabledError, match="'lobby' keeps no history"):
        await layer.group_recover("lobby", channel)
    with pytest.raises(HistoryNotEnabledError):
        await layer.group_position("lobby")


async def test_recovery_returns_what_was_missed_in_order(make_layer: MakeLayer) -> None:
    layer = await kept_layer(make_layer)
    away = await layer.new_channel()
    first = recovered(await layer.group_recover("room.1", away))
    await layer.group_send("room.1", {"type": "chat", "i": 1})
    seen = await receive(layer, away)
    await layer.group_discard("room.1", away)  # the client goes away
    for i in range(2, 5):
        await layer.group_send("room.1", {"type": "chat", "i": i})
    back = await layer.new_channel()
    result = recovered(await layer.group_recover("room.1", back, Position.parse(seen["position"])))
    assert [m["i"] for m in result.messages] == [2, 3, 4]
    assert offsets(result.messages) == [2, 3, 4]
    assert result.position == Position(first.position.epoch, 4)
    await layer.group_send("room.1", {"type": "chat", "i": 5})
    live = await receive(layer, back)
    assert (live["i"], live["position"]["offset"]) == (5, 5)
    assert not result.covers(live)


async def test_no_gap_and_no_duplicate_at_the_seam(make_layer: MakeLayer) -> None:
    """A live message sent between joining and reading the history arrives twice: in the
    recovery and live; ``covers`` names the live copy, and nothing is missing."""
    layer = await kept_layer(make_layer)
    channel = await layer.new_channel()
    base = recovered(await layer.group_recover("room.1", channel))
    await layer.group_send("room.1", {"type": "chat", "i": 1})
    assert (await receive(layer, channel))["i"] == 1
    await layer.group_discard("room.1", channel)
    await layer.group_send("room.1", {"type": "chat", "i": 2})  # missed
    await layer.group_add("room.1", channel)  # joined again: the next one is live too
    await layer.group_send("room.1", {"type": "chat", "i": 3})
    result = recovered(
        await layer.group_recover("room.1", channel, Position(base.position.epoch, 1))
    )
    await layer.group_send("room.1", {"type": "chat", "i": 4})
    delivered = [m["i"] for m in result.messages]
    while delivered[-1] != 4:  # pub/sub may still bring 2 (sent as it left): covered too
        message = await receive(layer, channel)
        if not result.covers(message):
            delivered.append(message["i"])
    assert delivered == [2, 3, 4]
    assert await nothing_within(layer, channel, 0.1)


async def test_history_bounded_by_size_says_it_cannot_recover(make_layer: MakeLayer) -> None:
    layer = await kept_layer(make_layer)
    channel = await layer.new_channel()
    start = recovered(await layer.group_recover("room.1", channel))
    await layer.group_discard("room.1", channel)
    for i in range(7):  # history_size is 5: offsets 1 and 2 are gone
        await layer.group_send("room.1", {"type": "chat", "i": i})
    epoch = start.position.epoch
    gone = await layer.group_recover("room.1", channel, Position(epoch, 1))
    assert isinstance(gone, Unrecoverable)
    assert (gone.reason, gone.position, gone.recovered) == ("trimmed", Position(epoch, 7), False)
    kept = recovered(await layer.group_history("room.1", Position(epoch, 2)))
    assert offsets(kept.messages) == [3, 4, 5, 6, 7]
    everything = recovered(await layer.group_history("room.1"))
    assert offsets(everything.messages) == [3, 4, 5, 6, 7]


async def test_history_bounded_by_age(make_layer: MakeLayer) -> None:
    options = {"room.*": GroupOptions(history_size=100, history_ttl=0.3)}
    layer = await kept_layer(make_layer, group_options=options)
    await layer.group_send("room.1", {"type": "chat", "i": 1})
    epoch = (await layer.group_position("room.1")).epoch
    assert offsets(recovered(await layer.group_history("room.1", Position(epoch, 0))).messages) == [
        1
    ]
    deadline = time.monotonic() + 10
    while isinstance(await layer.group_history("room.1", Position(epoch, 0)), Recovered):
        assert time.monotonic() < deadline, "a message outlived history_ttl"
        await asyncio.sleep(0.05)
    result = await layer.group_history("room.1", Position(epoch, 0))
    assert isinstance(result, Unrecoverable)
    assert result.reason == "trimmed"
    # Nothing was missed after the last message: that is still recoverable, with nothing.
    assert recovered(await layer.group_history("room.1", Position(epoch, 1))).messages == ()


async def test_another_epoch_is_not_replayed(make_layer: MakeLayer) -> None:
    layer = await kept_layer(make_layer)
    await layer.group_send("room.1", {"type": "chat", "i": 1})
    current = await layer.group_position("room.1")
    other = Position("0ther" + current.epoch[5:], 0)
    result = await layer.group_history("room.1", other)
    assert isinstance(result, Unrecoverable)
    assert (result.reason, result.position) == ("epoch", current)


async def test_a_position_past_the_end_is_not_recoverable(make_layer: MakeLayer) -> None:
    layer = await kept_layer(make_layer)
    await layer.group_send("room.1", {"type": "chat"})
    current = await layer.group_position("room.1")
    result = await layer.group_history("room.1", Position(current.epoch, 9))
    assert isinstance(result, Unrecoverable)
    assert result.reason == "ahead"


async def test_flush_begins_a_new_epoch(make_layer: MakeLayer) -> None:
    layer = await kept_layer(make_layer)
    await layer.group_send("room.1", {"type": "chat"})
    before = await layer.group_position("room.1")
    await layer.flush()
    after = await layer.group_position("room.1")
    assert after.offset == 0
    assert after.epoch != before.epoch
    result = await layer.group_history("room.1", before)
    assert isinstance(result, Unrecoverable)
    assert result.reason == "epoch"


async def test_a_kept_message_may_not_bring_its_own_position(make_layer: MakeLayer) -> None:
    layer = await kept_layer(make_layer)
    with pytest.raises(InvalidMessageError, match="'position'"):
        await layer.group_send("room.1", {"type": "chat", "position": 3})
    await layer.group_send("lobby", {"type": "chat", "position": 3})  # no history: allowed


async def test_kept_messages_are_encrypted_like_others(make_layer: MakeLayer) -> None:
    layer = await kept_layer(make_layer, symmetric_encryption_keys=["k1"])
    channel = await layer.new_channel()
    await layer.group_recover("room.1", channel)
    await layer.group_send("room.1", {"type": "chat", "text": "secret"})
    got = await receive(layer, channel)
    assert (got["text"], got["position"]["offset"]) == ("secret", 1)
    epoch = got["position"]["epoch"]
    kept = recovered(await layer.group_history("room.1", Position(epoch, 0)))
    assert [m["text"] for m in kept.messages] == ["secret"]


async def test_every_process_sees_one_history(kind: LayerKind, make_layer: MakeLayer) -> None:
    if not kind.shared:
        pytest.skip(f"{kind.name}: one layer object is one process")
    one = await kept_layer(make_layer)
    two = await kept_layer(make_layer)
    channel = await two.new_channel()
    await two.group_recover("room.1", channel)
    await one.group_send("room.1", {"type": "chat", "i": 1})
    await two.group_send("room.1", {"type": "chat", "i": 2})
    got = [await receive(two, channel) for _ in range(2)]
    assert [(m["i"], m["position"]["offset"]) for m in got] == [(1, 1), (2, 2)]
    epoch = got[0]["position"]["epoch"]
    assert await one.group_position("room.1") == Position(epoch, 2)
    assert offsets(recovered(await one.group_history("room.1", Position(epoch, 0))).messages) == [
        1,
        2,
    ]


async def test_many_senders_keep_offset_order(kind: LayerKind, make_layer: MakeLayer) -> None:
    if kind.name == "redis_queue_sharded":
        pytest.skip("several hosts: concurrent senders may interleave (docs: Delivery order)")
    layer = await kept_layer(make_layer, group_options={"room.*": GroupOptions(history_size=1000)})
    channel = await layer.new_channel()
    await layer.group_recover("room.1", channel)

    async def sender(n: int) -> None:
        for i in range(20):
            await layer.group_send("room.1", {"type": "chat", "n": n, "i": i})

    await asyncio.gather(*(sender(n) for n in range(5)))
    got = [await receive(layer, channel) for _ in range(100)]
    assert offsets(got) == list(range(1, 101))
    for n in range(5):
        assert [m["i"] for m in got if m["n"] == n] == list(range(20))
    epoch = got[0]["position"]["epoch"]
    kept = recovered(await layer.group_history("room.1", Position(epoch, 0)))
    assert [(m["n"], m["i"]) for m in kept.messages] == [(m["n"], m["i"]) for m in got]


async def test_bad_arguments_get_typed_errors(
    layer: BaseChannelLayer, make_layer: MakeLayer
) -> None:
    with pytest.raises(HistoryNotEnabledError):
        await layer.group_history("room.1")
    layer = await kept_layer(make_layer)
    with pytest.raises(InvalidPositionError):
        await layer.group_history("room.1", NOT_A_POSITION)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("e1:0", Position("e1", 0)),
        ("abc123:42", Position("abc123", 42)),
        ({"epoch": "e", "offset": 7}, Position("e", 7)),
        ({"group": "g", "epoch": "e", "offset": 7}, Position("e", 7)),
        (Position("e", 1), Position("e", 1)),
    ],
)
def test_positions_are_read_back(value: object, expected: Position) -> None:
    assert Position.parse(value) == expected
    assert Position.parse(str(expected)) == expected
    assert Position.parse(expected.as_dict()) == expected


@pytest.mark.parametrize(
    "value",
    [
        "",
        "e",
        "e:",
        ":1",
        "e:-1",
        "e:1.5",
        "e:x",
        "é:1",
        "a b:1",
        "e" * 65 + ":1",
        3,
        None,
        {"epoch": "e"},
        {"epoch": "e", "offset": True},
        {"epoch": 1, "offset": 1},
        ["e", 1],
    ],
)
def test_bad_positions_are_refused(value: object) -> None:
    with pytest.raises(InvalidPositionError):
        Position.parse(value)


def test_group_options_are_checked() -> None:
    bad_values: list[dict[str, Any]] = [
        {"history_size": -1},
        {"history_size": True},
        {"history_ttl": 0},
        {"history_ttl": "1"},
        {"presence_events": 1},
    ]
    for bad in bad_values:
        with pytest.raises(ConfigurationError):
            GroupOptions(**bad)
    bad_options: list[Any] = [{"x": 3}, {3: GroupOptions()}, [("x", GroupOptions())]]
    for options, match in zip(
        bad_options, ["GroupOptions", "glob strings", "mapping"], strict=True
    ):
        with pytest.raises(ConfigurationError, match=match):
            InMemoryChannelLayer(group_options=options)
    with pytest.raises(ConfigurationError, match="presence_lease"):
        InMemoryChannelLayer(presence_lease=0)


async def test_each_member_gets_its_own_copy_of_a_kept_message(make_layer: MakeLayer) -> None:
    layer = await kept_layer(make_layer)
    one, two = await layer.new_channel(), await layer.new_channel()
    await layer.group_add("room.1", one)
    await layer.group_add("room.1", two)
    await layer.group_send("room.1", {"type": "chat", "tags": ["a"], "n": 1})
    await layer.group_send("room.1", {"type": "chat", "n": 2})
    for expected in ({"tags": ["a"], "n": 1}, {"n": 2}):
        first, second = await receive(layer, one), await receive(layer, two)
        with pytest.raises(TypeError, match="read-only"):
            first["position"]["offset"] = -1
        first.get("tags", []).append("changed")
        first["position"] = None
        assert second["position"]["offset"] == expected["n"]
        assert {k: second[k] for k in expected} == expected

"""Group presence: every layer kind in ``kinds.KINDS`` keeps this contract.

Leases (a process that died, a live one that stalled, Redis losing the data) are tested on
the Redis layers with real processes in ``tests/layers/redis/test_presence_leases.py``.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from fast_channels.exceptions import InvalidChannelNameError, PresenceInfoError
from fast_channels.layers import BaseChannelLayer, GroupOptions, Presence
from tests.layers.conftest import MakeLayer
from tests.layers.kinds import LayerKind
from tests.layers.test_contract import nothing_within

EVENTS = {"room.*": GroupOptions(presence_events=True)}


@pytest.fixture(autouse=True)
def _keeps_history_and_presence(request: pytest.FixtureRequest) -> None:
    if "kind" in request.fixturenames:  # a test on layers of every kind
        kind: LayerKind = request.getfixturevalue("kind")
        if not kind.history_and_presence:
            pytest.skip(f"{kind.name}: its wire format refuses history and presence")


async def receive(layer: BaseChannelLayer, channel: str) -> dict[str, Any]:
    return await asyncio.wait_for(layer.receive(channel), 5)


async def test_presence_lists_members_with_their_info(layer: BaseChannelLayer) -> None:
    ada, ada_tab, bob = [await layer.new_channel() for _ in range(3)]
    assert (await layer.presence("room.1")).count == 0
    await layer.presence_join("room.1", ada, {"user": "ada", "name": "Ada"})
    await layer.presence_join("room.1", ada_tab, {"user": "ada", "name": "Ada"})
    await layer.presence_join("room.1", bob, {"user": "bob"})
    present = await layer.presence("room.1")
    assert isinstance(present, Presence)
    assert present.group == "room.1"
    assert dict(present) == {
        ada: {"user": "ada", "name": "Ada"},
        ada_tab: {"user": "ada", "name": "Ada"},
        bob: {"user": "bob"},
    }
    assert (present.count, len(present)) == (3, 3)
    assert sorted(str(user) for user in present.users()) == ["ada", "bob"]
    assert present.users("name") == ["Ada"]
    assert (await layer.presence("room.2")).count == 0


async def test_present_members_receive_group_messages(layer: BaseChannelLayer) -> None:
    channel = await layer.new_channel()
    await layer.presence_join("room.1", channel)
    await layer.group_send("room.1", {"type": "chat", "text": "hi"})
    assert await receive(layer, channel) == {"type": "chat", "text": "hi"}
    assert (await layer.presence("room.1"))[channel] == {}


async def test_joining_again_replaces_the_info(layer: BaseChannelLayer) -> None:
    channel = await layer.new_channel()
    await layer.presence_join("room.1", channel, {"status": "away"})
    await layer.presence_join("room.1", channel, {"status": "here"})
    assert dict(await layer.presence("room.1")) == {channel: {"status": "here"}}


async def test_group_discard_ends_presence(layer: BaseChannelLayer) -> None:
    stays, leaves = await layer.new_channel(), await layer.new_channel()
    await layer.presence_join("room.1", stays, {"user": "ada"})
    await layer.presence_join("room.1", leaves, {"user": "bob"})
    await layer.group_discard("room.1", leaves)
    assert list(await layer.presence("room.1")) == [stays]
    await layer.group_add("room.1", leaves)  # a plain member again: not present
    assert list(await layer.presence("room.1")) == [stays]


async def test_flush_ends_presence(layer: BaseChannelLayer) -> None:
    channel = await layer.new_channel()
    await layer.presence_join("room.1", channel, {"user": "ada"})
    await layer.flush()
    assert (await layer.presence("room.1")).count == 0


async def test_events_reach_members_when_the_group_asks(make_layer: MakeLayer) -> None:
    layer = await make_layer(group_options=EVENTS)
    ada, bob = await layer.new_channel(), await layer.new_channel()
    await layer.presence_join("room.1", ada, {"user": "ada"})
    assert await receive(layer, ada) == {
        "type": "presence.joined",
        "group": "room.1",
        "channel": ada,
        "info": {"user": "ada"},
    }
    await layer.presence_join("room.1", bob, {"user": "bob"})
    for channel in (ada, bob):
        joined = await receive(layer, channel)
        assert (joined["type"], joined["channel"], joined["info"]) == (
            "presence.joined",
            bob,
            {"user": "bob"},
        )
    await layer.presence_join("room.1", bob, {"user": "bob"})  # a renewal: no event
    await layer.group_discard("room.1", bob)
    left = await receive(layer, ada)
    assert (left["type"], left["channel"], left["info"]) == ("presence.left", bob, {"user": "bob"})
    assert await nothing_within(layer, ada, 0.1)
    assert await nothing_within(layer, bob, 0.1)


async def test_no_events_unless_the_group_asks(make_layer: MakeLayer) -> None:
    layer = await make_layer(group_options={"room.*": GroupOptions(history_size=5)})
    ada, bob = await layer.new_channel(), await layer.new_channel()
    await layer.presence_join("room.1", ada, {"user": "ada"})
    await layer.presence_join("room.1", bob, {"user": "bob"})
    await layer.group_discard("room.1", bob)
    assert await nothing_within(layer, ada, 0.1)


async def test_events_are_not_kept_in_history(make_layer: MakeLayer) -> None:
    options = {"room.*": GroupOptions(history_size=5, presence_events=True)}
    layer = await make_layer(group_options=options)
    ada = await layer.new_channel()
    await layer.presence_join("room.1", ada, {"user": "ada"})
    event = await receive(layer, ada)
    assert event["type"] == "presence.joined"
    assert "position" not in event
    assert (await layer.group_position("room.1")).offset == 0


async def test_every_process_sees_one_presence(kind: LayerKind, make_layer: MakeLayer) -> None:
    if not kind.shared:
        pytest.skip(f"{kind.name}: one layer object is one process")
    one = await make_layer(group_options=EVENTS)
    two = await make_layer(group_options=EVENTS)
    ada, bob = await one.new_channel(), await two.new_channel()
    await one.presence_join("room.1", ada, {"user": "ada"})
    await two.presence_join("room.1", bob, {"user": "bob"})
    for layer in (one, two):
        assert sorted(str(u) for u in (await layer.presence("room.1")).users()) == ["ada", "bob"]
    assert (await receive(one, ada))["channel"] == ada
    assert (await receive(one, ada))["channel"] == bob
    await two.group_discard("room.1", bob)
    assert (await receive(one, ada))["type"] == "presence.left"
    assert list(await one.presence("room.1")) == [ada]


@pytest.mark.parametrize(
    ("info", "match"),
    [
        ("ada", "must be a dict"),
        ([("user", "ada")], "must be a dict"),
        ({1: "x"}, "keys must be str"),
        ({"user": object()}, "cannot be encoded"),
        ({"bio": "x" * 5000}, "over 4096"),
    ],
)
async def test_bad_info_is_refused(layer: BaseChannelLayer, info: Any, match: str) -> None:
    channel = await layer.new_channel()
    with pytest.raises(PresenceInfoError, match=match):
        await layer.presence_join("room.1", channel, info)
    assert (await layer.presence("room.1")).count == 0


async def test_bad_names_are_refused(layer: BaseChannelLayer) -> None:
    with pytest.raises(InvalidChannelNameError):
        await layer.presence_join("room.1", "bad name")
    with pytest.raises(ValueError, match="group name"):
        await layer.presence("bad group")

"""Edges of history and presence on the in-memory layer: bad frames, idle groups, full
members, lapsed memberships, undecodable info, a renewal that fails and its task's end."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from fast_channels.exceptions import LayerConnectionError
from fast_channels.layers import GroupOptions, InMemoryChannelLayer, Position, Recovered
from fast_channels.layers._memory_history import MemoryHistory
from fast_channels.layers._memory_presence import MemoryPresence
from fast_channels.layers.history import MARK, HistoryStore, frame, split_frame
from fast_channels.layers.presence import Change, Presence, PresenceStore

KEPT = {"room.*": GroupOptions(history_size=10, presence_events=True)}


class Layer(InMemoryChannelLayer):
    """The in-memory layer, with stores the test gives it and its renewal task in reach."""

    presence_store: PresenceStore | None = None
    history_store: HistoryStore | None = None

    def _new_presence_store(self) -> PresenceStore:
        return self.presence_store or super()._new_presence_store()

    def _new_history_store(self) -> HistoryStore:
        return self.history_store or super()._new_history_store()

    @property
    def renewing(self) -> asyncio.Task[None] | None:
        return self._heartbeat

    def held_presence(self) -> PresenceStore:
        return self._presence_store()


def kept(**options: Any) -> Layer:
    return Layer(group_options=KEPT, **options)


@pytest.mark.parametrize(
    "payload",
    [
        MARK + b"no end",
        MARK + b"e:x:g" + MARK + b"\x80",
        MARK + b"e:1" + MARK,
        MARK + b"\xff" + MARK,
    ],
)
def test_broken_frames_are_not_frames(payload: bytes) -> None:
    assert split_frame(payload) is None


async def test_a_broken_kept_message_is_dropped_and_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    layer = kept()
    channel = await layer.new_channel()
    inner = layer.serializer.dumps({"type": "chat"})
    for bad in (MARK + b"torn", frame("room.1", "e", 1, b"\xc1not msgpack")):
        layer.local.put_nowait(channel, bad)
    layer.local.put_nowait(channel, frame("room.1", "e", 2, inner))
    with caplog.at_level(logging.ERROR):
        got = await layer.receive(channel)
    assert got == {"type": "chat", "position": {"group": "room.1", "epoch": "e", "offset": 2}}
    assert layer.statistics().undecodable == 2
    await layer.aclose()


async def test_an_undecodable_kept_entry_is_left_out_of_a_recovery() -> None:
    layer = kept(symmetric_encryption_keys=["old"])
    await layer.group_send("room.1", {"type": "chat", "i": 1})
    other = kept(symmetric_encryption_keys=["new"])
    other.history_store = MemoryHistory(local=layer.local, serializer=layer.serializer, idle=60)
    await other.history_store.send("room.1", layer.encode({"type": "x"}), KEPT["room.*"])
    result = await other.group_history("room.1")
    assert isinstance(result, Recovered)
    assert (result.messages, result.position.offset) == ((), 1)  # under "new", "old" fails
    assert other.statistics().undecodable == 1
    await layer.aclose()
    await other.aclose()


def test_positions_of_messages() -> None:
    assert Position.of({"type": "x"}) is None
    assert Position.of({"type": "x", "position": {"epoch": "", "offset": 1}}) is None
    assert Position.of({"type": "x", "position": {"epoch": "e", "offset": 1}}) == Position("e", 1)
    result = Recovered("room.1", Position("e", 3))
    assert not result.covers({"type": "x"})
    assert not result.covers({"type": "x", "position": "e:1"})
    assert result.covers({"type": "x", "position": {"group": "room.1", "epoch": "e", "offset": 3}})
    assert not result.covers(
        {"type": "x", "position": {"group": "room.1", "epoch": "f", "offset": 1}}
    )


async def test_an_idle_group_forgets_its_history() -> None:
    layer = kept(group_expiry=0.05)
    await layer.group_send("room.1", {"type": "chat"})
    first = await layer.group_position("room.1")
    await asyncio.sleep(0.1)
    await layer.group_send("room.2", {"type": "chat"})  # sweeps idle rings
    again = await layer.group_position("room.1")
    assert (again.epoch != first.epoch, again.offset) == (True, 0)
    await layer.aclose()


async def test_a_full_member_is_skipped_by_a_kept_message(caplog: pytest.LogCaptureFixture) -> None:
    layer = kept(capacity=1)
    channel = await layer.new_channel()
    await layer.group_add("room.1", channel)
    with caplog.at_level(logging.WARNING):
        for i in range(2):
            await layer.group_send("room.1", {"type": "chat", "i": i})
    assert layer.statistics().group_skipped_full == 1
    assert "skipped 1 member" in caplog.text
    assert (await layer.receive(channel))["i"] == 0
    await layer.aclose()


async def test_presence_ends_with_the_membership() -> None:
    layer = kept(group_expiry=0.05)
    ada, bob = await layer.new_channel(), await layer.new_channel()
    await layer.presence_join("room.1", ada, {"user": "ada"})
    await asyncio.sleep(0.1)
    await layer.presence_join("room.1", bob, {"user": "bob"})  # notices ada's lapse
    assert list(await layer.presence("room.1")) == [bob]
    types = [(await layer.receive(bob))["type"] for _ in range(2)]
    assert types == ["presence.left", "presence.joined"]
    await asyncio.sleep(0.1)
    assert (await layer.presence("room.1")).count == 0
    await layer.aclose()


async def test_presence_of_a_channel_never_joined_is_no_change() -> None:
    store = MemoryPresence(local=InMemoryChannelLayer().local)
    assert await store.leave("room.1", "x") == []
    assert await store.renew() == []
    assert not store.holds("room.1", "x")


async def test_undecodable_info_reads_as_empty() -> None:
    layer = kept()
    channel = await layer.new_channel()
    await layer.presence_join("room.1", channel, {"user": "ada"})
    store = layer.held_presence()
    await store.join("room.1", channel, b"\xc1 not msgpack")
    present = await layer.presence("room.1")
    assert dict(present) == {channel: {}}
    assert repr(present) == f"Presence('room.1', {{{channel!r}: {{}}}})"
    assert layer.statistics().undecodable == 1
    await layer.aclose()


def test_users_leaves_out_missing_and_unhashable_values() -> None:
    present = Presence("g", {"a": {"user": "ada"}, "b": {}, "c": {"user": ["x"]}, "d": {"user": 1}})
    assert present.users() == ["ada", 1]


class FailingStore(MemoryPresence):
    """A presence store whose renewals fail like an unreachable Redis."""

    heartbeat = 0.01

    def __init__(self, layer: InMemoryChannelLayer) -> None:
        super().__init__(local=layer.local)
        self.renewals = 0

    async def renew(self) -> list[tuple[str, Change]]:
        self.renewals += 1
        if self.renewals <= 2:
            raise LayerConnectionError("Redis is down")
        return [("room.1", (True, "x!y", b"\x80"))]


async def test_failed_renewals_are_logged_and_retried(caplog: pytest.LogCaptureFixture) -> None:
    layer = kept()
    store = layer.presence_store = FailingStore(layer)
    channel = await layer.new_channel()
    with caplog.at_level(logging.WARNING):
        await layer.presence_join("room.1", channel, {"user": "ada"})
        assert (await layer.receive(channel))["type"] == "presence.joined"
        renewed = await asyncio.wait_for(layer.receive(channel), 5)  # the third renewal
    assert (renewed["type"], renewed["channel"]) == ("presence.joined", "x!y")
    assert "renewing this process's leases failed" in caplog.text
    assert store.renewals >= 3
    await layer.aclose()
    assert layer.renewing is None


async def test_a_renewal_task_on_another_loop_is_stopped_there() -> None:
    layer = kept()
    store = layer.presence_store = FailingStore(layer)
    store.renewals = 3  # renewals succeed
    started = asyncio.Event()
    loop = asyncio.get_running_loop()

    def other_loop() -> None:
        async def join() -> None:
            channel = await layer.new_channel()
            await layer.presence_join("room.1", channel)
            loop.call_soon_threadsafe(started.set)
            await asyncio.sleep(0.2)

        asyncio.run(join())

    thread = asyncio.create_task(asyncio.to_thread(other_loop))
    await started.wait()
    task = layer.renewing
    assert task is not None
    await layer.aclose()  # from this loop: the task is cancelled on its own
    await thread
    assert task.done()

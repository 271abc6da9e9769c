"""Consumers with presence and history: join with info, who is present, catch up on reconnect.

A chat consumer, a few lines: it joins its room with the user's info, recovers what the
client missed since the position it came back with (dispatched to its handlers before any
live message, each once), and says so when it could not.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs

import pytest

from fast_channels.consumer import AsyncJsonWebsocketConsumer
from fast_channels.exceptions import ConsumerError, HistoryNotEnabledError
from fast_channels.layers import (
    GroupOptions,
    InMemoryChannelLayer,
    LayerStatistics,
    Position,
    register_channel_layer,
)
from fast_channels.sync import SyncLayerMethods
from fast_channels.testing import WebsocketCommunicator
from fast_channels.types import Message

ROOM = "room.1"


class Chat(AsyncJsonWebsocketConsumer):
    """The consumer of the docs' chat, with a hook to send while it connects."""

    send_while_joining: int | None = None

    async def connect(self) -> None:
        await self.accept()
        query = parse_qs(self.scope["query_string"].decode())
        since = Position.parse(query["since"][0]) if "since" in query else None
        await self.join_group(ROOM, info={"user": query.get("user", ["anon"])[0]})
        if self.send_while_joining is not None:  # reaches the mailbox live, and the history
            await self.channel_layer.group_send(
                ROOM, {"type": "chat.message", "text": f"m{self.send_while_joining}"}
            )
        result = await self.recover(ROOM, since)
        present = await self.present(ROOM)
        await self.send_json(
            {
                "type": "welcome",
                "recovered": result.recovered,
                "position": str(result.position),
                "users": sorted(str(user) for user in present.users()),
                "channel": self.channel_name,
            }
        )

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if content == "leave":
            await self.leave_group(ROOM)
            await self.send_json({"type": "left", "position": self.position(ROOM)})
        elif content == "where":
            position = self.position(ROOM)
            await self.send_json({"type": "at", "position": str(position)})

    async def chat_message(self, message: Message) -> None:
        position = Position.of(message)
        await self.send_json({"type": "chat", "text": message["text"], "at": str(position)})


class Watcher(Chat):
    async def presence_joined(self, message: Message) -> None:
        await self.send_json({"type": "joined", "user": message["info"]["user"]})

    async def presence_left(self, message: Message) -> None:
        await self.send_json({"type": "left", "user": message["info"]["user"]})


@pytest.fixture
async def layer() -> AsyncIterator[InMemoryChannelLayer]:
    options = {"room.*": GroupOptions(history_size=50, presence_events=True)}
    layer = InMemoryChannelLayer(group_options=options)
    register_channel_layer("default", layer)
    yield layer
    await layer.aclose()


async def say(layer: InMemoryChannelLayer, *texts: str) -> None:
    for text in texts:
        await layer.group_send(ROOM, {"type": "chat.message", "text": text})


async def connect(path: str, consumer: type[Chat] = Chat, **options: Any) -> WebsocketCommunicator:
    client = WebsocketCommunicator(consumer.as_asgi(**options), path)
    assert (await client.connect())[0]
    return client


async def test_a_returning_client_gets_what_it_missed_before_live_messages(
    layer: InMemoryChannelLayer,
) -> None:
    first = await connect("/?user=ada")
    welcome = await first.receive_json_from()
    assert (welcome["recovered"], welcome["users"]) == (True, ["ada"])
    await say(layer, "m1")
    seen = await first.receive_json_from()
    assert seen["text"] == "m1"
    await first.disconnect()

    await say(layer, "m2", "m3")
    back = await connect(f"/?user=ada&since={seen['at']}")
    await say(layer, "m4")
    got = [await back.receive_json_from() for _ in range(4)]
    assert [m.get("text") for m in got] == ["m2", "m3", None, "m4"]
    assert got[2]["type"] == "welcome"
    assert got[2]["recovered"] is True
    assert got[2]["position"].endswith(":3")
    assert [Position.parse(m["at"]).offset for m in got if "at" in m] == [2, 3, 4]
    await back.send_json_to("where")
    assert (await back.receive_json_from())["position"].endswith(":4")
    assert await back.receive_nothing()
    await back.disconnect()


async def test_the_seam_drops_the_live_copy_of_a_recovered_message(
    layer: InMemoryChannelLayer,
) -> None:
    await say(layer, "m1")
    epoch = (await layer.group_position(ROOM)).epoch
    client = await connect(f"/?since={epoch}:1", send_while_joining=2)
    welcome_and_more = [await client.receive_json_from() for _ in range(2)]
    assert [m["type"] for m in welcome_and_more] == ["chat", "welcome"]
    assert welcome_and_more[0]["text"] == "m2"
    await say(layer, "m3")
    assert (await client.receive_json_from())["text"] == "m3"
    assert await client.receive_nothing()
    await client.disconnect()


async def test_a_client_from_another_epoch_is_told(layer: InMemoryChannelLayer) -> None:
    await say(layer, "m1")
    client = await connect("/?since=0ld3p0ch:1")
    welcome = await client.receive_json_from()
    current = await layer.group_position(ROOM)
    assert (welcome["recovered"], welcome["position"]) == (False, str(current))
    assert await client.receive_nothing()
    await say(layer, "m2")
    assert (await client.receive_json_from())["text"] == "m2"
    await client.disconnect()


async def test_a_new_client_gets_what_the_room_keeps(layer: InMemoryChannelLayer) -> None:
    await say(layer, "m1", "m2")
    client = await connect("/")
    got = [await client.receive_json_from() for _ in range(3)]
    assert [m.get("text") for m in got] == ["m1", "m2", None]
    assert got[2]["position"].endswith(":2")
    await client.disconnect()


async def test_a_resync_notice_recovers_what_the_layer_lost(layer: InMemoryChannelLayer) -> None:
    client = await connect("/")
    channel = (await client.receive_json_from())["channel"]
    await layer.group_discard(ROOM, channel)  # as if the layer lost the membership
    await say(layer, "lost1", "lost2")
    await layer.group_add(ROOM, channel)
    await layer.send(channel, {"type": "layer.reconnected", "reason": "test", "lost": None})
    await say(layer, "m3")
    got = [(await client.receive_json_from())["text"] for _ in range(3)]
    assert got == ["lost1", "lost2", "m3"]
    assert await client.receive_nothing()
    await client.disconnect()


async def test_presence_and_its_events(layer: InMemoryChannelLayer) -> None:
    watcher = await connect("/?user=ada", Watcher)
    assert (await watcher.receive_json_from())["users"] == ["ada"]  # connect() ran first
    assert (await watcher.receive_json_from()) == {"type": "joined", "user": "ada"}
    bob = await connect("/?user=bob")  # Chat: no handlers of its own, the defaults ignore them
    assert (await bob.receive_json_from())["users"] == ["ada", "bob"]
    assert (await watcher.receive_json_from()) == {"type": "joined", "user": "bob"}
    await bob.disconnect()
    assert (await watcher.receive_json_from()) == {"type": "left", "user": "bob"}
    assert list((await layer.presence(ROOM)).users()) == ["ada"]
    await watcher.disconnect()
    assert (await layer.presence(ROOM)).count == 0


async def test_leaving_ends_presence_and_position(layer: InMemoryChannelLayer) -> None:
    client = await connect("/?user=ada")
    await client.receive_json_from()
    await client.send_json_to("leave")
    assert await client.receive_json_from() == {"type": "left", "position": None}
    assert (await layer.presence(ROOM)).count == 0
    await client.disconnect()


class NoHistory(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        await self.accept()
        try:
            await self.recover("lobby")
        except HistoryNotEnabledError as exc:
            await self.send_json({"error": str(exc)})


async def test_recovering_a_group_without_history_says_what_to_configure(
    layer: InMemoryChannelLayer,
) -> None:
    client = WebsocketCommunicator(NoHistory.as_asgi(), "/")
    await client.connect()
    assert "GroupOptions(history_size=" in (await client.receive_json_from())["error"]
    await client.disconnect()


class Plain(SyncLayerMethods):
    """A layer written elsewhere, to the contract only: no history, no presence."""

    extensions = ("groups",)

    def __init__(self) -> None:
        self.inner = InMemoryChannelLayer()

    async def send(self, channel: str, message: Message) -> None:
        await self.inner.send(channel, message)

    async def receive(self, channel: str) -> Message:
        return await self.inner.receive(channel)

    async def new_channel(self, prefix: str = "specific.") -> str:
        return await self.inner.new_channel(prefix)

    async def group_add(self, group: str, channel: str) -> None:
        await self.inner.group_add(group, channel)

    async def group_discard(self, group: str, channel: str) -> None:
        await self.inner.group_discard(group, channel)

    async def group_send(self, group: str, message: Message) -> None:
        await self.inner.group_send(group, message)

    async def flush(self) -> None:
        await self.inner.flush()

    async def aclose(self) -> None:
        await self.inner.aclose()

    def statistics(self) -> LayerStatistics:
        return self.inner.statistics()


class AsksTooMuch(AsyncJsonWebsocketConsumer):
    channel_layer_alias = "plain"

    async def connect(self) -> None:
        await self.accept()
        errors: list[str] = []
        for ask in (self.recover(ROOM), self.present(ROOM), self.join_group(ROOM, info={})):
            try:
                await ask
            except ConsumerError as exc:
                errors.append(str(exc))
        await self.send_json({"errors": errors, "position": self.position(ROOM)})


async def test_layers_without_history_or_presence_are_named() -> None:
    plain = Plain()
    register_channel_layer("plain", plain)
    client = WebsocketCommunicator(AsksTooMuch.as_asgi(), "/")
    await client.connect()
    answer = await client.receive_json_from()
    assert answer["position"] is None
    assert len(answer["errors"]) == 3
    assert "keeps group history" in answer["errors"][0]
    assert all("presence" in error for error in answer["errors"][1:])
    await client.disconnect()
    await plain.aclose()

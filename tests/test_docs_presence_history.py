"""docs/presence-history.md: its samples are excerpts of files that run here, on every layer."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from docs.examples import chat_history, presence_history
from fast_channels.layers import BaseChannelLayer, get_channel_layer
from fast_channels.layers.redis import RedisChannelLayer, RedisPubSubChannelLayer
from fast_channels.status import CloseCode
from fast_channels.testing import WebsocketCommunicator
from tests.layers.redis.queue_helpers import prefix_for
from tests.servers import RedisProcess

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "presence-history.md"
SAMPLES = [ROOT / "docs/examples/presence_history.py", ROOT / "docs/examples/chat_history.py"]


def test_every_python_block_is_an_excerpt_of_a_sample() -> None:
    blocks = re.findall(r"```python\n(.*?)```", PAGE.read_text(), flags=re.DOTALL)
    samples = [path.read_text() for path in SAMPLES]
    assert len(blocks) >= 4
    for block in blocks:
        assert any(block in sample for sample in samples), f"not in the samples:\n{block}"


@pytest.fixture(params=["in_memory", "redis_queue", "redis_pubsub"])
async def layer(request: pytest.FixtureRequest) -> AsyncIterator[BaseChannelLayer]:
    made = presence_history.configure()
    if request.param != "in_memory":
        await made.aclose()
        server: RedisProcess = request.getfixturevalue("redis_server")
        kind = RedisChannelLayer if request.param == "redis_queue" else RedisPubSubChannelLayer
        made = kind(
            hosts=[server.url],
            prefix=prefix_for(request),
            group_options=presence_history.ROOMS,
            presence_lease=10,
        )
    await made.flush()
    yield made
    await made.flush()
    await made.aclose()


async def test_the_layer_sample_runs(layer: BaseChannelLayer) -> None:
    ada, bob = await layer.new_channel(), await layer.new_channel()
    await presence_history.enter(layer, "room.1", ada, "ada")
    await presence_history.enter(layer, "room.1", bob, "bob")
    assert await presence_history.who_is_online(layer, "room.1") == ["ada", "bob"]
    await layer.group_send("room.1", {"type": "chat.message", "text": "one"})
    seen = None
    while seen is None:  # presence events first, then the message
        message = await asyncio.wait_for(layer.receive(bob), 5)
        if message["type"] == "chat.message":
            seen = message
    await layer.group_discard("room.1", bob)  # bob's connection drops
    await layer.group_send("room.1", {"type": "chat.message", "text": "two"})
    await layer.group_send("room.1", {"type": "chat.message", "text": "three"})
    since = f"{seen['position']['epoch']}:{seen['position']['offset']}"

    async def send_live() -> None:
        await asyncio.sleep(0.05)
        await layer.group_send("room.1", {"type": "chat.message", "text": "four"})

    sender = asyncio.create_task(send_live())
    missed = await asyncio.wait_for(presence_history.catch_up(layer, "room.1", bob, since), 5)
    await sender
    assert missed is not None
    assert [m["text"] for m in missed] == ["two", "three", "four"]
    assert await presence_history.catch_up(layer, "room.1", bob, "0ther:1") is None
    assert await presence_history.who_is_online(layer, "room.1") == ["ada"]


@pytest.fixture
async def chat() -> AsyncIterator[None]:
    chat_history.setup_channel_layers()
    yield
    await get_channel_layer().aclose()


async def connect(path: str) -> WebsocketCommunicator:
    client = WebsocketCommunicator(chat_history.RoomConsumer.as_asgi(), path)
    assert (await client.connect())[0]
    return client


async def until(client: WebsocketCommunicator, kind: str, user: str = "") -> dict[str, Any]:
    while True:
        message: dict[str, Any] = await client.receive_json_from()
        if message["type"] == kind and message.get("user", "") in ("", user):
            return message


@pytest.mark.usefixtures("chat")
async def test_the_chat_sample_catches_a_returning_client_up() -> None:
    ada = await connect("/ws/room/lobby?user=ada")
    ready = await until(ada, "ready")
    assert ready["online"] == ["ada"]
    bob = await connect("/ws/room/lobby?user=bob")
    assert sorted((await until(bob, "ready"))["online"]) == ["ada", "bob"]
    assert (await until(ada, "joined", "bob"))["user"] == "bob"
    await bob.send_json_to({"text": "hello"})
    shown = await until(bob, "message", "bob")
    await bob.disconnect()
    assert (await until(ada, "left", "bob"))["user"] == "bob"
    await ada.send_json_to({"text": "you there?"})
    await ada.send_json_to({"text": "bob?"})

    back = await connect(f"/ws/room/lobby?user=bob&since={shown['position']}")
    got = [await back.receive_json_from() for _ in range(3)]
    assert [m.get("text") for m in got] == ["you there?", "bob?", None]
    assert got[2]["type"] == "ready"
    assert got[2]["position"] == got[1]["position"]
    await back.disconnect()
    await ada.disconnect()


@pytest.mark.usefixtures("chat")
async def test_the_chat_sample_says_reload_or_refuses_a_bad_position() -> None:
    client = await connect("/ws/room/lobby?user=ada&since=0ld3p0ch:4")
    reload = await client.receive_json_from()
    assert reload["type"] == "reload"
    assert (await client.receive_json_from())["type"] == "ready"
    await client.disconnect()
    bad = WebsocketCommunicator(chat_history.RoomConsumer.as_asgi(), "/ws/room/x?since=nope")
    await bad.connect()
    assert (await bad.receive_output())["code"] == CloseCode.INVALID_PAYLOAD
    await bad.disconnect()

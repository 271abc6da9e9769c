"""The migration guides' samples run (docs/migrate/, docs/examples/from_*.py)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from docs.examples import channels_fastapi, from_broadcaster, from_fast_channels_1
from docs.examples.channels_raw_consumer import EchoConsumer
from docs.examples.from_fast_channels_1_layer import QueueLayer
from fast_channels.layers import InMemoryChannelLayer, get_channel_layer, register_channel_layer
from fast_channels.testing import ApplicationCommunicator, WebsocketCommunicator

DOCS = Path(__file__).resolve().parent.parent / "docs"
GUIDES = sorted((DOCS / "migrate").glob("*.md"))


@pytest.mark.parametrize("guide", GUIDES, ids=[g.name for g in GUIDES])
def test_every_code_sample_of_a_guide_is_in_a_tested_example(guide: Path) -> None:
    """A guide shows only code from docs/examples, which CI runs and type-checks."""
    examples = "\n".join(p.read_text() for p in (DOCS / "examples").glob("*.py"))
    samples = re.findall(r"```python\n(.*?)```", guide.read_text(), flags=re.DOTALL)
    assert samples, f"{guide.name} has no code sample"
    for sample in samples:
        assert sample in examples, f"{guide.name}: not in docs/examples:\n{sample}"


async def test_a_1x_application_runs_unchanged() -> None:
    from_fast_channels_1.setup_layers()
    from_fast_channels_1.setup_layers()  # registers once
    app = from_fast_channels_1.application
    one = WebsocketCommunicator(app, "/", spec_version="2.1")
    async with one, WebsocketCommunicator(app, "/") as two:
        assert (await one.connect())[0]
        assert (await two.connect())[0]
        await one.send_json_to({"text": "hi"})
        assert await one.receive_json_from() == {"text": "hi"}
        assert await two.receive_json_from() == {"text": "hi"}


async def test_1x_async_json_codecs_are_used() -> None:
    from_fast_channels_1.setup_layers()
    async with WebsocketCommunicator(from_fast_channels_1.application, "/") as client:
        assert (await client.connect())[0]
        await client.send_to(text_data='{"text": "hi"}')
        assert await client.receive_from() == '{"text":"hi"}'  # the override's separators


async def test_a_channels_raw_consumer_serves_a_websocket() -> None:
    async with WebsocketCommunicator(EchoConsumer, "/echo") as client:
        assert (await client.connect())[0]
        await client.send_to(text_data="hello")
        assert await client.receive_from() == "hello"
        await client.send_to(text_data="bye")
        assert await client.receive_output() == {"type": "websocket.close", "code": 1000}
    client = WebsocketCommunicator(EchoConsumer, "/echo")
    assert (await client.connect())[0]
    await client.disconnect()  # the consumer ends: websocket_disconnect returned


async def test_a_channels_consumer_reads_url_route_under_fastapi() -> None:
    register_channel_layer("default", InMemoryChannelLayer())
    app = channels_fastapi.app
    async with WebsocketCommunicator(app, "/ws/chat/lobby/") as alice:
        assert (await alice.connect())[0]
        await alice.send_json_to({"message": "hello"})
        assert await alice.receive_json_from() == {"message": "hello"}
    assert get_channel_layer().statistics().groups == 0


async def test_the_1x_middleware_runs_before_the_consumer() -> None:
    from_fast_channels_1.setup_layers()
    consumer = from_fast_channels_1.ChatConsumer.as_asgi()
    async with WebsocketCommunicator(consumer, "/") as client:  # no TenantMiddleware
        assert await client.connect() == (False, 1000)


async def test_a_1x_layer_serves_consumers() -> None:
    layer = QueueLayer()
    register_channel_layer("chat", layer)
    app = from_fast_channels_1.application
    async with WebsocketCommunicator(app, "/") as one, WebsocketCommunicator(app, "/") as two:
        await one.connect()
        await two.connect()
        await two.send_json_to({"text": "from two"})
        assert await one.receive_json_from() == {"text": "from two"}
        assert await two.receive_json_from() == {"text": "from two"}
    assert layer.groups["lobby"] == set()
    await layer.flush()
    await layer.aclose()


async def test_the_broadcaster_chat_and_subscription() -> None:
    lifespan = ApplicationCommunicator(from_broadcaster.app, {"type": "lifespan"})
    await lifespan.send_input({"type": "lifespan.startup"})
    assert (await lifespan.receive_output())["type"] == "lifespan.startup.complete"
    client = WebsocketCommunicator(from_broadcaster.app, "/chat")
    async with from_broadcaster.subscribe("chatroom") as messages, client:
        await client.connect()
        await client.send_to(text_data="hello")
        assert await client.receive_from() == "hello"
        first = await asyncio.wait_for(anext(messages), timeout=5)
        assert first == {"type": "chat.message", "text": "hello"}
        await from_broadcaster.publish("chatroom", "from code")
        assert await client.receive_from() == "from code"
    assert get_channel_layer().statistics().groups == 0
    await lifespan.send_input({"type": "lifespan.shutdown"})
    assert (await lifespan.receive_output())["type"] == "lifespan.shutdown.complete"

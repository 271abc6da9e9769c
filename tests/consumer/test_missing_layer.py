"""A consumer whose layer alias is not registered serves without a layer, as in Django
Channels; using the layer is what raises ``LayerNotRegisteredError``, naming what to
register."""

from __future__ import annotations

from typing import Any

import pytest

from fast_channels.consumer import AsyncJsonWebsocketConsumer, AsyncWebsocketConsumer
from fast_channels.exceptions import LayerNotRegisteredError
from fast_channels.layers import InMemoryChannelLayer, register_channel_layer
from fast_channels.status import CloseCode
from fast_channels.testing import WebsocketCommunicator

# The testing sample of the project's original README, verbatim. Its consumer echoes JSON
# and needs no channel layer; none is registered in this test.
SEED_TESTING_SAMPLE = """
from fast_channels.testing import WebsocketCommunicator
import pytest
@pytest.mark.asyncio
async def test_chat_consumer():
    communicator = WebsocketCommunicator(ChatConsumer, "/ws/chat/")
    connected, subprotocol = await communicator.connect()
    assert connected
    # Test sending a message
    await communicator.send_json_to({
        "message": "hello world"
    })
    response = await communicator.receive_json_from()
    assert response == {"message": "hello world"}
    await communicator.disconnect()
"""


class ChatConsumer(AsyncJsonWebsocketConsumer):
    """A JSON echo that leaves ``channel_layer_alias`` at its default, "default"."""

    async def receive_json(self, content: Any) -> None:
        if content == "bye":
            await self.close()
        elif content == "use the layer":
            await self.channel_layer.group_send("room", {"type": "x"})
        elif content == "join":
            await self.join_group("room")
        elif content == "name":
            await self.send_json(self.channel_name)
        else:
            await self.send_json(content)


async def test_the_seed_testing_sample_runs_verbatim_without_a_layer() -> None:
    namespace: dict[str, Any] = {"ChatConsumer": ChatConsumer}
    exec(compile(SEED_TESTING_SAMPLE, "seed README test", "exec"), namespace)
    await namespace["test_chat_consumer"]()


async def test_echo_json_and_close_work_without_a_layer() -> None:
    async with WebsocketCommunicator(ChatConsumer, "/") as client:
        assert await client.connect() == (True, None)
        await client.send_json_to({"n": [1, 2]})
        assert await client.receive_json_from() == {"n": [1, 2]}
        await client.send_json_to("bye")
        assert (await client.receive_output())["code"] == CloseCode.NORMAL_CLOSURE


@pytest.mark.parametrize("use", ["use the layer", "join", "name"])
async def test_using_the_layer_raises_naming_what_to_register(use: str) -> None:
    register_channel_layer("other", InMemoryChannelLayer())
    client = WebsocketCommunicator(ChatConsumer, "/")
    await client.connect()
    await client.send_json_to(use)
    with pytest.raises(LayerNotRegisteredError) as info:
        await client.receive_output()
    text = str(info.value)
    assert "ChatConsumer uses a channel layer" in text
    assert "register_channel_layer('default', layer)" in text
    assert "registered: 'other'" in text


async def test_declared_groups_need_the_layer_from_the_start() -> None:
    class Grouped(AsyncWebsocketConsumer):
        groups = ["lobby"]

    client = WebsocketCommunicator(Grouped, "/")
    with pytest.raises(LayerNotRegisteredError) as info:
        await client.connect()
    text = str(info.value)
    assert "Grouped joins groups ['lobby']" in text
    assert "register_channel_layer('default', layer)" in text


async def test_an_explicit_alias_that_is_missing_behaves_the_same() -> None:
    register_channel_layer("default", InMemoryChannelLayer())
    app = ChatConsumer.as_asgi(channel_layer_alias="chat")
    async with WebsocketCommunicator(app, "/") as client:
        assert await client.connect() == (True, None)
        await client.send_json_to("hi")
        assert await client.receive_json_from() == "hi"
        await client.send_json_to("use the layer")
        with pytest.raises(LayerNotRegisteredError, match=r"registered as 'chat'"):
            await client.receive_output()


async def test_a_layer_registered_after_the_connection_started_is_not_used_by_it() -> None:
    client = WebsocketCommunicator(ChatConsumer, "/")
    await client.connect()
    register_channel_layer("default", InMemoryChannelLayer())
    await client.send_json_to("use the layer")
    with pytest.raises(LayerNotRegisteredError, match="started before a channel layer was"):
        await client.receive_output()

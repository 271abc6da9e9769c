"""The documentation's samples run: each file in docs/examples, and the README's verbatim.

The example modules register layers when imported (as the README's ``main.py`` does), so
they are imported inside the tests, where the registry is reset afterwards, and each
test calls ``setup_channel_layers()`` itself.
"""

from __future__ import annotations

import importlib
from typing import Any

from fastapi import FastAPI

from docs.examples.consumer import ChatConsumer
from docs.examples.memory_layers import setup_channel_layers
from fast_channels.consumer import ConsumerApp
from fast_channels.layers import get_channel_layer, has_layers
from fast_channels.testing import WebsocketCommunicator
from fast_channels.types import ASGIApp

# The README's consumer sample, verbatim: untyped methods, close_code, **kwargs.
README_CONSUMER = """
from fast_channels.consumer.websocket import AsyncWebsocketConsumer
class ChatConsumer(AsyncWebsocketConsumer):
    groups = ["chat_room"]
    channel_layer_alias = "default"  # Use registered layer
    async def connect(self):
        await self.accept()
        await self.channel_layer.group_send(
            "chat_room",
            {"type": "chat_message", "message": "Someone joined the chat"}
        )
    async def disconnect(self, close_code):
        await self.channel_layer.group_send(
            "chat_room",
            {"type": "chat_message", "message": "Someone left the chat"}
        )
    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        await self.channel_layer.group_send(
            "chat_room",
            {"type": "chat_message", "message": f"Message: {text_data}"}
        )
    async def chat_message(self, event):
        # Send message to WebSocket
        await self.send(event["message"])
"""


async def chat_session(app: ASGIApp, path: str) -> None:
    """Two clients on the README's chat: joins, a message, a leave."""
    async with WebsocketCommunicator(app, path) as alice, WebsocketCommunicator(app, path) as bob:
        assert await alice.connect() == (True, None)
        assert await alice.receive_from() == "Someone joined the chat"
        await bob.connect()
        assert await bob.receive_from() == "Someone joined the chat"
        assert await alice.receive_from() == "Someone joined the chat"
        await alice.send_to(text_data="hi")
        assert await alice.receive_from() == "Message: hi"
        assert await bob.receive_from() == "Message: hi"
        await bob.disconnect()
        assert await alice.receive_from() == "Someone left the chat"


async def test_readme_consumer_verbatim_runs() -> None:
    namespace: dict[str, Any] = {}
    exec(compile(README_CONSUMER, "README consumer.py", "exec"), namespace)
    setup_channel_layers()
    await chat_session(namespace["ChatConsumer"].as_asgi(), "/ws/chat")


async def test_typed_consumer_example_runs() -> None:
    setup_channel_layers()
    await chat_session(ChatConsumer.as_asgi(), "/ws/chat/")
    stats = get_channel_layer().statistics()
    assert (stats.groups, stats.waiting_receivers) == (0, 0)


def test_memory_layers_setup_registers_once() -> None:
    assert not has_layers()
    setup_channel_layers()
    layer = get_channel_layer()
    setup_channel_layers()
    assert get_channel_layer() is layer


async def test_fastapi_example_serves_the_chat_under_ws() -> None:
    module = importlib.import_module("docs.examples.fastapi_app")
    setup_channel_layers()
    await chat_session(module.app, "/ws/chat")


async def test_starlette_example_serves_both_routes() -> None:
    module = importlib.import_module("docs.examples.starlette_app")
    setup_channel_layers()
    await chat_session(module.app, "/ws/chat")
    await chat_session(module.app, "/chat")


async def test_readme_fastapi_form_where_fastapi_still_has_it() -> None:
    """``ws_app.add_websocket_route(...)`` as the README writes it, if this FastAPI has it.

    FastAPI on Starlette >= 1.0 no longer has it on the app; the router form in
    docs/examples/fastapi_app.py is then the way (checked above).
    """
    setup_channel_layers()
    ws_app = FastAPI()
    add_websocket_route: Any = getattr(ws_app, "add_websocket_route", None)
    if add_websocket_route is None:
        assert callable(ws_app.router.add_websocket_route)
        return
    add_websocket_route("/chat", ChatConsumer.as_asgi())
    app = FastAPI()
    app.mount("/ws", ws_app)
    await chat_session(app, "/ws/chat")


async def test_readme_testing_sample_runs() -> None:
    readme_test = importlib.import_module("docs.examples.test_echo")
    await readme_test.test_echo()


def test_as_asgi_is_what_frameworks_mount() -> None:
    app = ChatConsumer.as_asgi()
    assert isinstance(app, ConsumerApp)
    assert app.consumer_class is ChatConsumer

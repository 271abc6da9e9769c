"""Synchronous consumers: plain ``def`` handlers in a thread, one at a time and in order,
with the sync layer API, served by the async consumers (communicator, worker, uvicorn)."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect

from fast_channels import sync
from fast_channels.consumer import (
    JsonWebsocketConsumer,
    SyncConsumer,
    WebsocketConsumer,
    WebSocketState,
)
from fast_channels.exceptions import (
    ConfigurationError,
    ConsumerError,
    DenyConnection,
    SyncCalledFromAsyncError,
    UnknownMessageTypeError,
)
from fast_channels.layers import InMemoryChannelLayer, register_channel_layer
from fast_channels.status import CloseCode
from fast_channels.testing import WebsocketCommunicator
from fast_channels.types import Message
from fast_channels.worker import Worker
from tests.e2e.conftest import serve

WAIT = 10.0
"""Communicator timeout: a safety net for a stuck thread, never a measurement."""


@pytest.fixture
async def layer() -> Any:
    layer = InMemoryChannelLayer()
    register_channel_layer("default", layer)
    yield layer
    await layer.aclose()


class Echo(WebsocketConsumer):
    """Echoes frames; says in which thread its handlers run."""

    channel_layer_alias = None

    def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data == "thread?":
            self.send(text_data=threading.current_thread().name)
        elif text_data == "close":
            self.close(4001, "asked to")
        elif text_data == "boom":
            raise RuntimeError("handler failed")
        elif text_data is not None:
            self.send(text_data=text_data)
        else:
            self.send(bytes_data=bytes_data)


async def test_frames_round_trip_through_a_handler_run_in_a_thread() -> None:
    async with WebsocketCommunicator(Echo.as_asgi(), "/") as client:
        assert await client.connect(WAIT) == (True, None)
        await client.send_to(text_data="héllo")
        assert await client.receive_from(WAIT) == "héllo"
        await client.send_to(bytes_data=b"\x00\xff")
        assert await client.receive_from(WAIT) == b"\x00\xff"
        await client.send_to(text_data="thread?")
        thread = await client.receive_from(WAIT)
        assert thread != threading.current_thread().name
        await client.send_to(text_data="close")
        closed = await client.receive_output(WAIT)
        assert (closed["type"], closed["code"], closed["reason"]) == (
            "websocket.close",
            4001,
            "asked to",
        )


async def test_an_exception_in_a_handler_closes_with_1011_and_is_raised() -> None:
    client = WebsocketCommunicator(Echo.as_asgi(), "/")
    await client.connect(WAIT)
    await client.send_to(text_data="boom")
    with pytest.raises(RuntimeError, match="handler failed"):
        await client.receive_from(WAIT)
    closed = await client.receive_output(WAIT)
    assert closed["code"] == CloseCode.INTERNAL_ERROR


class Picky(WebsocketConsumer):
    """Rejects the handshake unless the path is /ok; records the disconnect code."""

    channel_layer_alias = None
    codes: list[int] = []

    def connect(self) -> None:
        if self.scope["path"] != "/ok":
            raise DenyConnection
        self.accept()
        assert self.state is WebSocketState.CONNECTED

    def disconnect(self, code: int, /) -> None:
        Picky.codes.append(code)


async def test_deny_in_connect_rejects_and_disconnect_gets_the_code() -> None:
    async with WebsocketCommunicator(Picky.as_asgi(), "/no") as refused:
        connected, code = await refused.connect(WAIT)
        assert (connected, code) == (False, CloseCode.NORMAL_CLOSURE)
    Picky.codes.clear()
    client = WebsocketCommunicator(Picky.as_asgi(), "/ok")
    assert await client.connect(WAIT) == (True, None)
    await client.disconnect(4321, timeout=WAIT)
    assert Picky.codes == [4321]


class Serial(WebsocketConsumer):
    """Each frame's handler waits for the test's go-ahead: shows the handlers' overlap."""

    channel_layer_alias = None
    running = 0
    most = 0
    order: list[str] = []
    release = threading.Semaphore(0)
    lock = threading.Lock()

    def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        with Serial.lock:
            Serial.running += 1
            Serial.most = max(Serial.most, Serial.running)
        Serial.release.acquire(timeout=WAIT)
        Serial.order.append(str(text_data))
        with Serial.lock:
            Serial.running -= 1
        self.send(text_data=f"done {text_data}")


async def test_handlers_of_one_connection_run_one_at_a_time_in_order() -> None:
    async with WebsocketCommunicator(Serial.as_asgi(), "/") as client:
        await client.connect(WAIT)
        for n in range(5):
            await client.send_to(text_data=str(n))
        for n in range(5):
            Serial.release.release()
            assert await client.receive_from(WAIT) == f"done {n}"
    assert Serial.order == ["0", "1", "2", "3", "4"]
    assert Serial.most == 1


async def running_loop() -> asyncio.AbstractEventLoop:
    return asyncio.get_running_loop()


class Chat(JsonWebsocketConsumer):
    """A JSON chat room: joins ``room`` at start, and ``extra`` on request."""

    groups = ["room"]

    def receive_json(self, content: Any) -> None:
        if content == "join extra":
            self.join_group("extra")
            self.send_json({"joined": "extra"})
        elif content == "leave extra":
            self.leave_group("extra")
            self.send_json({"left": "extra"})
        elif content == "which loop?":
            self.send_json({"loop": id(sync.run(running_loop))})
        else:
            message = {"type": "chat.message", "text": content["text"]}
            self.channel_layer.group_send_sync("room", message)

    def chat_message(self, event: Message) -> None:
        self.send_json({"text": event["text"]})


async def test_group_send_sync_from_a_handler_reaches_every_member(
    layer: InMemoryChannelLayer,
) -> None:
    async with (
        WebsocketCommunicator(Chat.as_asgi(), "/") as ada,
        WebsocketCommunicator(Chat.as_asgi(), "/") as bob,
    ):
        await ada.connect(WAIT)
        await bob.connect(WAIT)
        await ada.send_json_to({"text": "hello"})
        assert await ada.receive_json_from(WAIT) == {"text": "hello"}
        assert await bob.receive_json_from(WAIT) == {"text": "hello"}

        await bob.send_json_to("join extra")
        assert await bob.receive_json_from(WAIT) == {"joined": "extra"}
        await layer.group_send("extra", {"type": "chat.message", "text": "extra only"})
        assert await bob.receive_json_from(WAIT) == {"text": "extra only"}
        assert await ada.receive_nothing()
        await bob.send_json_to("leave extra")
        assert await bob.receive_json_from(WAIT) == {"left": "extra"}
        await layer.group_send("extra", {"type": "chat.message", "text": "nobody"})
        assert await bob.receive_nothing()

        await ada.send_json_to("which loop?")  # sync.run in a handler: the connection's
        assert await ada.receive_json_from(WAIT) == {"loop": id(asyncio.get_running_loop())}
    stats = layer.statistics()
    assert (stats.groups, stats.waiting_receivers) == (0, 0)


async def test_malformed_json_closes_with_1007_as_the_async_consumer_does(
    layer: InMemoryChannelLayer,
) -> None:
    async with WebsocketCommunicator(Chat.as_asgi(), "/") as client:
        await client.connect(WAIT)
        await client.send_to(text_data="{not json")
        closed = await client.receive_output(WAIT)
        assert closed["code"] == CloseCode.INVALID_PAYLOAD


class AsyncHandler(WebsocketConsumer):
    async def note(self, message: Message) -> None:
        """A coroutine where a plain method is expected."""


def test_handler_lookup_refuses_what_cannot_handle_a_message() -> None:
    consumer = AsyncHandler()
    with pytest.raises(ConsumerError, match=r"AsyncHandler\.note is `async def`"):
        consumer.handler_for({"type": "note"})
    with pytest.raises(UnknownMessageTypeError, match="no handler for message type 'nothing'"):
        consumer.handler_for({"type": "nothing"})
    with pytest.raises(UnknownMessageTypeError, match="which is not a handler"):
        consumer.handler_for({"type": "send"})
    with pytest.raises(UnknownMessageTypeError, match="without a str 'type'"):
        consumer.handler_for({"text": "x"})
    assert consumer.handler_for({"type": "websocket.receive"}) is None  # served for it


async def test_actions_outside_a_handler_say_why() -> None:
    consumer = Echo()
    with pytest.raises(ConsumerError, match="is not serving a connection"):
        consumer.send(text_data="x")
    with pytest.raises(ConsumerError, match="is not serving a connection"):
        _ = consumer.channel_layer


class Blocking(WebsocketConsumer):
    """Keeps a reference to itself so that the test can misuse it from async code."""

    channel_layer_alias = None
    instances: list[Blocking] = []

    def connect(self) -> None:
        Blocking.instances.append(self)
        self.accept()


async def test_actions_from_async_code_raise_instead_of_blocking_the_loop() -> None:
    async with WebsocketCommunicator(Blocking.as_asgi(), "/") as client:
        await client.connect(WAIT)
        consumer = Blocking.instances[-1]
        with pytest.raises(SyncCalledFromAsyncError, match="called from async code"):
            consumer.send(text_data="x")
        assert await client.receive_nothing()


def test_as_asgi_checks_its_options() -> None:
    with pytest.raises(TypeError, match="not a configurable class attribute"):
        Echo.as_asgi(nope=1)
    with pytest.raises(ConfigurationError, match="groups must be a list"):
        Chat.as_asgi(groups="room")
    app = Chat.as_asgi(groups=["other"])
    assert app.consumer_class.__name__ == "Chat"
    assert app.consumer_class.scope_type == "websocket"


class Thumbnails(SyncConsumer):
    """A worker consumer written with plain methods."""

    def thumbnail_create(self, message: Message) -> None:
        assert self.scope == {"type": "channel", "channel": "thumbnails"}
        self.channel_layer.group_send_sync(
            "progress", {"type": "job.done", "job": message["job"], "in": self.channel_name}
        )


async def test_a_worker_runs_a_sync_consumer_on_a_named_channel(
    layer: InMemoryChannelLayer,
) -> None:
    watcher = await layer.new_channel()
    await layer.group_add("progress", watcher)
    worker = Worker(Thumbnails, ["thumbnails"])
    run = asyncio.create_task(worker.run())
    await layer.send("thumbnails", {"type": "thumbnail.create", "job": 7})
    async with asyncio.timeout(WAIT):
        done = await layer.receive(watcher)
    worker.stop()
    await run
    assert done["job"] == 7
    assert worker.statistics().handled == 1


async def test_two_clients_chat_through_a_sync_consumer_under_uvicorn(
    layer: InMemoryChannelLayer,
) -> None:
    async with (
        serve(Chat.as_asgi()) as url,
        connect(f"{url}/chat") as one,
        connect(f"{url}/chat") as two,
    ):
        await one.send('{"text": "over a real socket"}')
        async with asyncio.timeout(WAIT):
            assert await one.recv() == '{"text": "over a real socket"}'
            assert await two.recv() == '{"text": "over a real socket"}'


def test_the_guide_shows_the_sync_chat_example_verbatim() -> None:
    root = Path(__file__).resolve().parents[2]
    source = (root / "docs" / "examples" / "sync_consumer.py").read_text()
    shown = source[source.index("class ChatConsumer") :]
    assert shown in (root / "docs" / "consumers.md").read_text()


async def test_the_documented_sync_chat_runs(layer: InMemoryChannelLayer) -> None:
    from docs.examples.sync_consumer import ChatConsumer

    async with (
        WebsocketCommunicator(ChatConsumer.as_asgi(), "/ws/chat") as ada,
        WebsocketCommunicator(ChatConsumer.as_asgi(), "/ws/chat") as bob,
    ):
        await ada.connect(WAIT)
        await bob.connect(WAIT)
        await bob.send_json_to({"text": "hi"})
        assert await ada.receive_json_from(WAIT) == {"text": "hi"}
        assert await bob.receive_json_from(WAIT) == {"text": "hi"}

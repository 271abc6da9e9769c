"""AsyncHttpConsumer through HttpCommunicator: request/response, long-poll, streaming."""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

import pytest
from fastapi import FastAPI
from starlette.routing import Route

from fast_channels.consumer import AsyncHttpConsumer, HttpResponseState
from fast_channels.exceptions import (
    CommunicatorError,
    ConfigurationError,
    ConsumerError,
    StopConsumer,
)
from fast_channels.layers import InMemoryChannelLayer
from fast_channels.testing import HttpCommunicator
from fast_channels.types import Message, Receive, Scope, Send


class Hello(AsyncHttpConsumer):
    channel_layer_alias = None

    async def handle(self, body: bytes) -> None:
        method = self.scope["method"]
        await self.send_response(
            200, f"{method} {body.decode()}".encode(), headers=[(b"content-type", b"text/plain")]
        )


class Recorder(AsyncHttpConsumer):
    """Long-poll or stream from group messages, as the test asks; records its disconnect."""

    groups = ["news"]
    disconnects: ClassVar[list[str]] = []

    async def handle(self, body: bytes) -> None:
        if body == b"stream":
            await self.send_headers(headers={b"content-type": b"text/event-stream"})
            await self.send_body(b"hello\n", more_body=True)

    async def news_item(self, message: Message) -> None:
        text: str = message["text"]
        if self.response_state is HttpResponseState.PENDING:
            await self.send_response(200, text.encode())
        elif text == "stop":
            raise StopConsumer
        elif text == "crash":
            raise RuntimeError("consumer bug")
        else:
            await self.send_body(f"{text}\n".encode(), more_body=True)

    async def disconnect(self) -> None:
        self.disconnects.append(self.response_state.name)


@pytest.fixture(autouse=True)
def _reset_recorder() -> None:
    Recorder.disconnects.clear()


async def _until_joined(layer: InMemoryChannelLayer, groups: int = 1) -> None:
    """Wait (bounded) until the consumer under test has joined its group."""
    for _ in range(1000):
        if layer.statistics().groups >= groups:
            return
        await asyncio.sleep(0.005)
    raise AssertionError("the consumer did not join its group")


async def test_request_and_response() -> None:
    async with HttpCommunicator(Hello, "/hello", method="POST", body=b"world") as client:
        response = await client.get_response()
    assert response == {
        "status": 200,
        "headers": [(b"content-type", b"text/plain")],
        "body": b"POST world",
    }


async def test_django_channels_argument_order() -> None:
    async with HttpCommunicator(Hello.as_asgi(), "put", "/hello", b"x") as client:
        response = await client.get_response()
    assert response["body"] == b"PUT x"


def test_the_method_is_given_once() -> None:
    both: Any = ("POST", "/hello")
    with pytest.raises(TypeError, match="give the method once"):
        HttpCommunicator(Hello, *both, method="GET")


async def test_body_in_parts_reaches_handle_whole() -> None:
    async with HttpCommunicator(Hello, "/hello", method="POST", body=b"hel") as client:
        await client.send_request(more_body=True)
        await client.send_input({"type": "http.request", "body": b"lo"})
        response = await client.get_response()
    assert response["body"] == b"POST hello"


async def test_a_body_over_max_body_size_is_answered_413() -> None:
    app = Hello.as_asgi(max_body_size=4)
    async with HttpCommunicator(app, "/hello", method="POST", body=b"12345") as client:
        response = await client.get_response()
    assert response["status"] == 413


def test_max_body_size_must_be_positive() -> None:
    with pytest.raises(ConfigurationError, match="max_body_size must be a positive int"):
        Hello(max_body_size=0)


async def test_handle_must_complete_the_response_without_a_layer() -> None:
    class Forgetful(AsyncHttpConsumer):
        channel_layer_alias = None

        async def handle(self, body: bytes) -> None:
            await self.send_headers()

    async with HttpCommunicator(Forgetful, "/") as client:
        await client.send_request()
        with pytest.raises(ConsumerError, match="returned without completing the response"):
            await client.wait()


@pytest.mark.parametrize(
    ("steps", "error"),
    [
        (["body"], "needs a STARTED response, but it is PENDING: call send_headers"),
        (["headers", "headers"], "needs a PENDING response, but it is STARTED"),
        (["headers", "body", "body"], "needs a STARTED response, but it is COMPLETE"),
    ],
)
async def test_response_steps_out_of_order_are_refused(steps: list[str], error: str) -> None:
    class Misuse(AsyncHttpConsumer):
        channel_layer_alias = None

        async def handle(self, body: bytes) -> None:
            for step in steps:
                if step == "headers":
                    await self.send_headers()
                else:
                    await self.send_body(b"", more_body=False)

    async with HttpCommunicator(Misuse, "/") as client:
        await client.send_request()
        with pytest.raises(ConsumerError, match=error):
            await client.wait()


@pytest.mark.parametrize(
    ("call", "error"),
    [
        ({"status": 99}, "status=\\) needs an int from 100 to 599"),
        ({"headers": [(b"a", "b")]}, "must be \\(bytes, bytes\\) pairs"),
        ({"headers": [[b"a"]]}, "must be \\(bytes, bytes\\) pairs"),
    ],
)
async def test_bad_headers_are_refused(call: dict[str, Any], error: str) -> None:
    class BadHeaders(AsyncHttpConsumer):
        channel_layer_alias = None

        async def handle(self, body: bytes) -> None:
            await self.send_headers(**call)

    async with HttpCommunicator(BadHeaders, "/") as client:
        await client.send_request()
        with pytest.raises((ValueError, TypeError), match=error):
            await client.wait()


async def test_headers_as_asgi_lists_are_taken() -> None:
    class Lists(AsyncHttpConsumer):
        channel_layer_alias = None

        async def handle(self, body: bytes) -> None:
            await self.send_response(204, b"", headers=[[b"x-a", b"1"]])

    async with HttpCommunicator(Lists, "/") as client:
        assert (await client.get_response())["headers"] == [(b"x-a", b"1")]


async def test_long_poll_is_answered_from_a_group_message(
    memory_layer: InMemoryChannelLayer,
) -> None:
    async with HttpCommunicator(Recorder, "/poll") as client:
        await client.send_request()
        await _until_joined(memory_layer)
        assert await client.receive_nothing()
        await memory_layer.group_send("news", {"type": "news.item", "text": "breaking"})
        response = await client.get_response_start()
        assert response == (200, [])
        assert await client.get_body_part() == (b"breaking", False)
        await client.wait()
    assert Recorder.disconnects == ["COMPLETE"]
    assert memory_layer.statistics().groups == 0


async def test_group_messages_before_the_request_wait_for_it(
    memory_layer: InMemoryChannelLayer,
) -> None:
    """Groups are joined only once the request arrived: nothing reaches the consumer early."""
    async with HttpCommunicator(Recorder, "/poll", body=b"stream") as client:
        assert await client.receive_nothing()
        assert memory_layer.statistics().groups == 0
        await client.send_request()
        assert (await client.get_response_start())[0] == 200
        assert await client.get_body_part() == (b"hello\n", True)


async def test_streaming_ends_when_the_client_leaves(memory_layer: InMemoryChannelLayer) -> None:
    async with HttpCommunicator(Recorder, "/events", body=b"stream") as client:
        status, headers = await client.get_response_start()
        assert (status, headers) == (200, [(b"content-type", b"text/event-stream")])
        assert await client.get_body_part() == (b"hello\n", True)
        await _until_joined(memory_layer)
        for text in ("one", "two"):
            await memory_layer.group_send("news", {"type": "news.item", "text": text})
            assert await client.get_body_part() == (f"{text}\n".encode(), True)
        await client.disconnect()
    assert Recorder.disconnects == ["STARTED"]
    assert memory_layer.statistics().groups == 0


async def test_stop_consumer_mid_stream_ends_the_body(memory_layer: InMemoryChannelLayer) -> None:
    async with HttpCommunicator(Recorder, "/events", body=b"stream") as client:
        await client.get_response_start()
        await client.get_body_part()
        await _until_joined(memory_layer)
        await memory_layer.group_send("news", {"type": "news.item", "text": "stop"})
        assert await client.get_body_part() == (b"", False)
        await client.wait()
    assert Recorder.disconnects == ["COMPLETE"]


async def test_an_error_mid_stream_leaves_the_body_unfinished(
    memory_layer: InMemoryChannelLayer,
) -> None:
    async with HttpCommunicator(Recorder, "/events", body=b"stream") as client:
        await client.get_response_start()
        await client.get_body_part()
        await _until_joined(memory_layer)
        await memory_layer.group_send("news", {"type": "news.item", "text": "crash"})
        with pytest.raises(RuntimeError, match="consumer bug"):
            await client.get_body_part()
    assert Recorder.disconnects == ["STARTED"]


async def test_send_body_after_the_client_left_ends_the_consumer(
    memory_layer: InMemoryChannelLayer,
) -> None:
    """A handler still streaming when the client leaves gets StopConsumer from send_body."""
    left = asyncio.Event()
    ended: list[str] = []

    class Ticker(AsyncHttpConsumer):
        async def handle(self, body: bytes) -> None:
            await self.send_headers()
            await self.send_body(b"tick", more_body=True)
            await self.channel_layer.send(self.channel_name, {"type": "tick"})

        async def tick(self, message: Message) -> None:
            await left.wait()  # the client leaves while this handler runs
            await self.send_body(b"tick", more_body=True)
            ended.append("not reached")

        async def disconnect(self) -> None:
            ended.append(self.response_state.name)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        async def receive_and_tell() -> Any:
            event = await receive()
            if event["type"] == "http.disconnect":
                left.set()
            return event

        await Ticker.as_asgi()(scope, receive_and_tell, send)

    async with HttpCommunicator(app, "/ticks") as client:
        await client.get_response_start()
        assert await client.get_body_part() == (b"tick", True)
        await client.disconnect()
    assert ended == ["STARTED"]


async def test_the_server_noticing_the_client_left_ends_the_consumer() -> None:
    """A send that fails with OSError (the client is gone) ends the consumer quietly."""
    ended: list[str] = []

    class Quiet(AsyncHttpConsumer):
        channel_layer_alias = None

        async def handle(self, body: bytes) -> None:
            await self.send_response(200, b"x")

        async def disconnect(self) -> None:
            ended.append(self.response_state.name)

    async def broken_send(message: Any) -> None:
        raise ConnectionResetError("client went away")

    async def receive() -> Any:
        return {"type": "http.request", "body": b""}

    scope: Scope = {"type": "http", "path": "/", "method": "GET", "headers": []}
    await Quiet.as_asgi()(scope, receive, broken_send)
    assert ended == ["STARTED"]


async def test_handle_is_required() -> None:
    class NoHandle(AsyncHttpConsumer):
        channel_layer_alias = None

    async with HttpCommunicator(NoHandle, "/") as client:
        await client.send_request()
        with pytest.raises(NotImplementedError, match="must define `async def handle"):
            await client.wait()


async def test_get_response_refuses_a_websocket_answer() -> None:
    async def wrong(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.close"})

    async with HttpCommunicator(wrong, "/") as client:
        with pytest.raises(CommunicatorError, match=r"expected http\.response\.start"):
            await client.get_response()


async def test_the_request_is_sent_once() -> None:
    async with HttpCommunicator(Hello, "/") as client:
        await client.send_request()
        with pytest.raises(CommunicatorError, match="sent already"):
            await client.send_request()
        await client.get_response()


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("/x",), None),
        (("G T", "/x"), "method must be an HTTP method"),
        (("x",), "path must be a str starting with '/'"),
    ],
)
def test_communicator_arguments(args: Any, error: str | None) -> None:
    if error is None:
        assert HttpCommunicator(Hello, *args).scope["method"] == "GET"
        return
    with pytest.raises(ValueError, match=error):
        HttpCommunicator(Hello, *args)


async def test_fastapi_routes_an_http_consumer() -> None:
    app = FastAPI()
    app.router.routes.append(Route("/hello", Hello.as_asgi()))
    async with HttpCommunicator(app, "/hello", method="POST", body=b"api") as client:
        assert (await client.get_response())["body"] == b"POST api"


@pytest.mark.parametrize(
    ("call", "error"),
    [
        ("send_body", r"send_body\(\) needs bytes, got str"),
        ("send_response", r"send_response\(\) needs a bytes body, got str"),
    ],
)
async def test_bodies_must_be_bytes(call: str, error: str) -> None:
    class Text(AsyncHttpConsumer):
        channel_layer_alias = None

        async def handle(self, body: bytes) -> None:
            text: Any = "text"
            if call == "send_body":
                await self.send_headers()
                await self.send_body(text)
            else:
                await self.send_response(200, text)

    async with HttpCommunicator(Text, "/") as client:
        await client.send_request()
        with pytest.raises(TypeError, match=error):
            await client.wait()


async def test_a_request_body_that_is_not_bytes_is_refused() -> None:
    async with HttpCommunicator(Hello, "/") as client:
        await client.send_input({"type": "http.request", "body": "text"})
        with pytest.raises(ConsumerError, match=r"http\.request body must be bytes"):
            await client.wait()


async def test_a_failing_disconnect_after_an_error_is_logged_not_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Failing(AsyncHttpConsumer):
        channel_layer_alias = None

        async def handle(self, body: bytes) -> None:
            raise RuntimeError("handle failed")

        async def disconnect(self) -> None:
            raise RuntimeError("disconnect failed")

    async with HttpCommunicator(Failing, "/") as client:
        await client.send_request()
        with pytest.raises(RuntimeError, match="handle failed"):
            await client.wait()
    assert "Failing.disconnect() failed after an error" in caplog.text

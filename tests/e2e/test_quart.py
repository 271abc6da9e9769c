"""Quart with consumers, under uvicorn (in this loop) and hypercorn, with real clients."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

# The oldest-framework run of scripts/test installs no Quart: skip there, visibly.
pytest.importorskip("quart")


from quart import Quart, websocket
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from fast_channels.integrations.quart import run_consumer
from fast_channels.layers import InMemoryChannelLayer
from fast_channels.types import Receive, Scope, Send
from tests.e2e.asgi_servers import running_server
from tests.e2e.client import closed_with
from tests.e2e.conftest import serve
from tests.e2e.frameworks import checks, probes
from tests.e2e.frameworks.consumers import EchoConsumer
from tests.e2e.frameworks.quart_app import app


@pytest.fixture
async def uvicorn_base(memory_layer: InMemoryChannelLayer) -> AsyncIterator[str]:
    async with serve(app, lifespan="on") as url:
        yield url
    stats = memory_layer.statistics()
    assert (stats.groups, stats.waiting_receivers, stats.channels) == (0, 0, 0)


@pytest.fixture(scope="module")
def hypercorn_base() -> Iterator[str]:
    with running_server("hypercorn", "tests.e2e.frameworks.quart_app:app") as url:
        yield url


@pytest.fixture(params=["uvicorn", "hypercorn"])
def base(request: pytest.FixtureRequest) -> str:
    url: str = request.getfixturevalue(f"{request.param}_base")
    return url


async def test_quart_route_answers_http(base: str) -> None:
    await checks.check_http(base, "quart")


async def test_echo_consumer(base: str) -> None:
    await checks.check_echo(base)


async def test_rooms_keep_path_parameters_and_see_who_left(base: str) -> None:
    await checks.check_rooms(base)


async def test_unknown_websocket_path_is_refused(base: str) -> None:
    await checks.check_unknown_websocket_path_is_refused(base)


async def test_probe_accept_frames_and_close(base: str) -> None:
    await probes.check_accept_frames_and_close(f"{base}/ws/probe/")


async def test_probe_denied(base: str) -> None:
    await probes.check_denied(f"{base}/ws/probe/")


async def test_probe_crash_closes_only_that_socket(base: str) -> None:
    await probes.check_crash_closes_only_that_socket(f"{base}/ws/probe/")


class RawApp:
    """A bare ASGI app behind the adapter: accepts, closes, then tries to send a frame;
    what the adapter raised and the event that followed are kept for the test."""

    def __init__(self) -> None:
        self.raised: list[BaseException] = []
        self.after_close: list[object] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.close", "code": 4002})
        try:
            await send({"type": "websocket.send", "text": "too late"})
        except OSError as exc:
            self.raised.append(exc)
        self.after_close.append(await receive())


async def send_unknown_event(scope: Scope, receive: Receive, send: Send) -> None:
    await receive()
    await send({"type": "websocket.http.response.start", "status": 418, "headers": []})


async def test_adapter_refuses_events_after_close_and_events_it_cannot_carry(
    memory_layer: InMemoryChannelLayer,
) -> None:
    raw = RawApp()
    edges = Quart(__name__)

    @edges.websocket("/raw/")
    async def raw_route() -> None:
        await run_consumer(raw, websocket)

    @edges.websocket("/unknown/")
    async def unknown_route() -> None:
        await run_consumer(send_unknown_event, websocket)

    async with serve(edges) as url:
        async with connect(f"{url}/raw/") as ws:
            assert (await closed_with(ws))[0] == 4002
        with pytest.raises(InvalidStatus):
            async with connect(f"{url}/unknown/"):
                pass
    assert [type(exc) for exc in raw.raised] == [OSError]
    assert raw.after_close == [{"type": "websocket.disconnect", "code": 4002}]


async def test_run_consumer_needs_quarts_websocket() -> None:
    not_a_websocket: Any = object()
    with pytest.raises(TypeError, match="Quart's websocket"):
        await run_consumer(EchoConsumer.as_asgi(), not_a_websocket)

"""Litestar with consumers, under uvicorn (in this loop) and hypercorn, with real clients."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

# The oldest-framework run of scripts/test installs no Litestar: skip there, visibly.
pytest.importorskip("litestar")

import json

from websockets.asyncio.client import connect

from fast_channels.integrations.litestar import asgi_mount, consumer_route, run_consumer
from fast_channels.layers import InMemoryChannelLayer
from tests.e2e.asgi_servers import running_server
from tests.e2e.client import recv_json
from tests.e2e.conftest import serve
from tests.e2e.frameworks import checks, probes
from tests.e2e.frameworks.consumers import EchoConsumer
from tests.e2e.frameworks.litestar_app import app


@pytest.fixture
async def uvicorn_base(memory_layer: InMemoryChannelLayer) -> AsyncIterator[str]:
    async with serve(app, lifespan="on") as url:
        yield url
    stats = memory_layer.statistics()
    assert (stats.groups, stats.waiting_receivers, stats.channels) == (0, 0, 0)


@pytest.fixture(scope="module")
def hypercorn_base() -> Iterator[str]:
    with running_server("hypercorn", "tests.e2e.frameworks.litestar_app:app") as url:
        yield url


@pytest.fixture(params=["uvicorn", "hypercorn"])
def base(request: pytest.FixtureRequest) -> str:
    url: str = request.getfixturevalue(f"{request.param}_base")
    return url


async def test_litestar_handler_answers_http(base: str) -> None:
    await checks.check_http(base, "litestar")


async def test_echo_consumer(base: str) -> None:
    await checks.check_echo(base)


async def test_consumer_route_keeps_path_parameters(base: str) -> None:
    await checks.check_rooms(base)


async def test_unknown_websocket_path_is_refused(base: str) -> None:
    await checks.check_unknown_websocket_path_is_refused(base)


@pytest.mark.parametrize("prefix", ["/ws/guarded", "/mounted/ws"])
async def test_own_handler_and_mounted_router_keep_path_parameters(
    uvicorn_base: str, prefix: str
) -> None:
    async with (
        connect(f"{uvicorn_base}{prefix}/rooms/green/") as one,
        connect(f"{uvicorn_base}/ws/rooms/green/") as other,
    ):
        greeting = {"path_params": {"room": "green"}, "url_route_kwargs": {"room": "green"}}
        assert await recv_json(one) == greeting
        assert await recv_json(other) == greeting
        await one.send(json.dumps("across routes"))
        assert await recv_json(other) == "across routes"
        assert await recv_json(one) == "across routes"


async def test_probe_accept_frames_and_close(base: str) -> None:
    await probes.check_accept_frames_and_close(f"{base}/ws/probe/")


async def test_probe_denied(base: str) -> None:
    await probes.check_denied(f"{base}/ws/probe/")


async def test_probe_crash_closes_only_that_socket(base: str) -> None:
    await probes.check_crash_closes_only_that_socket(f"{base}/ws/probe/")


async def test_adapters_refuse_what_is_not_an_app_or_a_socket() -> None:
    not_an_app: Any = "not an app"
    with pytest.raises(TypeError, match="needs an ASGI app"):
        consumer_route("/x", not_an_app)
    with pytest.raises(TypeError, match="needs an ASGI app"):
        asgi_mount("/x", not_an_app)
    not_a_socket: Any = object()
    with pytest.raises(TypeError, match="Litestar WebSocket"):
        await run_consumer(EchoConsumer.as_asgi(), not_a_socket)


async def test_a_consumer_crash_is_not_handed_to_litestar_after_the_close(
    uvicorn_base: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Litestar would close the socket again, and uvicorn report the app as broken."""
    await probes.check_crash_closes_only_that_socket(f"{uvicorn_base}/ws/probe/")
    assert [r.message for r in caplog.records if r.name == "fast_channels.consumer"]
    assert not [r.message for r in caplog.records if r.name.startswith("uvicorn")]

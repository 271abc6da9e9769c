"""The common checks on the apps that need no adapter (bare ASGI, Starlette, FastAPI),
under uvicorn in this loop with real clients (Django, Litestar, Quart: their own modules)."""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator

import pytest

from fast_channels.layers import InMemoryChannelLayer
from tests.e2e.conftest import serve
from tests.e2e.frameworks import checks, probes

NAMES = ["bare", "starlette", "fastapi"]


@pytest.fixture(params=NAMES)
def name(request: pytest.FixtureRequest) -> str:
    value: str = request.param
    return value


@pytest.fixture
async def base(name: str, memory_layer: InMemoryChannelLayer) -> AsyncIterator[str]:
    module = importlib.import_module(f"tests.e2e.frameworks.{name}_app")
    async with serve(module.app, lifespan="on") as url:
        yield url
    stats = memory_layer.statistics()
    assert (stats.groups, stats.waiting_receivers, stats.channels) == (0, 0, 0)


async def test_http_beside_the_consumers(base: str, name: str) -> None:
    await checks.check_http(base, name)


async def test_echo_consumer(base: str) -> None:
    await checks.check_echo(base)


async def test_rooms_get_their_path_parameter(base: str) -> None:
    await checks.check_rooms(base)


async def test_unknown_websocket_path_is_refused(base: str) -> None:
    await checks.check_unknown_websocket_path_is_refused(base)


async def test_probe_accept_frames_and_close(base: str) -> None:
    await probes.check_accept_frames_and_close(f"{base}/ws/probe/")


async def test_probe_denied(base: str) -> None:
    await probes.check_denied(f"{base}/ws/probe/")


async def test_probe_crash_closes_only_that_socket(base: str) -> None:
    await probes.check_crash_closes_only_that_socket(f"{base}/ws/probe/")

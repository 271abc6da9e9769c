"""Django 5 and consumers in one ASGI app, under uvicorn and under daphne, with real clients."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

# The oldest-framework run of scripts/test installs no Django: skip there, visibly.
pytest.importorskip("django")


from fast_channels.layers import InMemoryChannelLayer
from tests.e2e.asgi_servers import running_server
from tests.e2e.conftest import serve
from tests.e2e.frameworks import checks, probes
from tests.e2e.frameworks.django_app import app


@pytest.fixture
async def uvicorn_base(memory_layer: InMemoryChannelLayer) -> AsyncIterator[str]:
    """The app under uvicorn in this loop, lifespan on: it must answer startup itself."""
    async with serve(app, lifespan="on") as url:
        yield url
    stats = memory_layer.statistics()
    assert (stats.groups, stats.waiting_receivers, stats.channels) == (0, 0, 0)


@pytest.fixture(scope="module")
def daphne_base() -> Iterator[str]:
    """The app under a daphne process (no lifespan: the layer is registered at import)."""
    with running_server("daphne", "tests.e2e.frameworks.django_app:app") as url:
        yield url


@pytest.fixture(params=["uvicorn", "daphne"])
def server(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def base(server: str, request: pytest.FixtureRequest) -> str:
    url: str = request.getfixturevalue(f"{server}_base")
    return url


async def test_django_view_answers_http(base: str) -> None:
    await checks.check_http(base, "django")


async def test_echo_consumer(base: str) -> None:
    await checks.check_echo(base)


async def test_rooms_get_their_path_parameter_and_relay_within_the_room(base: str) -> None:
    await checks.check_rooms(base)


async def test_unknown_websocket_path_is_refused(base: str) -> None:
    await checks.check_unknown_websocket_path_is_refused(base)


async def test_probe_accept_frames_and_close(base: str, server: str) -> None:
    await probes.check_accept_frames_and_close(f"{base}/ws/probe/", spec_2_0=server == "daphne")


async def test_probe_denied(base: str) -> None:
    await probes.check_denied(f"{base}/ws/probe/")


async def test_probe_crash_closes_only_that_socket(base: str) -> None:
    await probes.check_crash_closes_only_that_socket(f"{base}/ws/probe/")

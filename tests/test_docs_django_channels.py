"""The samples of docs/migrate/from-django-channels.md run: routing, consumer, testing,
layers, a Django project's asgi.py under uvicorn, a worker beside it, over a real Redis."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import AsyncIterator, Iterator

import pytest

# Run by the main suite only: the oldest-framework run of scripts/test installs no Django.
pytest.importorskip("django")

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Origin

from docs.examples import test_channels_chat
from fast_channels.layers import get_channel_layer, registered_aliases, unregister_channel_layer
from fast_channels.layers.redis import RedisChannelLayer
from tests.e2e.asgi_servers import ROOT, running_server
from tests.e2e.client import recv_json
from tests.e2e.frameworks.checks import http_get
from tests.servers import RedisProcess
from tests.worker.processes import Process

ORIGIN = Origin("http://localhost")


async def test_ported_channels_tests_pass() -> None:
    await test_channels_chat.test_members_of_a_room_chat()
    await test_channels_chat.test_unknown_paths_are_refused()


@pytest.fixture
async def redis_layers(
    redis_server: RedisProcess, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[None]:
    """``setup_channel_layers()`` of the layers sample, on the test's Redis; closed after."""
    from docs.examples.channels_layers import setup_channel_layers

    monkeypatch.setenv("REDIS_URL", redis_server.url)
    setup_channel_layers()
    yield
    for alias in registered_aliases():
        layer = unregister_channel_layer(alias)
        if layer is not None:
            await layer.aclose()


@pytest.mark.usefixtures("redis_layers")
async def test_layers_sample_registers_the_ported_configuration() -> None:
    layer = get_channel_layer()
    assert isinstance(layer, RedisChannelLayer)
    assert (layer.prefix, layer.capacity, layer.expiry, layer.group_expiry) == (
        "chat",
        1500,
        10,
        3600,
    )
    assert layer.capacity_for("websocket.send!abc") == 20
    channel = await layer.new_channel()
    await layer.group_add("chat_lobby", channel)
    await layer.group_send("chat_lobby", {"type": "chat.message", "message": "hi"})
    assert await layer.receive(channel) == {"type": "chat.message", "message": "hi"}
    assert registered_aliases() == ["default", "local"]


@pytest.fixture(scope="module")
def django_server(redis_server: RedisProcess) -> Iterator[str]:
    """The sample Django project under a uvicorn process, layers on the test's Redis."""
    with running_server(
        "uvicorn", "docs.examples.django_asgi:application", env={"REDIS_URL": redis_server.url}
    ) as url:
        yield url


async def joined(url: str) -> ClientConnection:
    """A client in a room, once its consumer is in the room's group (it echoes a message)."""
    ws = await connect(url, origin=ORIGIN)
    await ws.send(json.dumps({"message": "ready?"}))
    assert await recv_json(ws) == {"message": "ready?"}
    return ws


async def test_django_view_reaches_the_consumers(django_server: str) -> None:
    async with (
        await joined(f"{django_server}/ws/chat/lobby/") as alice,
        await joined(f"{django_server}/ws/rooms/lobby/") as bob,
    ):
        assert await recv_json(alice) == {"message": "ready?"}  # bob's
        http = django_server.replace("ws://", "http://", 1)
        answer = await http_get(f"{http}/announce/lobby/?text=from+django")
        assert answer == (200, "sent to lobby")
        assert await recv_json(alice) == {"message": "from django"}
        assert await recv_json(bob) == {"message": "from django"}


async def test_django_project_refuses_other_origins(django_server: str) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with connect(f"{django_server}/ws/chat/lobby/", origin=Origin("http://evil.example")):
            pass
    assert refused.value.response.status_code == 403


async def test_worker_reaches_the_django_projects_clients(
    django_server: str, redis_server: RedisProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DJANGO_SETTINGS_MODULE", raising=False)  # the worker's setup() sets it
    worker = Process(
        [
            sys.executable,
            "-m",
            "fast_channels",
            "worker",
            "thumbnails",
            "--app",
            "docs.examples.channels_worker:ThumbnailConsumer",
            "--setup",
            "docs.examples.channels_worker:setup",
        ],
        redis_url=redis_server.url,
    )
    sender = RedisChannelLayer(hosts=[redis_server.url], prefix="chat")
    try:
        worker.wait_for("receiving from")
        async with await joined(f"{django_server}/ws/chat/pics/") as client:
            await sender.send(
                "thumbnails", {"type": "thumbnail.create", "room": "pics", "image": "cat.png"}
            )
            assert await recv_json(client) == {"message": "thumbnail of cat.png ready"}
    finally:
        worker.stop()
        worker.wait()
        await sender.aclose()


def test_the_guides_code_is_the_tested_samples() -> None:
    """Every Python block of the guide is a verbatim excerpt of a file in docs/examples."""
    guide = (ROOT / "docs/migrate/from-django-channels.md").read_text()
    samples = [p.read_text() for p in sorted((ROOT / "docs/examples").glob("*.py"))]
    blocks = re.findall(r"```python\n(.*?)```", guide, flags=re.DOTALL)
    assert blocks
    for block in blocks:
        assert any(block in sample for sample in samples), f"not in docs/examples:\n{block}"

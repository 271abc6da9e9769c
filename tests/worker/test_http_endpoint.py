"""docs/examples/http_endpoint_fastapi.py in-process: in-memory layer, the app's own lifespan."""

from __future__ import annotations

import httpx
import pytest

from docs.examples import http_endpoint_fastapi as example
from fast_channels.layers import get_channel_layer, registered_aliases
from fast_channels.testing import WebsocketCommunicator


@pytest.fixture(autouse=True)
def no_redis(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REDIS_URL", raising=False)


def client() -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=example.app)
    return httpx.AsyncClient(transport=transport, base_url="http://test")


async def test_a_post_reaches_every_websocket_client_and_shutdown_closes_the_layer() -> None:
    async with example.lifespan(example.app):
        layer = example.channel_layer()
        sockets = [WebsocketCommunicator(example.app, "/ws/updates") for _ in range(2)]
        for socket in sockets:
            assert (await socket.connect())[0]
        async with client() as http:
            response = await http.post("/notify", json={"text": "deploy finished"})
            assert response.json() == {"status": "sent"}
            for socket in sockets:
                assert await socket.receive_json_from() == {
                    "type": "notification",
                    "text": "deploy finished",
                }
            # A plain `def` route runs in a worker thread and uses the sync API.
            await http.post("/notify-sync", json={"text": "from a thread"})
            for socket in sockets:
                assert (await socket.receive_json_from())["text"] == "from a thread"
        for socket in sockets:
            await socket.disconnect()
        assert not layer.closed
    assert layer.closed
    assert registered_aliases() == []


async def test_a_thumbnail_request_is_queued_on_the_named_channel() -> None:
    async with example.lifespan(example.app), client() as http:
        response = await http.post("/thumbnails", json={"job": 3, "image": "cat.png"})
        assert response.status_code == 202
        message = await get_channel_layer().receive(example.THUMBNAILS)
    assert message == {"type": "thumbnail.create", "job": 3, "image": "cat.png"}

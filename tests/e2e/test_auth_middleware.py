"""AuthMiddleware under uvicorn, with real WebSocket and HTTP clients
(docs/examples/auth_middleware.py): the user from a header, the query string or a cookie,
anonymous without one, and refused connections when a user is required."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from docs.examples.auth_middleware import app
from tests.e2e.client import recv_json
from tests.e2e.conftest import serve


@pytest.fixture
async def base() -> AsyncIterator[str]:
    async with serve(app) as url:
        yield url


@pytest.mark.parametrize(
    ("path", "headers", "user"),
    [
        ("/ws/whoami", {"Authorization": "Bearer secret-token"}, "alice"),
        ("/ws/whoami?token=secret-token", {}, "alice"),
        ("/ws/whoami", {"Authorization": "Basic secret-token"}, None),
        ("/ws/whoami?token=forged", {}, None),
        ("/ws/whoami", {}, None),
        ("/ws/session", {"Cookie": "theme=dark; sessionid=session-123"}, "bob"),
        ("/ws/session?token=secret-token", {}, None),
        ("/ws/members?token=secret-token", {}, "alice"),
    ],
)
async def test_the_user_reaches_the_consumer(
    base: str, path: str, headers: dict[str, str], user: str | None
) -> None:
    async with connect(f"{base}{path}", additional_headers=headers) as ws:
        assert await recv_json(ws) == {"user": user}


@pytest.mark.parametrize("query", ["", "?token=forged"])
async def test_a_required_user_refuses_the_handshake(base: str, query: str) -> None:
    with pytest.raises(InvalidStatus) as info:
        async with connect(f"{base}/ws/members{query}"):
            pass
    assert info.value.response.status_code == 403


async def test_a_required_user_refuses_the_http_request(base: str) -> None:
    http = base.replace("ws://", "http://")
    async with httpx.AsyncClient(base_url=http, timeout=10) as client:
        refused = await client.get("/whoami")
        assert (refused.status_code, refused.headers["www-authenticate"]) == (401, "Bearer")
        allowed = await client.get("/whoami", headers={"Authorization": "Bearer secret-token"})
        assert (allowed.status_code, allowed.text) == (200, "alice")

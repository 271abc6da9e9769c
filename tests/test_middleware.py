"""BaseMiddleware, OriginValidator, and the user from Starlette's authentication."""

from __future__ import annotations

from typing import Any

import pytest

from docs.examples.auth import app as auth_app
from fast_channels.consumer import AsyncJsonWebsocketConsumer
from fast_channels.exceptions import ConfigurationError
from fast_channels.middleware import BaseMiddleware, OriginValidator, deny_websocket
from fast_channels.testing import ApplicationCommunicator, WebsocketCommunicator
from fast_channels.types import Receive, Scope, Send


class ScopeEcho(AsyncJsonWebsocketConsumer):
    channel_layer_alias = None

    async def connect(self) -> None:
        await self.accept()
        await self.send_json({"tenant": self.scope.get("tenant")})


class TenantMiddleware(BaseMiddleware):
    async def populate_scope(self, scope: Scope) -> None:
        scope["tenant"] = "acme"


async def test_base_middleware_populates_a_copy_of_the_scope() -> None:
    seen: list[Scope] = []

    async def inner(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope)
        scope["inner"] = True

    outer_scope: Scope = {"type": "websocket", "path": "/"}
    await TenantMiddleware(inner)(outer_scope, _never, _discard)
    assert seen[0]["tenant"] == "acme"
    assert "tenant" not in outer_scope
    assert "inner" not in outer_scope


async def test_middleware_wraps_a_consumer_app() -> None:
    app = TenantMiddleware(ScopeEcho.as_asgi())
    async with WebsocketCommunicator(app, "/") as client:
        await client.connect()
        assert await client.receive_json_from() == {"tenant": "acme"}


def test_middleware_needs_an_app() -> None:
    not_an_app: Any = None
    with pytest.raises(TypeError, match="wraps an ASGI app"):
        BaseMiddleware(not_an_app)


async def _never() -> dict[str, Any]:
    raise AssertionError("not expected to receive")


async def _discard(message: Any) -> None:
    """Drop what the app sends."""


# -- OriginValidator ---------------------------------------------------------------------

ALLOWED = ["https://example.com", ".trusted.org", "localhost:8000", "http://a.test:8080"]


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        ("https://example.com", True),
        ("https://example.com:443", True),
        ("https://EXAMPLE.com", True),
        ("http://example.com", False),
        ("https://example.com:8443", False),
        ("https://evil-example.com", False),
        ("https://trusted.org", True),
        ("http://deep.sub.trusted.org:81", True),
        ("https://nottrusted.org", False),
        ("http://localhost:8000", True),
        ("http://localhost:8001", False),
        ("http://a.test:8080", True),
        ("http://a.test", False),
        ("null", False),
        ("", False),
        ("not a url", False),
        ("http://localhost:notaport", False),
        (None, False),
    ],
)
def test_origin_patterns(origin: str | None, allowed: bool) -> None:
    validator = OriginValidator(ScopeEcho.as_asgi(), ALLOWED)
    assert validator.allows(origin) is allowed


def test_star_allows_everything_even_no_origin() -> None:
    validator = OriginValidator(ScopeEcho.as_asgi(), ["*"])
    assert validator.allows(None)
    assert validator.allows("https://anything.example")


@pytest.mark.parametrize(
    "patterns",
    [["https://"], ["example.com/path"], ["example.com:99999"], [""], [3], "example.com"],
)
def test_bad_patterns_are_configuration_errors(patterns: Any) -> None:
    with pytest.raises(ConfigurationError):
        OriginValidator(ScopeEcho.as_asgi(), patterns)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ([(b"origin", b"https://example.com")], (True, None)),
        ([(b"origin", b"https://evil.example")], (False, 1008)),
        ([], (False, 1008)),
    ],
)
async def test_validator_denies_the_handshake_of_other_origins(
    headers: list[tuple[bytes, bytes]], expected: tuple[bool, int | None]
) -> None:
    app = OriginValidator(ScopeEcho.as_asgi(), ["https://example.com"])
    async with WebsocketCommunicator(app, "/", headers=headers) as client:
        assert await client.connect() == expected


async def test_validator_passes_other_scope_types_through() -> None:
    async def http_app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 204, "headers": []})

    communicator = ApplicationCommunicator(OriginValidator(http_app, []), {"type": "http"})
    assert (await communicator.receive_output())["status"] == 204


async def test_denier_ignores_a_client_that_already_left() -> None:
    communicator = ApplicationCommunicator(deny_websocket, {"type": "websocket"})
    await communicator.send_input({"type": "websocket.disconnect", "code": 1001})
    await communicator.wait()
    assert await communicator.receive_nothing(timeout=0)


# -- the authenticated user ----------------------------------------------------------------


async def test_authenticated_user_reaches_the_consumer_scope() -> None:
    async with WebsocketCommunicator(auth_app, "/ws/whoami?token=secret-token") as client:
        assert await client.connect() == (True, None)
        assert await client.receive_json_from() == {"user": "alice"}


@pytest.mark.parametrize("query", ["", "?token=wrong"])
async def test_anonymous_or_bad_tokens_are_rejected(query: str) -> None:
    async with WebsocketCommunicator(auth_app, f"/ws/whoami{query}") as client:
        connected, _ = await client.connect()
        assert not connected

"""WebSocket middleware: allow handshakes from some origins only, and deny handshakes.

* :class:`OriginValidator` rejects WebSocket handshakes whose ``Origin`` header is not
  allowed (cross-site WebSocket hijacking);
* :func:`deny_websocket` is the ASGI app that rejects a handshake, and
  :class:`WebsocketDenier` the same as a consumer (fast-channels 1.x's name);
* :func:`is_same_domain` is the host rule the allowed origins follow.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from fast_channels.consumer.websocket import AsyncWebsocketConsumer
from fast_channels.exceptions import ConfigurationError
from fast_channels.middleware.base import BaseMiddleware
from fast_channels.status import CloseCode
from fast_channels.types import ASGIApp, Receive, Scope, Send

__all__ = ["OriginValidator", "WebsocketDenier", "deny_websocket", "is_same_domain"]

_DEFAULT_PORTS = {"http": 80, "ws": 80, "https": 443, "wss": 443}


async def deny_websocket(scope: Scope, receive: Receive, send: Send) -> None:
    """An ASGI app that rejects a WebSocket handshake.

    It answers ``websocket.connect`` with ``websocket.close`` (``POLICY_VIOLATION``,
    1008); servers turn a close before accept into an HTTP 403 response.
    """
    event = await receive()
    if event.get("type") == "websocket.connect":
        await send({"type": "websocket.close", "code": int(CloseCode.POLICY_VIOLATION)})


@dataclass(frozen=True, slots=True)
class _Origin:
    scheme: str | None
    host: str
    port: int | None


def _parse_pattern(pattern: object) -> _Origin | None:
    """None for ``"*"``; a scheme-less pattern matches any scheme (and any port if none)."""
    if not isinstance(pattern, str) or not pattern:
        raise ConfigurationError(f"allowed origins must be non-empty str, got {pattern!r}")
    if pattern == "*":
        return None
    with_scheme = "://" in pattern
    parts = urlsplit(pattern if with_scheme else f"//{pattern}")
    try:
        port = parts.port
    except ValueError:
        port = -1
    if not parts.hostname or port == -1 or parts.path not in ("", "/") or parts.query:
        raise ConfigurationError(
            f"allowed origin {pattern!r} is not an origin: use '*', 'https://example.com', "
            "'example.com', '.example.com' (with subdomains) or 'example.com:8000'"
        )
    scheme = parts.scheme.lower() if with_scheme else None
    if scheme is not None and port is None:
        port = _DEFAULT_PORTS.get(scheme)
    return _Origin(scheme, parts.hostname.lower(), port)


def _parse_origin(value: str) -> _Origin | None:
    if not value or value == "null":
        return None
    parts = urlsplit(value)
    try:
        port = parts.port
    except ValueError:
        return None
    if not parts.scheme or not parts.hostname:
        return None
    scheme = parts.scheme.lower()
    return _Origin(scheme, parts.hostname.lower(), port or _DEFAULT_PORTS.get(scheme))


def is_same_domain(host: str, pattern: str) -> bool:
    """Whether ``host`` matches ``pattern``, ignoring case: a pattern starting with ``.``
    matches that domain and all its subdomains (``.example.com`` matches ``example.com``
    and ``a.example.com``); any other pattern only the very same host."""
    if not pattern:
        return False
    host, pattern = host.lower(), pattern.lower()
    if pattern.startswith("."):
        return host == pattern[1:] or host.endswith(pattern)
    return host == pattern


def _matches(origin: _Origin, pattern: _Origin) -> bool:
    if pattern.scheme is not None and pattern.scheme != origin.scheme:
        return False
    if pattern.port is not None and pattern.port != origin.port:
        return False
    return is_same_domain(origin.host, pattern.host)


class OriginValidator(BaseMiddleware):
    """Lets WebSocket connections through only from ``allowed_origins``.

    Patterns: ``"*"`` (anything, also no ``Origin`` header); ``"https://example.com"``
    (that scheme, host and port; default ports are implied); ``"example.com"`` (that host,
    any scheme and port); ``".example.com"`` (the domain and all its subdomains);
    ``"example.com:8000"`` (that host and port). A connection without an ``Origin``
    header, or with ``Origin: null``, is allowed only by ``"*"``. Other scope types
    (HTTP, lifespan) pass through unchecked.
    """

    def __init__(self, app: ASGIApp, allowed_origins: Sequence[str]) -> None:
        super().__init__(app)
        if isinstance(allowed_origins, str) or not isinstance(allowed_origins, Sequence):
            raise ConfigurationError(
                f"allowed_origins must be a list of origins, got {allowed_origins!r}"
            )
        self.allowed_origins: tuple[str, ...] = tuple(allowed_origins)
        parsed = [_parse_pattern(p) for p in allowed_origins]
        self.allow_any: bool = None in parsed
        self._patterns = [p for p in parsed if p is not None]

    @property
    def application(self) -> ASGIApp:
        """The wrapped app (fast-channels 1.x's name of :attr:`app`)."""
        return self.app

    def allows(self, origin: str | None) -> bool:
        """Whether a handshake with this ``Origin`` header value (None: absent) may pass."""
        if self.allow_any:
            return True
        parsed = _parse_origin(origin) if origin is not None else None
        if parsed is None:
            return False
        return any(_matches(parsed, pattern) for pattern in self._patterns)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Deny a WebSocket handshake from an origin that is not allowed."""
        if scope.get("type") == "websocket" and not self.allows(_origin_header(scope)):
            await deny_websocket(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def _origin_header(scope: Scope) -> str | None:
    headers: Sequence[tuple[bytes, bytes]] = scope.get("headers") or ()
    for name, value in headers:
        if name.lower() == b"origin":
            return value.decode("latin-1")
    return None


class WebsocketDenier(AsyncWebsocketConsumer):
    """A consumer that rejects every WebSocket handshake (``POLICY_VIOLATION``, 1008;
    servers answer HTTP 403), as :func:`deny_websocket` does. Mount it with
    ``WebsocketDenier.as_asgi()``."""

    channel_layer_alias: str | None = None

    async def connect(self) -> None:
        """Reject the handshake."""
        await self.close(CloseCode.POLICY_VIOLATION)

"""The user of a connection in ``scope["user"]``, from a token or a session cookie.

::

    async def user_for(token: str) -> User | None: ...   # None: no such user

    app = AuthMiddleware(ChatConsumer.as_asgi(), authenticate=user_for)

:class:`AuthMiddleware` finds the connection's credential, asks ``authenticate`` for the
user it stands for, and runs the inner app with ``scope["user"]`` set to that user, or to
:class:`AnonymousUser` when there is no credential or ``authenticate`` returned None. It
looks, in this order, at:

1. a header (``Authorization: Bearer <token>`` by default): for non-browser clients,
   since browsers cannot set headers on a WebSocket;
2. a cookie (``cookie="sessionid"``): the value of a session cookie the browser sends
   with the handshake, when your sessions live server-side (``authenticate`` looks the
   session up);
3. the session (``session_key="user_id"``): a value that Starlette's
   ``SessionMiddleware``, wrapped around this middleware, decoded from its signed cookie
   into ``scope["session"]``;
4. a query-string parameter (``?token=...``, the default): what a browser's
   ``new WebSocket(url)`` can send. Servers and proxies log URLs: use short-lived tokens.

Each source can be switched off with None. With ``required=True`` a connection without a
user is refused: a WebSocket handshake is rejected (HTTP 403), an HTTP request answered
401. HTTP and WebSocket connections are authenticated; other scopes (lifespan) pass
through. An exception from ``authenticate`` propagates: the server answers 500.

Starlette's ``AuthenticationMiddleware`` does the same job for a Starlette or FastAPI app
as a whole, with a backend class; a consumer behind either one reads
``self.scope["user"]`` the same way (``docs/examples/auth.py``,
``docs/examples/auth_middleware.py``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Final, cast
from urllib.parse import parse_qs

from fast_channels.exceptions import ConfigurationError
from fast_channels.middleware.base import BaseMiddleware
from fast_channels.middleware.websocket import deny_websocket
from fast_channels.types import ASGIApp, Receive, Scope, Send

__all__ = ["AnonymousUser", "AuthMiddleware", "Authenticate"]

Authenticate = Callable[[str], Awaitable[object | None]]
"""Turns a credential (a token, a session id, a session value) into a user, or None."""


class AnonymousUser:
    """``scope["user"]`` of a connection without a (known) user.

    It answers what Starlette's user classes answer (``is_authenticated``,
    ``display_name``, ``identity``) and Django's ``is_anonymous``.
    """

    is_authenticated: Final = False
    is_anonymous: Final = True
    display_name: Final = ""
    identity: Final = ""

    def __repr__(self) -> str:
        return "AnonymousUser()"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AnonymousUser)

    def __hash__(self) -> int:
        return hash(AnonymousUser)


def _option(name: str, value: object) -> str | None:
    if value is not None and (not isinstance(value, str) or not value):
        raise ConfigurationError(f"AuthMiddleware({name}=) must be a non-empty str or None")
    return value


class AuthMiddleware(BaseMiddleware):
    """Sets ``scope["user"]`` from the connection's credential (see the module's notes).

    ``header`` is a header name, ``scheme`` the word before the token in it (None: the
    whole value is the token, as for ``X-API-Key``); ``cookie``, ``session_key`` and
    ``query_param`` name where else to look.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        authenticate: Authenticate,
        header: str | None = "authorization",
        scheme: str | None = "Bearer",
        cookie: str | None = None,
        session_key: str | None = None,
        query_param: str | None = "token",
        required: bool = False,
    ) -> None:
        super().__init__(app)
        if not callable(authenticate):
            raise TypeError(
                "AuthMiddleware(authenticate=) needs an async function from a credential "
                f"(str) to a user or None, got {authenticate!r}"
            )
        self.authenticate: Authenticate = authenticate
        header = _option("header", header)
        self.header: bytes | None = header.lower().encode("latin-1") if header else None
        self.scheme: str | None = _option("scheme", scheme)
        self.cookie: str | None = _option("cookie", cookie)
        self.session_key: str | None = _option("session_key", session_key)
        self.query_param: str | None = _option("query_param", query_param)
        if not isinstance(required, bool):
            raise ConfigurationError(f"AuthMiddleware(required=) must be a bool, got {required!r}")
        self.required = required

    def credential(self, scope: Scope) -> str | None:
        """The first credential the connection carries (header, cookie, session, query)."""
        headers: Sequence[tuple[bytes, bytes]] = scope.get("headers") or ()
        if self.header is not None:
            token = self._from_header(headers)
            if token:
                return token
        if self.cookie is not None:
            token = _cookie(headers, self.cookie)
            if token:
                return token
        if self.session_key is not None:
            session: object = scope.get("session")
            if isinstance(session, Mapping):
                value: object = cast(Mapping[str, object], session).get(self.session_key)
                if value is not None and value != "":
                    return str(value)
        if self.query_param is not None:
            query = bytes(scope.get("query_string") or b"").decode("latin-1")
            values = parse_qs(query).get(self.query_param)
            if values and values[0]:
                return values[0]
        return None

    def _from_header(self, headers: Sequence[tuple[bytes, bytes]]) -> str | None:
        for name, value in headers:
            if name.lower() != self.header:
                continue
            text = value.decode("latin-1").strip()
            if self.scheme is None:
                return text or None
            word, _, token = text.partition(" ")
            if word.lower() == self.scheme.lower() and token.strip():
                return token.strip()
        return None

    async def populate_scope(self, scope: Scope) -> None:
        """Set ``scope["user"]``: the user ``authenticate`` returns, or ``AnonymousUser``."""
        credential = self.credential(scope)
        user = await self.authenticate(credential) if credential is not None else None
        scope["user"] = AnonymousUser() if user is None else user

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Authenticate HTTP and WebSocket connections; refuse them if ``required`` and
        there is no user."""
        kind = scope.get("type")
        if kind not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        inner_scope = dict(scope)
        await self.populate_scope(inner_scope)
        if self.required and isinstance(inner_scope["user"], AnonymousUser):
            if kind == "websocket":
                await deny_websocket(scope, receive, send)
            else:
                await self._unauthorized(send)
            return
        await self.app(inner_scope, receive, send)

    async def _unauthorized(self, send: Send) -> None:
        headers = [(b"content-type", b"text/plain; charset=utf-8")]
        if self.header == b"authorization" and self.scheme is not None:
            headers.append((b"www-authenticate", self.scheme.encode("latin-1")))
        await send({"type": "http.response.start", "status": 401, "headers": headers})
        await send({"type": "http.response.body", "body": b"authentication required"})


def _cookie(headers: Sequence[tuple[bytes, bytes]], name: str) -> str | None:
    """The value of cookie ``name``; a malformed neighbour does not hide it."""
    for header, value in headers:
        if header.lower() != b"cookie":
            continue
        for pair in value.decode("latin-1").split(";"):
            key, equals, text = pair.partition("=")
            if not equals or key.strip() != name:
                continue
            text = text.strip()
            if len(text) >= 2 and text[0] == text[-1] == '"':
                text = text[1:-1]
            if text:
                return text
    return None

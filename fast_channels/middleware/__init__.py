"""ASGI middleware to put in front of consumers.

* :class:`BaseMiddleware` wraps an inner ASGI app and hands it a *copy* of the scope, so
  what a middleware adds (``scope["user"]``, ...) is seen by the app it wraps and never
  leaks back into the server's or an outer app's scope. Override ``populate_scope``.
* :class:`AuthMiddleware` sets ``scope["user"]`` from a token (header or query string) or
  a session cookie; :class:`AnonymousUser` when there is none (:mod:`.auth`).
* :class:`OriginValidator` rejects WebSocket handshakes whose ``Origin`` header is not
  allowed (cross-site WebSocket hijacking); :func:`deny_websocket` is the rejection, and
  :class:`WebsocketDenier` the same as a consumer (:mod:`.websocket`).

Starlette's ``AuthenticationMiddleware`` (FastAPI re-exports it) runs on WebSocket
connections too and sets ``scope["user"]`` and ``scope["auth"]``, so a consumer behind it
reads ``self.scope["user"]`` as well. See ``docs/examples/auth.py``.

``fast_channels.middleware.base`` and ``fast_channels.middleware.websocket`` are
fast-channels 1.x's module paths; they hold the same classes.
"""

from fast_channels.middleware.auth import AnonymousUser, Authenticate, AuthMiddleware
from fast_channels.middleware.base import BaseMiddleware
from fast_channels.middleware.websocket import (
    OriginValidator,
    WebsocketDenier,
    deny_websocket,
    is_same_domain,
)

__all__ = [
    "AnonymousUser",
    "AuthMiddleware",
    "Authenticate",
    "BaseMiddleware",
    "OriginValidator",
    "WebsocketDenier",
    "deny_websocket",
    "is_same_domain",
]

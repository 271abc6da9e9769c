"""The base of ASGI middleware that adds to the scope of the app it wraps."""

from __future__ import annotations

from fast_channels.types import ASGIApp, Receive, Scope, Send

__all__ = ["BaseMiddleware"]


class BaseMiddleware:
    """Runs the inner ``app`` with a copy of the scope that ``populate_scope`` filled.

    What a middleware adds (``scope["user"]``, ...) is seen by the app it wraps and never
    leaks back into the server's or an outer app's scope. One instance serves every
    connection: keep per-connection state in the scope, not on ``self``.
    """

    def __init__(self, app: ASGIApp) -> None:
        if not callable(app):
            raise TypeError(f"{type(self).__name__} wraps an ASGI app, got {app!r}")
        self.app = app

    @property
    def inner(self) -> ASGIApp:
        """The wrapped app (fast-channels 1.x's name of :attr:`app`)."""
        return self.app

    async def populate_scope(self, scope: Scope) -> None:
        """Add to (or change) the scope the inner app will see. Does nothing by default."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Copy the scope, populate the copy, and run the inner app with it."""
        inner_scope = dict(scope)
        await self.populate_scope(inner_scope)
        await self.app(inner_scope, receive, send)

"""Consumers in Litestar apps, path parameters included (``pip install fast-channels[litestar]``).

Litestar's ``WebSocket`` and scope are typed with Litestar's own ASGI types, so handing them
to a consumer app does not type-check, and a mount (``is_mount=True``) drops the path
parameters. Three typed ways instead::

    from fast_channels.integrations.litestar import asgi_mount, consumer_route, run_consumer

    app = Litestar(
        route_handlers=[
            # a WebSocket route; Litestar parses the parameters
            consumer_route("/ws/rooms/{room:str}", RoomConsumer.as_asgi()),
            # a mounted URLRouter; it parses the parameters of what follows /chat
            asgi_mount("/chat", URLRouter([path("<str:room>/", RoomConsumer.as_asgi())])),
            rooms_with_guards,
        ]
    )


    # your own handler, for guards or dependencies: hand the socket over, not yet accepted
    @websocket("/ws/guarded/{room:str}", guards=[...])
    async def rooms_with_guards(socket: WebSocket[Any, Any, Any]) -> None:
        await run_consumer(RoomConsumer.as_asgi(), socket)

The consumer finds the parameters (converted by Litestar: ``{n:int}`` gives an int) in
``scope["path_params"]`` and, as Django Channels puts them, in
``scope["url_route"]["kwargs"]``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, TypeAlias, cast

from litestar import WebSocket
from litestar.handlers import ASGIRouteHandler, WebsocketRouteHandler, asgi, websocket
from litestar.types import Receive as LitestarReceive
from litestar.types import Scope as LitestarScope
from litestar.types import Send as LitestarSend

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping

    from fast_channels.routing import RoutedApp
    from fast_channels.types import Receive

    _Send: TypeAlias = Callable[[Mapping[str, Any]], Awaitable[None]]

__all__ = ["asgi_mount", "consumer_route", "run_consumer"]

logger: logging.Logger = logging.getLogger("fast_channels.integrations.litestar")


async def run_consumer(app: RoutedApp, socket: WebSocket[Any, Any, Any]) -> None:
    """Serve ``socket`` (not yet accepted) with ``app``, e.g. ``Consumer.as_asgi()``.

    The app gets a copy of the socket's scope with the route's path parameters in
    ``path_params`` and ``url_route``, and the raw ASGI ``receive`` and ``send``. Returns
    when the app does. An exception from an app that had closed the socket already (a
    consumer closes with 1011 and logs the error on ``fast_channels.consumer``) ends here:
    Litestar's error handling would try to close the socket a second time. Any other
    exception propagates to Litestar.
    """
    if not isinstance(socket, WebSocket):
        raise TypeError(f"run_consumer() needs a Litestar WebSocket, got {socket!r}")
    scope: dict[str, Any] = dict(socket.scope)
    params = dict(socket.path_params)
    scope["path_params"] = params
    scope["url_route"] = {"args": (), "kwargs": dict(params)}
    send_event = cast("_Send", socket.send)
    closed = False

    async def send(event: Mapping[str, Any]) -> None:
        nonlocal closed
        await send_event(event)
        if event.get("type") == "websocket.close":
            closed = True  # only once the server took it (daphne refuses some codes)

    try:
        await app(scope, cast("Receive", socket.receive), send)
    except Exception as exc:
        if not closed:
            raise
        logger.debug("%r ended with %r after closing the socket", app, exc)


def consumer_route(
    path: str, app: RoutedApp, /, *, name: str | None = None
) -> WebsocketRouteHandler:
    """A Litestar WebSocket route serving each connection with ``app``.

    ``path`` is in Litestar's syntax (``"/ws/rooms/{room:str}"``); its parameters reach
    the consumer as :func:`run_consumer` describes. ``name`` names the route for
    ``app.route_reverse()``.
    """
    if not callable(app):
        raise TypeError(f"consumer_route({path!r}, ...) needs an ASGI app, got {app!r}")

    async def serve(socket: WebSocket[Any, Any, Any]) -> None:
        await run_consumer(app, socket)

    serve.__qualname__ = serve.__name__ = f"consumer_route[{path}]"
    return websocket(path, name=name)(serve)


def asgi_mount(path: str, app: RoutedApp, /, *, name: str | None = None) -> ASGIRouteHandler:
    """Mount ``app`` (typically a :class:`~fast_channels.routing.URLRouter`) at ``path``.

    Every request and connection under ``path`` goes to ``app``, with ``scope["path"]``
    relative to the mount (as Litestar's ``is_mount=True`` does). A ``URLRouter`` then
    parses the path parameters that follow the mount point.
    """
    if not callable(app):
        raise TypeError(f"asgi_mount({path!r}, ...) needs an ASGI app, got {app!r}")

    async def serve(scope: LitestarScope, receive: LitestarReceive, send: LitestarSend) -> None:
        await app(dict(scope), cast("Receive", receive), cast("_Send", send))

    serve.__qualname__ = serve.__name__ = f"asgi_mount[{path}]"
    return asgi(path, is_mount=True, copy_scope=True, name=name)(serve)

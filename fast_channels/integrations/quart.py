"""Consumers in Quart apps, path parameters included (``pip install fast-channels[quart]``).

Quart reads the ASGI events of a WebSocket itself and hands its handlers a ``websocket``
object with no ASGI ``receive`` or ``send``. :func:`run_consumer` serves that object with a
consumer app, translating both ways::

    from quart import Quart, websocket
    from fast_channels.integrations.quart import run_consumer

    app = Quart(__name__)


    @app.websocket("/ws/rooms/<room>")
    async def rooms(room: str) -> None:
        await run_consumer(RoomConsumer.as_asgi(), websocket)

The consumer finds the route's parameters (converted by Quart: ``<int:n>`` gives an int)
in ``scope["path_params"]`` and ``scope["url_route"]["kwargs"]``; the scope is a copy of
the one Quart got, so headers, query string and subprotocols are all there.

What Quart does not pass on: the close code a client sent. Quart cancels its handler when
the client leaves; :func:`run_consumer` turns that into a ``websocket.disconnect`` event
with ``NO_STATUS_RECEIVED`` (1005), so ``disconnect()`` runs and groups are left as under
any other server, and then lets the cancellation go on.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any, Final, Protocol

from quart.wrappers import Websocket
from werkzeug.datastructures import Headers

from fast_channels.status import CloseCode

if TYPE_CHECKING:
    from collections.abc import Mapping

    from fast_channels.routing import RoutedApp

__all__ = ["run_consumer"]


class _QuartWebsocket(Protocol):
    """What the adapter uses of Quart's ``Websocket`` (typed more narrowly than Quart's)."""

    async def accept(self, headers: Headers, subprotocol: str | None) -> None: ...

    async def receive(self) -> str | bytes: ...

    async def send(self, data: str | bytes) -> None: ...

    async def close(self, code: int, reason: str) -> None: ...


class _Connection:
    """ASGI ``receive`` and ``send`` over Quart's ``websocket`` object."""

    def __init__(self, websocket: _QuartWebsocket) -> None:
        self._websocket: Final = websocket
        self._events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._events.put_nowait({"type": "websocket.connect"})
        self._pump: asyncio.Task[None] | None = None
        self._ended = False

    async def receive(self) -> dict[str, Any]:
        """The next ASGI event: the handshake, then frames once accepted, then the end."""
        return await self._events.get()

    async def send(self, event: Mapping[str, Any]) -> None:
        """Carry out one ASGI event the app sends through Quart's ``websocket``."""
        kind = event.get("type")
        if self._ended:
            raise OSError(f"the WebSocket is closed: {kind!r} not sent")
        if kind == "websocket.accept":
            headers = Headers()
            for name, value in event.get("headers") or ():
                headers.add(name.decode("latin-1"), value.decode("latin-1"))
            await self._websocket.accept(headers, event.get("subprotocol"))
            self._pump = asyncio.create_task(self._read_frames())
        elif kind == "websocket.send":
            text = event.get("text")
            await self._websocket.send(text if text is not None else event.get("bytes") or b"")
        elif kind == "websocket.close":
            code = int(event.get("code", CloseCode.NORMAL_CLOSURE))
            await self._websocket.close(code, event.get("reason") or "")
            self.end(code)
        else:
            raise ValueError(f"run_consumer() cannot send a {kind!r} event through Quart")

    def end(self, code: int) -> None:
        """The socket is gone: stop reading frames; the app's next event is the disconnect."""
        if self._ended:
            return
        self._ended = True
        if self._pump is not None:
            self._pump.cancel()
        self._events.put_nowait({"type": "websocket.disconnect", "code": code})

    async def aclose(self) -> None:
        """Stop reading frames and wait until the reader has stopped."""
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump

    async def _read_frames(self) -> None:
        while True:
            data = await self._websocket.receive()
            if isinstance(data, str):
                self._events.put_nowait({"type": "websocket.receive", "text": data})
            else:
                self._events.put_nowait({"type": "websocket.receive", "bytes": data})


async def run_consumer(app: RoutedApp, websocket: Websocket) -> None:
    """Serve Quart's current ``websocket`` (not yet accepted) with ``app``.

    Call it in a ``@app.websocket`` handler with ``quart.websocket``. The app gets a copy
    of the connection's scope with the route's parameters in ``path_params`` and
    ``url_route``. Returns when the app does; what it raises propagates to Quart.
    """
    if not isinstance(websocket, Websocket):
        raise TypeError(f"run_consumer() needs Quart's websocket, got {websocket!r}")
    scope: dict[str, Any] = dict(websocket.scope)
    params = dict(websocket.view_args or {})
    scope["path_params"] = params
    scope["url_route"] = {"args": (), "kwargs": dict(params)}
    connection = _Connection(websocket)

    async def serve() -> None:
        await app(scope, connection.receive, connection.send)

    serving = asyncio.create_task(serve())
    try:
        await asyncio.shield(serving)
    except asyncio.CancelledError:
        connection.end(CloseCode.NO_STATUS_RECEIVED)  # Quart cancels us when the client left
        await asyncio.wait({serving})  # disconnect() runs; cancelled again: stop it (below)
        raise
    finally:
        if not serving.done():
            serving.cancel()
        await connection.aclose()

"""Types shared by consumers, layers and the testing utilities.

The ASGI aliases match Starlette's (``MutableMapping[str, Any]`` events), so an
``as_asgi()`` application type-checks wherever Starlette or FastAPI expect an ASGI app.
The event TypedDicts document the WebSocket and HTTP events of the ASGI spec, tagged by
their ``type`` literal.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Literal, NotRequired, Protocol, TypedDict, runtime_checkable

__all__ = [
    "ASGIApp",
    "HttpDisconnectEvent",
    "HttpRequestEvent",
    "HttpResponseBodyEvent",
    "HttpResponseStartEvent",
    "Message",
    "Receive",
    "Scope",
    "Send",
    "WebSocketAcceptEvent",
    "WebSocketCloseEvent",
    "WebSocketConnectEvent",
    "WebSocketConnection",
    "WebSocketDisconnectEvent",
    "WebSocketReceiveEvent",
    "WebSocketSendEvent",
]

Scope = MutableMapping[str, Any]
"""The ASGI connection scope (``type``, ``path``, ``headers``, ``query_string``, ...)."""

ASGIEvent = MutableMapping[str, Any]
"""One ASGI event, received or sent: a mapping whose str ``type`` says which (see the event
TypedDicts below)."""

Receive = Callable[[], Awaitable[ASGIEvent]]
"""The ASGI ``receive`` callable a server gives an app: each await returns the connection's
next event (``websocket.connect``, ``websocket.receive``, ``websocket.disconnect``,
``http.request``, ...), waiting until there is one."""

Send = Callable[[ASGIEvent], Awaitable[None]]
"""The ASGI ``send`` callable a server gives an app: each await hands one event to the
server (``websocket.accept``, ``websocket.send``, ``websocket.close``,
``http.response.start``, ...)."""

ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
"""An ASGI application: called once per connection with its scope, ``receive`` and
``send``, it serves the connection and returns when done with it. ``Consumer.as_asgi()``
makes one. Every framework's app is one at run time; Starlette's and FastAPI's type-check
as one too (their aliases are these)."""

Message = dict[str, Any]
"""A channel-layer message: a dict with str keys and a str ``"type"``."""


@runtime_checkable
class WebSocketConnection(Protocol):
    """A framework's WebSocket object that still exposes the raw ASGI connection.

    Starlette's and FastAPI's ``WebSocket`` fit, so ``await Consumer.as_asgi()(websocket)``
    runs a consumer on a socket that a framework endpoint received (not yet accepted).
    """

    @property
    def scope(self) -> Scope:
        """The connection's ASGI scope."""
        ...

    async def receive(self) -> ASGIEvent:
        """The next raw ASGI event from the client."""
        ...

    async def send(self, message: ASGIEvent) -> None:
        """Send one raw ASGI event to the client."""
        ...


class WebSocketConnectEvent(TypedDict):
    """The client asks to open the socket."""

    type: Literal["websocket.connect"]


class WebSocketAcceptEvent(TypedDict):
    """The application accepts the handshake."""

    type: Literal["websocket.accept"]
    subprotocol: NotRequired[str | None]
    headers: NotRequired[list[tuple[bytes, bytes]]]


class WebSocketReceiveEvent(TypedDict):
    """A frame from the client: exactly one of ``text`` / ``bytes`` is set."""

    type: Literal["websocket.receive"]
    text: NotRequired[str | None]
    bytes: NotRequired[bytes | None]


class WebSocketSendEvent(TypedDict):
    """A frame to the client: exactly one of ``text`` / ``bytes`` is set."""

    type: Literal["websocket.send"]
    text: NotRequired[str | None]
    bytes: NotRequired[bytes | None]


class WebSocketCloseEvent(TypedDict):
    """The application closes the socket (or rejects the handshake)."""

    type: Literal["websocket.close"]
    code: NotRequired[int]
    reason: NotRequired[str | None]


class WebSocketDisconnectEvent(TypedDict):
    """The socket is gone, closed by either side."""

    type: Literal["websocket.disconnect"]
    code: int
    reason: NotRequired[str | None]


class HttpRequestEvent(TypedDict):
    """A part of the request body; ``more_body`` is true while more parts follow."""

    type: Literal["http.request"]
    body: NotRequired[bytes]
    more_body: NotRequired[bool]


class HttpResponseStartEvent(TypedDict):
    """The status and headers of the response (servers send them with the first body part)."""

    type: Literal["http.response.start"]
    status: int
    headers: NotRequired[list[tuple[bytes, bytes]]]
    trailers: NotRequired[bool]


class HttpResponseBodyEvent(TypedDict):
    """A part of the response body; ``more_body`` false (the default) ends the response."""

    type: Literal["http.response.body"]
    body: NotRequired[bytes]
    more_body: NotRequired[bool]


class HttpDisconnectEvent(TypedDict):
    """The client is gone, or the response is complete."""

    type: Literal["http.disconnect"]

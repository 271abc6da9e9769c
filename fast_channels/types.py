"""Types shared by consumers, layers and the testing utilities.

The ASGI aliases match Starlette's (``MutableMapping[str, Any]`` events), so an
``as_asgi()`` application type-checks wherever Starlette or FastAPI expect an ASGI app.
The event TypedDicts document the WebSocket events of the ASGI spec, tagged by their
``type`` literal.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Literal, NotRequired, TypedDict

__all__ = [
    "ASGIApp",
    "Message",
    "Receive",
    "Scope",
    "Send",
    "WebSocketAcceptEvent",
    "WebSocketCloseEvent",
    "WebSocketConnectEvent",
    "WebSocketDisconnectEvent",
    "WebSocketReceiveEvent",
    "WebSocketSendEvent",
]

Scope = MutableMapping[str, Any]
"""The ASGI connection scope (``type``, ``path``, ``headers``, ``query_string``, ...)."""

ASGIEvent = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[ASGIEvent]]
Send = Callable[[ASGIEvent], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

Message = dict[str, Any]
"""A channel-layer message: a dict with str keys and a str ``"type"``."""


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

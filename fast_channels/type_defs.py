"""fast-channels 1.x's type names (a compatibility path): aliases of :mod:`fast_channels.types`.

New code imports from :mod:`fast_channels.types`. Differences from 1.x:
``ChannelMessage`` is ``dict[str, Any]`` (1.x: ``Mapping``), so a 1.x layer's ``receive``
annotated with it matches ``ChannelLayer.receive``; the event TypedDicts mark the keys
ASGI lets a server or an application leave out as ``NotRequired``; and
``ChannelApplication`` / ``MiddlewareProtocol`` are the ASGI application type itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Protocol, TypeAlias

from fast_channels.consumer.base import AsyncConsumer
from fast_channels.types import (
    ASGIApp,
    HttpDisconnectEvent,
    HttpRequestEvent,
    HttpResponseBodyEvent,
    HttpResponseStartEvent,
    Message,
    Receive,
    Scope,
    Send,
    WebSocketAcceptEvent,
    WebSocketCloseEvent,
    WebSocketConnectEvent,
    WebSocketDisconnectEvent,
    WebSocketReceiveEvent,
    WebSocketSendEvent,
)

__all__ = [
    "ASGI3Application",
    "ASGIApplication",
    "ASGIApplicationProtocol",
    "ASGIReceiveCallable",
    "ASGISendCallable",
    "ChannelApplication",
    "ChannelCapacityDict",
    "ChannelCapacityPattern",
    "ChannelHeaders",
    "ChannelMessage",
    "ChannelScope",
    "CompiledChannelCapacities",
    "CompiledChannelCapacity",
    "HttpDisconnectEvent",
    "HttpRequestEvent",
    "HttpResponseBodyEvent",
    "HttpResponseStartEvent",
    "MiddlewareProtocol",
    "WebSocketAcceptEvent",
    "WebSocketCloseEvent",
    "WebSocketConnectEvent",
    "WebSocketDisconnectEvent",
    "WebSocketReceiveEvent",
    "WebSocketSendEvent",
]

ChannelScope: TypeAlias = Scope
"""The ASGI connection scope (:data:`fast_channels.types.Scope`)."""
ChannelMessage: TypeAlias = Message
"""A channel-layer message (:data:`fast_channels.types.Message`)."""
ChannelHeaders: TypeAlias = Iterable[tuple[bytes, bytes]]
"""ASGI headers: (name, value) pairs of bytes."""
ChannelCapacityPattern: TypeAlias = str | re.Pattern[str]
"""A ``channel_capacity`` key: a glob string or a compiled regex."""
ChannelCapacityDict: TypeAlias = dict[ChannelCapacityPattern, int]
"""A layer's ``channel_capacity`` option."""
CompiledChannelCapacity: TypeAlias = tuple[re.Pattern[str], int]
"""One compiled ``channel_capacity`` entry."""
CompiledChannelCapacities: TypeAlias = list[CompiledChannelCapacity]
"""What ``BaseChannelLayer.compile_capacities`` returns."""
ASGIReceiveCallable: TypeAlias = Receive
"""The ASGI ``receive`` (:data:`fast_channels.types.Receive`)."""
ASGISendCallable: TypeAlias = Send
"""The ASGI ``send`` (:data:`fast_channels.types.Send`)."""
ASGI3Application: TypeAlias = ASGIApp
"""An ASGI 3 application (:data:`fast_channels.types.ASGIApp`)."""
ASGIApplication: TypeAlias = ASGIApp
"""An ASGI 3 application (:data:`fast_channels.types.ASGIApp`)."""
ChannelApplication: TypeAlias = ASGIApp
"""What middleware wraps: an ASGI application (a consumer app, a middleware, a router)."""
MiddlewareProtocol: TypeAlias = ASGIApp
"""A middleware instance: an ASGI application."""


class ASGIApplicationProtocol(Protocol):
    """An ASGI application that serves a consumer class, as ``as_asgi()`` returns."""

    @property
    def consumer_class(self) -> type[AsyncConsumer]:
        """The consumer class each connection gets an instance of."""
        ...

    async def __call__(self, scope: Scope, receive: Receive, send: Send, /) -> None:
        """Serve one connection."""
        ...

"""Consumers: one instance per connection, handlers picked by message type.

``AsyncWebsocketConsumer`` for text/binary WebSockets, ``AsyncJsonWebsocketConsumer`` for
JSON ones, ``AsyncHttpConsumer`` for HTTP (long-poll, Server-Sent Events),
``AsyncConsumer`` as the protocol-neutral base; their synchronous twins
``WebsocketConsumer``, ``JsonWebsocketConsumer`` and ``SyncConsumer`` run plain ``def``
handlers in a thread (:mod:`fast_channels.consumer.sync`). Mount any of them with
``Consumer.as_asgi()``.
"""

from fast_channels.consumer.base import AsyncConsumer, ConsumerApp
from fast_channels.consumer.http import AsyncHttpConsumer, HttpResponseState
from fast_channels.consumer.sync import JsonWebsocketConsumer, SyncConsumer, WebsocketConsumer
from fast_channels.consumer.websocket import (
    AsyncJsonWebsocketConsumer,
    AsyncWebsocketConsumer,
    WebSocketState,
)

__all__ = [
    "AsyncConsumer",
    "AsyncHttpConsumer",
    "AsyncJsonWebsocketConsumer",
    "AsyncWebsocketConsumer",
    "ConsumerApp",
    "HttpResponseState",
    "JsonWebsocketConsumer",
    "SyncConsumer",
    "WebSocketState",
    "WebsocketConsumer",
]

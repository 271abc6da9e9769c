"""The server side of the compatibility matrix: probe consumers every framework app mounts.

The matrix serves the framework apps of :mod:`tests.e2e.frameworks` (one set of apps for
the end-to-end tests and the matrix): each serves every one of :data:`PROBES` at
``/probe<path>`` (a mount of the framework's own kind, or plain routes) and registers an
in-memory "default" layer when it is imported, which the probes use. The consumers tell
the client what they saw through the socket itself or, for what happens after a socket is
gone (the close code ``disconnect()`` got), through the ``/probe/observe`` socket, which
hears every report on the in-memory layer of the server process. Servers run one process
in the matrix, so the in-memory layer reaches everyone.

This module runs inside the server's environment: it imports fast-channels and nothing else.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

from fast_channels.consumer import (
    AsyncConsumer,
    AsyncJsonWebsocketConsumer,
    AsyncWebsocketConsumer,
    ConsumerApp,
)
from fast_channels.exceptions import DenyConnection
from fast_channels.layers import get_channel_layer
from fast_channels.types import Message

OBSERVERS = "probe-observers"
ROOM = "probe-room"
PREFIX = "/probe"
ACCEPT_HEADER = (b"x-probe-accept", b"yes")


def _query(scope: Mapping[str, Any]) -> dict[str, str]:
    raw: bytes = scope.get("query_string", b"")
    return {key: values[-1] for key, values in parse_qs(raw.decode("latin-1")).items()}


class _Reporting(AsyncWebsocketConsumer):
    """Reports its ``disconnect()`` code to the observers, tagged by ``?tag=``."""

    async def disconnect(self, code: int, /) -> None:
        tag = _query(self.scope).get("tag", "")
        report = {"type": "probe.report", "event": "disconnect", "tag": tag, "code": code}
        await self.channel_layer.group_send(OBSERVERS, report)


class EchoProbe(_Reporting):
    """``/probe/echo``: the handshake as the consumer saw it, then every frame echoed.

    ``?deny=1`` rejects the handshake. Text ``!close`` makes the server close with 4001
    and the reason "probe bye"; ``!crash`` raises in the handler.
    """

    async def connect(self) -> None:
        query = _query(self.scope)
        if "deny" in query:
            raise DenyConnection
        offered: list[str] = list(self.scope.get("subprotocols") or [])
        chosen = "probe" if "probe" in offered else None
        await self.accept(chosen)
        headers: list[tuple[bytes, bytes]] = list(self.scope.get("headers") or [])
        hello = {
            "query": query,
            "offered": offered,
            "chosen": chosen,
            "x-probe": [v.decode("latin-1") for k, v in headers if k.lower() == b"x-probe"],
            "path": self.scope.get("path"),
            "scheme": self.scope.get("scheme"),
            "has_client": self.scope.get("client") is not None,
        }
        await self.send(text_data=json.dumps(hello))

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data == "!close":
            await self.close(4001, "probe bye")
        elif text_data == "!crash":
            raise RuntimeError("the probe crashes on purpose")
        elif text_data is not None:
            await self.send(text_data=text_data)
        else:
            await self.send(bytes_data=bytes_data or b"")


class HeadersProbe(_Reporting):
    """``/probe/headers``: accepts with an extra response header (``accept(headers=)``)."""

    async def connect(self) -> None:
        await self.accept(headers=[ACCEPT_HEADER])
        await self.send(text_data="accepted")


class RoomProbe(AsyncJsonWebsocketConsumer):
    """``/probe/room``: a JSON consumer in the group ``probe-room``; relays to the group.

    ``"crash"`` raises in the handler (the server must close with 1011).
    """

    groups = [ROOM]

    async def connect(self) -> None:
        await self.accept()
        await self.send_json({"joined": self.channel_name})

    async def receive_json(self, content: Any) -> None:
        if content == "crash":
            raise RuntimeError("the probe crashes on purpose")
        await self.channel_layer.group_send(ROOM, {"type": "room.message", "content": content})

    async def room_message(self, message: Message) -> None:
        await self.send_json(message["content"])


class ObserverProbe(AsyncJsonWebsocketConsumer):
    """``/probe/observe``: forwards every probe report; ``"stats"`` answers the layer's sizes."""

    groups = [OBSERVERS]

    async def connect(self) -> None:
        await self.accept()
        await self.send_json({"observing": True})

    async def receive_json(self, content: Any) -> None:
        if content == "stats":
            stats = get_channel_layer().statistics()
            await self.send_json({"stats": {"groups": stats.groups, "channels": stats.channels}})

    async def probe_report(self, message: Message) -> None:
        await self.send_json({key: value for key, value in message.items() if key != "type"})


PROBES: dict[str, ConsumerApp[AsyncConsumer]] = {
    "/echo": EchoProbe.as_asgi(),
    "/headers": HeadersProbe.as_asgi(),
    "/observe": ObserverProbe.as_asgi(),
    "/room": RoomProbe.as_asgi(),
}
"""Path (under ``/probe``) → the probe consumer's app. Every matrix app serves all of them."""

"""The consumers and FastAPI/Starlette apps the end-to-end tests serve."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, WebSocket
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.routing import Mount, WebSocketRoute

from docs.examples.auth import TokenBackend, WhoAmIConsumer
from docs.examples.consumer import ChatConsumer
from fast_channels.consumer import AsyncJsonWebsocketConsumer
from fast_channels.exceptions import DenyConnection, FastChannelsError
from fast_channels.middleware import OriginValidator
from fast_channels.types import Message


class RoomConsumer(AsyncJsonWebsocketConsumer):
    """Joins the room of its path, reports what it saw of the handshake, relays messages."""

    async def connect(self) -> None:
        if self.scope["query_string"] == b"deny=1":
            raise DenyConnection
        self.room: str = self.scope["path_params"].get("room", "lobby")
        await self.join_group(f"room-{self.room}")
        chosen = "chat" if "chat" in self.scope["subprotocols"] else None
        await self.accept(chosen)
        await self.send_json(
            {
                "room": self.room,
                "query": self.scope["query_string"].decode(),
                "subprotocol": chosen,
                "greeting": self.scope.get("greeting"),
            }
        )

    async def receive_json(self, content: Any) -> None:
        if content == "close":
            await self.close(4001, reason="asked to close")
        elif content == "crash":
            raise RuntimeError("consumer bug")
        else:
            await self.channel_layer.group_send(
                f"room-{self.room}", {"type": "room.message", "content": content}
            )

    async def room_message(self, message: Message) -> None:
        await self.send_json(message["content"])


class LayerMisuse(AsyncJsonWebsocketConsumer):
    """Does the layer call a test names, and reports the typed error it got (or crashes)."""

    async def receive_json(self, content: Any) -> None:
        try:
            await self._misuse(content["try"])
        except FastChannelsError as exc:
            await self.send_json({"error": type(exc).__name__, "message": str(exc)})
            return
        await self.send_json({"error": None})

    async def _misuse(self, kind: str) -> None:
        layer = self.channel_layer
        me = self.channel_name
        not_a_dict: Any = ["not", "a", "dict"]
        calls: dict[str, Any] = {
            "bad_group": lambda: layer.group_send("bad group!", {"type": "x"}),
            "long_group": lambda: layer.group_add("g" * 100, me),
            "bad_channel": lambda: layer.send("bad channel", {"type": "x"}),
            "not_dict": lambda: layer.send(me, not_a_dict),
            "no_type": lambda: layer.group_send("room", {"text": "no type"}),
            "unserializable": lambda: layer.send(me, {"type": "x", "value": object()}),
            "a_set": lambda: layer.group_send("room", {"type": "x", "value": {1, 2}}),
            "fine": lambda: layer.send(me, {"type": "noop"}),
        }
        await calls[kind]()

    async def noop(self, message: Message) -> None:
        """The well-formed message of the "fine" case arrives here."""


def fastapi_app() -> FastAPI:
    """The README's layout: a WebSocket sub-app mounted at /ws, plus a native endpoint."""
    app = FastAPI()
    ws_app = FastAPI()
    ws_app.router.add_websocket_route("/chat", ChatConsumer.as_asgi())
    ws_app.router.add_websocket_route("/rooms/{room}", RoomConsumer.as_asgi())
    ws_app.router.add_websocket_route("/misuse", LayerMisuse.as_asgi())
    app.mount("/ws", ws_app)

    @app.websocket("/native/{name}")
    async def native(websocket: WebSocket, name: str) -> None:
        websocket.scope["greeting"] = f"hello {name}"
        await RoomConsumer.as_asgi()(websocket)

    return app


def starlette_app() -> Starlette:
    """Starlette 1.x style: routes up front, a Mount, the router, auth and origin checks."""
    app = Starlette(
        routes=[
            Mount("/ws", routes=[WebSocketRoute("/rooms/{room}", RoomConsumer.as_asgi())]),
            WebSocketRoute("/whoami", WhoAmIConsumer.as_asgi()),
            WebSocketRoute(
                "/guarded",
                OriginValidator(RoomConsumer.as_asgi(), ["https://good.example"]),
            ),
        ],
        middleware=[Middleware(AuthenticationMiddleware, backend=TokenBackend())],
    )
    app.router.add_websocket_route("/chat", ChatConsumer.as_asgi())
    return app

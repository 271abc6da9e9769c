"""The authenticated user in ``scope["user"]``, from Starlette's authentication.

Starlette's ``AuthenticationMiddleware`` (FastAPI apps add it with
``app.add_middleware(AuthenticationMiddleware, backend=...)``) runs on WebSocket
connections too: it calls the backend with the handshake and stores the result in
``scope["user"]`` / ``scope["auth"]``, which the consumer reads. Browsers cannot set
headers on a WebSocket, so this backend takes a token from the query string; a session
cookie works the same way.
"""

from starlette.applications import Starlette
from starlette.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    AuthenticationError,
    BaseUser,
    SimpleUser,
)
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import HTTPConnection
from starlette.routing import WebSocketRoute

from fast_channels.consumer.websocket import AsyncJsonWebsocketConsumer
from fast_channels.exceptions import DenyConnection

TOKENS = {"secret-token": "alice"}


class TokenBackend(AuthenticationBackend):
    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        token = conn.query_params.get("token")
        if token is None:
            return None  # anonymous: scope["user"] is an UnauthenticatedUser
        username = TOKENS.get(token)
        if username is None:
            raise AuthenticationError("invalid token")  # the handshake is rejected
        return AuthCredentials(["authenticated"]), SimpleUser(username)


class WhoAmIConsumer(AsyncJsonWebsocketConsumer):
    channel_layer_alias = None

    async def connect(self) -> None:
        user: BaseUser = self.scope["user"]
        if not user.is_authenticated:
            raise DenyConnection
        await self.accept()
        await self.send_json({"user": user.display_name})


app = Starlette(
    routes=[WebSocketRoute("/ws/whoami", WhoAmIConsumer.as_asgi())],
    middleware=[Middleware(AuthenticationMiddleware, backend=TokenBackend())],
)

"""The user in ``scope["user"]`` with ``AuthMiddleware``: a token or a session cookie.

``authenticate`` turns the credential the connection carries into a user (here
Starlette's ``SimpleUser``, any object will do) or None; the consumer reads
``self.scope["user"]``, an ``AnonymousUser`` when there is none. Browsers cannot set
headers on a WebSocket: they send the token in the query string (``?token=...``) or a
session cookie; other clients send ``Authorization: Bearer <token>``.
"""

from starlette.applications import Starlette
from starlette.authentication import SimpleUser
from starlette.routing import Route, WebSocketRoute

from fast_channels.consumer import AsyncHttpConsumer, AsyncJsonWebsocketConsumer
from fast_channels.middleware import AnonymousUser, AuthMiddleware

TOKENS = {"secret-token": "alice"}
SESSIONS = {"session-123": "bob"}  # server-side sessions: session id -> user name


async def user_for_token(token: str) -> SimpleUser | None:
    name = TOKENS.get(token)
    return SimpleUser(name) if name is not None else None


async def user_for_session(session_id: str) -> SimpleUser | None:
    name = SESSIONS.get(session_id)
    return SimpleUser(name) if name is not None else None


class WhoAmI(AsyncJsonWebsocketConsumer):
    channel_layer_alias = None

    async def connect(self) -> None:
        user: SimpleUser | AnonymousUser = self.scope["user"]
        await self.accept()
        await self.send_json({"user": user.display_name if user.is_authenticated else None})


class WhoAmIHttp(AsyncHttpConsumer):
    channel_layer_alias = None

    async def handle(self, body: bytes) -> None:
        user: SimpleUser = self.scope["user"]  # required=True: never anonymous here
        await self.send_response(200, user.display_name.encode())


app = Starlette(
    routes=[
        # a token in the Authorization header or in ?token=...; anonymous without one
        WebSocketRoute("/ws/whoami", AuthMiddleware(WhoAmI.as_asgi(), authenticate=user_for_token)),
        # the browser's session cookie only
        WebSocketRoute(
            "/ws/session",
            AuthMiddleware(
                WhoAmI.as_asgi(),
                authenticate=user_for_session,
                cookie="sessionid",
                header=None,
                query_param=None,
            ),
        ),
        # no user, no connection: handshakes get 403, requests 401
        WebSocketRoute(
            "/ws/members",
            AuthMiddleware(WhoAmI.as_asgi(), authenticate=user_for_token, required=True),
        ),
        Route(
            "/whoami",
            AuthMiddleware(WhoAmIHttp.as_asgi(), authenticate=user_for_token, required=True),
        ),
    ]
)

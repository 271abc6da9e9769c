"""``as_asgi()`` apps fit everywhere Starlette and FastAPI take an ASGI app.

This module is type-checked (mypy --strict, pyright strict) like the rest of the suite:
each line below is also a static check that the app's type is accepted there.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.routing import Mount, Router, WebSocketRoute

from fast_channels.consumer import AsyncWebsocketConsumer
from fast_channels.middleware import OriginValidator
from fast_channels.testing import WebsocketCommunicator
from fast_channels.types import ASGIApp


class Hello(AsyncWebsocketConsumer):
    channel_layer_alias = None

    async def connect(self) -> None:
        await self.accept()
        await self.send(f"hello {self.scope['path']}")


def build_apps() -> list[tuple[ASGIApp, str]]:
    starlette = Starlette(
        routes=[
            WebSocketRoute("/route", Hello.as_asgi()),
            Mount("/mounted", app=Hello.as_asgi()),
            Mount("/nested", routes=[WebSocketRoute("/route", Hello.as_asgi())]),
            WebSocketRoute("/guarded", OriginValidator(Hello.as_asgi(), ["*"])),
        ]
    )
    starlette.router.add_websocket_route("/added", Hello.as_asgi())
    router = Router()
    router.add_websocket_route("/router", Hello.as_asgi())
    fastapi = FastAPI()
    fastapi.router.add_websocket_route("/fastapi", Hello.as_asgi())
    fastapi.mount("/sub", starlette)
    direct: ASGIApp = Hello.as_asgi()
    return [
        (starlette, "/route"),
        (starlette, "/mounted/x"),
        (starlette, "/nested/route"),
        (starlette, "/guarded"),
        (starlette, "/added"),
        (router, "/router"),
        (fastapi, "/fastapi"),
        (fastapi, "/sub/route"),
        (direct, "/direct"),
    ]


async def test_every_mounting_style_serves_the_consumer() -> None:
    for app, path in build_apps():
        async with WebsocketCommunicator(app, path) as client:
            assert await client.connect() == (True, None), path
            assert await client.receive_from() == f"hello {path}"

"""A consumer reads its route's parameters as Starlette puts them (``path_params``) and as
Django Channels does (``url_route["kwargs"]``), whichever router matched it."""

from __future__ import annotations

from typing import Any, cast

import pytest
from fastapi import FastAPI, WebSocket
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute

from fast_channels.consumer import AsyncJsonWebsocketConsumer
from fast_channels.routing import URLRouter, path, re_path
from fast_channels.testing import WebsocketCommunicator
from fast_channels.types import ASGIApp


class RouteReporter(AsyncJsonWebsocketConsumer):
    channel_layer_alias = None

    async def connect(self) -> None:
        await self.accept()
        route: Any = self.scope.get("url_route")
        if isinstance(route, dict):  # args are a tuple: a list in JSON
            found = cast("dict[str, Any]", route)
            route = {**found, "args": list(found.get("args", ()))}
        await self.send_json({"url_route": route, "path_params": self.scope.get("path_params")})


async def _seen(app: ASGIApp | type[RouteReporter], path: str, **extra: object) -> Any:
    async with WebsocketCommunicator(app, path, extra_scope=extra or None) as client:
        assert (await client.connect())[0]
        return await client.receive_json_from()


def _starlette() -> Starlette:
    return Starlette(routes=[WebSocketRoute("/ws/{room}/{n:int}", RouteReporter.as_asgi())])


def _fastapi() -> FastAPI:
    app = FastAPI()

    @app.websocket("/ws/{room}/{n}")
    async def endpoint(websocket: WebSocket, room: str, n: int) -> None:
        await RouteReporter.as_asgi()(websocket)

    return app


@pytest.mark.parametrize(
    ("make_app", "n"), [(_starlette, 7), (_fastapi, "7")], ids=["starlette", "fastapi"]
)
async def test_starlette_and_fastapi_routes_fill_url_route_too(make_app: Any, n: object) -> None:
    """(FastAPI converts ``n`` for the endpoint's argument; its scope keeps the str.)"""
    assert await _seen(make_app(), "/ws/blue/7") == {
        "url_route": {"args": [], "kwargs": {"room": "blue", "n": n}},
        "path_params": {"room": "blue", "n": n},
    }


async def test_url_router_fills_both() -> None:
    router = URLRouter(
        [
            path("ws/<str:room>/<int:n>/", RouteReporter.as_asgi()),
            re_path(r"^plain/(\w+)/$", RouteReporter.as_asgi()),
        ]
    )
    assert await _seen(router, "/ws/red/3/") == {
        "url_route": {"args": [], "kwargs": {"room": "red", "n": 3}},
        "path_params": {"room": "red", "n": 3},
    }
    assert await _seen(router, "/plain/abc/") == {
        "url_route": {"args": ["abc"], "kwargs": {}},
        "path_params": {},
    }


async def test_a_scope_with_only_url_route_gets_path_params() -> None:
    """What Django Channels' own URLRouter (or a hand-made scope in a test) passes."""
    route = {"args": (), "kwargs": {"room": "green"}}
    assert await _seen(RouteReporter, "/ws", url_route=route) == {
        "url_route": {"args": [], "kwargs": {"room": "green"}},
        "path_params": {"room": "green"},
    }


async def test_parameters_already_under_both_names_are_left_as_they_are() -> None:
    route = {"args": ("x",), "kwargs": {"a": 1}}
    assert await _seen(RouteReporter, "/ws", url_route=route, path_params={"b": 2}) == {
        "url_route": {"args": ["x"], "kwargs": {"a": 1}},
        "path_params": {"b": 2},
    }
    assert await _seen(RouteReporter, "/ws") == {"url_route": None, "path_params": None}
    assert await _seen(RouteReporter, "/ws", url_route={"args": ()}) == {
        "url_route": {"args": []},
        "path_params": None,
    }


async def test_the_servers_scope_is_not_changed() -> None:
    params = {"room": "blue"}
    client = WebsocketCommunicator(RouteReporter, "/ws", extra_scope={"path_params": params})
    async with client:
        assert (await client.connect())[0]
        assert (await client.receive_json_from())["url_route"]["kwargs"] == params
    assert "url_route" not in client.scope
    assert client.scope["path_params"] is params
    assert params == {"room": "blue"}

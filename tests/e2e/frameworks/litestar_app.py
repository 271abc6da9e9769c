"""Litestar with consumers three ways: a consumer route, the app's own handler, a mount."""

from typing import Any

from litestar import Litestar, WebSocket, get, websocket

from docs.examples.memory_layers import setup_channel_layers
from fast_channels.integrations.litestar import asgi_mount, consumer_route, run_consumer
from fast_channels.routing import URLRouter, path
from tests.e2e.frameworks.consumers import EchoConsumer, RoomConsumer
from tests.e2e.frameworks.probe import ProbeConsumer
from tests.matrix.probe import PREFIX, PROBES

setup_channel_layers()


@get("/hello/", media_type="text/plain")
async def hello() -> str:
    return "hello from litestar"


@websocket("/ws/guarded/rooms/{room:str}/")
async def guarded_rooms(socket: WebSocket[Any, Any, Any]) -> None:
    """A handler of the app's own (where guards or dependencies would go)."""
    await run_consumer(RoomConsumer.as_asgi(), socket)


app = Litestar(
    route_handlers=[
        hello,
        consumer_route("/ws/echo/", EchoConsumer.as_asgi()),
        consumer_route("/ws/rooms/{room:str}/", RoomConsumer.as_asgi()),
        consumer_route("/ws/probe/", ProbeConsumer.as_asgi()),
        guarded_rooms,
        asgi_mount("/mounted", URLRouter([path("ws/rooms/<str:room>/", RoomConsumer.as_asgi())])),
        # The compatibility matrix's probes (tests/matrix/), as consumer routes.
        *(consumer_route(f"{PREFIX}{p}", probe) for p, probe in PROBES.items()),
    ]
)

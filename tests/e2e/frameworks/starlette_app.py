"""Starlette: consumers are ASGI apps its router mounts as they are."""

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route, WebSocketRoute

from docs.examples.memory_layers import setup_channel_layers
from tests.e2e.frameworks.consumers import EchoConsumer, RoomConsumer
from tests.e2e.frameworks.probe import ProbeConsumer
from tests.matrix.probe import PREFIX, PROBES

setup_channel_layers()


async def hello(request: Request) -> PlainTextResponse:
    return PlainTextResponse("hello from starlette")


app = Starlette(
    routes=[
        Route("/hello/", hello),
        WebSocketRoute("/ws/echo/", EchoConsumer.as_asgi()),
        WebSocketRoute("/ws/rooms/{room}/", RoomConsumer.as_asgi()),
        WebSocketRoute("/ws/probe/", ProbeConsumer.as_asgi()),
        # The compatibility matrix's probes (tests/matrix/), in a Mount.
        Mount(PREFIX, routes=[WebSocketRoute(p, probe) for p, probe in PROBES.items()]),
    ]
)

"""Quart with consumers in its own WebSocket routes."""

from collections.abc import Awaitable, Callable
from typing import cast

from quart import Quart, websocket

from docs.examples.memory_layers import setup_channel_layers
from fast_channels.integrations.quart import run_consumer
from fast_channels.routing import RoutedApp
from fast_channels.types import ASGIApp, Receive, Scope, Send
from tests.e2e.frameworks.consumers import EchoConsumer, RoomConsumer
from tests.e2e.frameworks.probe import ProbeConsumer
from tests.matrix.probe import PREFIX, PROBES

setup_channel_layers()

app = Quart(__name__)


@app.get("/hello/")
async def hello() -> tuple[str, int, dict[str, str]]:
    return "hello from quart", 200, {"content-type": "text/plain"}


@app.websocket("/ws/echo/")
async def echo() -> None:
    await run_consumer(EchoConsumer.as_asgi(), websocket)


@app.websocket("/ws/rooms/<room>/")
async def rooms(room: str) -> None:
    await run_consumer(RoomConsumer.as_asgi(), websocket)


@app.websocket("/ws/probe/")
async def probe() -> None:
    await run_consumer(ProbeConsumer.as_asgi(), websocket)


def _serving(probe: RoutedApp) -> Callable[[], Awaitable[None]]:
    async def serve_probe() -> None:
        await run_consumer(probe, websocket)

    return serve_probe


# The compatibility matrix's probes (tests/matrix/), one WebSocket route each.
for probe_path, matrix_probe in PROBES.items():
    app.add_websocket(f"{PREFIX}{probe_path}", f"probe{probe_path}", _serving(matrix_probe))


_quart_asgi = cast("ASGIApp", app)  # Quart types its ASGI arguments with its own TypedDicts


async def daphne_app(scope: Scope, receive: Receive, send: Send) -> None:
    """``app`` for Daphne, whose WebSocket scope has no ``scheme`` (optional in ASGI, ``ws``
    by default) while Quart needs one: the compatibility page's workaround."""
    await _quart_asgi({"scheme": "ws", **scope}, receive, send)

"""Quart with consumers in its own WebSocket routes."""

from quart import Quart, websocket

from docs.examples.memory_layers import setup_channel_layers
from fast_channels.integrations.quart import run_consumer
from tests.e2e.frameworks.consumers import EchoConsumer, RoomConsumer
from tests.e2e.frameworks.probe import ProbeConsumer

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

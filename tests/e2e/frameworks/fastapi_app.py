"""FastAPI: the README's layout, consumers on a WebSocket sub-app mounted at /ws."""

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse

from docs.examples.memory_layers import setup_channel_layers
from tests.e2e.frameworks.consumers import EchoConsumer, RoomConsumer
from tests.e2e.frameworks.probe import ProbeConsumer
from tests.matrix.probe import PREFIX, PROBES

setup_channel_layers()

app = FastAPI()
ws_app = FastAPI()
ws_app.router.add_websocket_route("/echo/", EchoConsumer.as_asgi())
ws_app.router.add_websocket_route("/rooms/{room}/", RoomConsumer.as_asgi())
ws_app.router.add_websocket_route("/probe/", ProbeConsumer.as_asgi())
app.mount("/ws", ws_app)

# The compatibility matrix's probes (tests/matrix/), on a second sub-app.
probe_app = FastAPI()
for probe_path, probe in PROBES.items():
    probe_app.router.add_websocket_route(probe_path, probe)
app.mount(PREFIX, probe_app)


@app.get("/hello/", response_class=PlainTextResponse)
async def hello() -> str:
    return "hello from fastapi"

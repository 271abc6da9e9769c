"""The README's FastAPI integration (``main.py``), for FastAPI on Starlette 1.x.

Starlette 1.x application objects have no ``add_websocket_route`` (0.x had it), nor
have FastAPI apps built on them. The router still has it, so the README's
``ws_app.add_websocket_route(...)`` becomes ``ws_app.router.add_websocket_route(...)``.
(On FastAPI versions built on Starlette 0.x, the README's line works as written.)
"""

from fastapi import FastAPI

from .consumer import ChatConsumer
from .memory_layers import setup_channel_layers

# Setup layers BEFORE creating the app
setup_channel_layers()

app = FastAPI()

# Create WebSocket sub-app for better organization
ws_app = FastAPI()
ws_app.router.add_websocket_route("/chat", ChatConsumer.as_asgi())

# Mount WebSocket routes
app.mount("/ws", ws_app)

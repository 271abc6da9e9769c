"""A FastAPI app (``main.py``) whose WebSocket routes live on a sub-app mounted at ``/ws``.

Starlette 1.x application objects have no ``add_websocket_route`` (0.x had it), nor
have FastAPI apps built on them. The router still has it, so write
``ws_app.router.add_websocket_route(...)``; on FastAPI versions built on Starlette 0.x,
``ws_app.add_websocket_route(...)`` works too.
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

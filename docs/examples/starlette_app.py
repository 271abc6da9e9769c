"""The same chat on plain Starlette (1.x): routes declared up front, or added later.

``WebSocketRoute`` and ``Mount`` take ``as_asgi()`` apps; so does the router's
``add_websocket_route`` (the 1.x ``Starlette`` object itself has no such method).
"""

from starlette.applications import Starlette
from starlette.routing import Mount, WebSocketRoute

from .consumer import ChatConsumer
from .memory_layers import setup_channel_layers

setup_channel_layers()

app = Starlette(
    routes=[
        Mount("/ws", routes=[WebSocketRoute("/chat", ChatConsumer.as_asgi())]),
    ]
)

# Routes can also be added after the app exists, through its router:
app.router.add_websocket_route("/chat", ChatConsumer.as_asgi())

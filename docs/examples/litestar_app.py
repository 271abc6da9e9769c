"""Consumers in a Litestar app, path parameters included (``fast-channels[litestar]``).

The consumer is the Django Channels one of ``channels_consumer.py``, unchanged: it reads
its room from ``scope["url_route"]["kwargs"]`` (``scope["path_params"]`` has it too).
Serve it with ``uvicorn docs.examples.litestar_app:app``.
"""

from typing import Any

from litestar import Litestar, WebSocket, websocket

from fast_channels.integrations.litestar import asgi_mount, consumer_route, run_consumer
from fast_channels.routing import URLRouter, path

from .channels_consumer import RoomChatConsumer
from .memory_layers import setup_channel_layers

setup_channel_layers()


@websocket("/ws/checked/{room_name:str}")
async def checked_room(socket: WebSocket[Any, Any, Any]) -> None:
    # Your own handler: Litestar's guards and dependencies run before the consumer.
    await run_consumer(RoomChatConsumer.as_asgi(), socket)


app = Litestar(
    route_handlers=[
        consumer_route("/ws/chat/{room_name:str}", RoomChatConsumer.as_asgi()),
        checked_room,
        # A URLRouter mounted under /channels parses the parameters that follow.
        asgi_mount(
            "/channels",
            URLRouter([path("chat/<str:room_name>/", RoomChatConsumer.as_asgi())]),
        ),
    ]
)

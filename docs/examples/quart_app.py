"""Consumers in a Quart app, path parameters included (``fast-channels[quart]``).

The consumer is the Django Channels one of ``channels_consumer.py``, unchanged. Serve it
with ``hypercorn docs.examples.quart_app:app`` (or uvicorn).
"""

from quart import Quart, websocket

from fast_channels.integrations.quart import run_consumer

from .channels_consumer import RoomChatConsumer
from .memory_layers import setup_channel_layers

setup_channel_layers()

app = Quart(__name__)


@app.websocket("/ws/chat/<room_name>")
async def chat(room_name: str) -> None:
    # Quart's before_websocket hooks have run; the socket is not accepted yet.
    await run_consumer(RoomChatConsumer.as_asgi(), websocket)

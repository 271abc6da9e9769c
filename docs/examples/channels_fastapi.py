"""The ported Channels consumer, unchanged, under FastAPI's own routing: it still reads
its room from ``scope["url_route"]["kwargs"]`` (FastAPI fills only ``path_params``; the
consumer app fills ``url_route`` from it)."""

from fastapi import FastAPI

from .channels_consumer import RoomChatConsumer

app = FastAPI()
app.router.add_websocket_route("/ws/chat/{room_name}/", RoomChatConsumer.as_asgi())

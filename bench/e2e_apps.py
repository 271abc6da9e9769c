"""The ASGI apps of the end-to-end benchmark, chosen by ``BENCH_APP`` (uvicorn imports ``app``).

Every app does the same: a WebSocket client joins group ``bench``; each published message
is sent to every client as text. ``BENCH_REDIS_URL`` names the Redis server.

* ``ours-pubsub`` / ``ours-queue`` — a fast-channels ``AsyncWebsocketConsumer`` with
  ``groups = ["bench"]`` on our Redis pub/sub or queue layer;
* ``channels-pubsub`` — the same consumer written for Django Channels on channels_redis's
  pub/sub layer;
* ``broadcaster`` — a native Starlette WebSocket endpoint over ``broadcaster``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

__all__ = ["GROUP", "app"]

GROUP = "bench"
Scope = dict[str, Any]
ASGIApp = Callable[[Scope, Any, Any], Awaitable[None]]


def _with_lifespan(ws_app: ASGIApp, on_shutdown: Callable[[], Awaitable[None]]) -> ASGIApp:
    async def asgi(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            await ws_app(scope, receive, send)
            return
        while True:
            event = await receive()
            if event["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif event["type"] == "lifespan.shutdown":
                await on_shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    return asgi


def _ours(url: str, kind: str) -> ASGIApp:
    from fast_channels.consumer.websocket import AsyncWebsocketConsumer
    from fast_channels.layers import register_channel_layer
    from fast_channels.layers.redis import RedisChannelLayer, RedisPubSubChannelLayer

    layer: Any
    if kind == "pubsub":
        layer = RedisPubSubChannelLayer(hosts=[url])
    else:
        layer = RedisChannelLayer(hosts=[url], capacity=1000)
    register_channel_layer("bench", layer)

    class BenchConsumer(AsyncWebsocketConsumer):
        groups = [GROUP]
        channel_layer_alias = "bench"

        async def bench_message(self, event: dict[str, Any]) -> None:
            await self.send(event["text"])

    return _with_lifespan(BenchConsumer.as_asgi(), layer.aclose)


def _channels(url: str) -> ASGIApp:
    import django
    from django.conf import settings

    settings.configure(
        CHANNEL_LAYERS={
            "default": {
                "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
                "CONFIG": {"hosts": [url]},
            }
        },
        INSTALLED_APPS=["channels"],
    )
    django.setup()
    from channels.generic.websocket import AsyncWebsocketConsumer

    class BenchConsumer(AsyncWebsocketConsumer):
        groups = [GROUP]

        async def bench_message(self, event: dict[str, Any]) -> None:
            await self.send(text_data=event["text"])

    async def nothing() -> None:
        return None

    return _with_lifespan(BenchConsumer.as_asgi(), nothing)


def _broadcaster(url: str) -> ASGIApp:
    from broadcaster import Broadcast
    from starlette.applications import Starlette
    from starlette.routing import WebSocketRoute
    from starlette.websockets import WebSocket

    broadcast = Broadcast(url)

    async def endpoint(websocket: WebSocket) -> None:
        await websocket.accept()
        async with broadcast.subscribe(channel=GROUP) as subscriber:
            async for event in subscriber:
                await websocket.send_text(event.message)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        # broadcaster 0.3.1's Redis listener quits when its first subscription is not yet
        # recorded by redis-py (as with redis-py 8) and sleeps until the next subscribe();
        # one subscription held from startup makes every later one land.
        await broadcast.connect()
        try:
            async with broadcast.subscribe(channel=f"{GROUP}.keepalive"):
                yield
        finally:
            await broadcast.disconnect()

    return Starlette(routes=[WebSocketRoute("/", endpoint)], lifespan=lifespan)


def build(name: str, url: str) -> ASGIApp:
    if name == "ours-pubsub":
        return _ours(url, "pubsub")
    if name == "ours-queue":
        return _ours(url, "queue")
    if name == "channels-pubsub":
        return _channels(url)
    if name == "broadcaster":
        return _broadcaster(url)
    raise ValueError(f"unknown BENCH_APP {name!r}")


if os.environ.get("BENCH_APP"):
    app = build(os.environ["BENCH_APP"], os.environ["BENCH_REDIS_URL"])

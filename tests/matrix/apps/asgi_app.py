"""Bare ASGI, no framework: one function dispatching on ``scope["path"]``."""

from __future__ import annotations

from fast_channels.types import Receive, Scope, Send
from tests.matrix.probe import PREFIX, PROBES, register_probe_layer

register_probe_layer()


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """Probes for WebSockets, 404 for HTTP, and a lifespan that only says it is ready."""
    if scope["type"] == "lifespan":
        while True:
            event = await receive()
            if event["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif event["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    path: str = scope["path"]
    probe = PROBES.get(path.removeprefix(PREFIX)) if path.startswith(PREFIX) else None
    if scope["type"] == "websocket":
        if probe is None:
            await receive()
            await send({"type": "websocket.close", "code": 1008})
            return
        await probe(scope, receive, send)
        return
    await send({"type": "http.response.start", "status": 404, "headers": []})
    await send({"type": "http.response.body", "body": b"not found"})

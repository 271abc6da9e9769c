"""A consumer that exercises the edges of an adapter: denial, subprotocols, accept headers,
binary frames, a close code with a reason, a crash."""

from __future__ import annotations

from fast_channels.consumer import AsyncWebsocketConsumer
from fast_channels.exceptions import DenyConnection


class ProbeConsumer(AsyncWebsocketConsumer):
    """``?deny`` rejects; offers of ``chat`` are taken; text ``close`` closes with 4001,
    ``crash`` raises; bytes come back reversed, other text as it came."""

    channel_layer_alias = None

    async def connect(self) -> None:
        if self.scope["query_string"] == b"deny":
            raise DenyConnection
        chosen = "chat" if "chat" in self.scope["subprotocols"] else None
        await self.accept(chosen, headers=[(b"x-probe", b"yes")])

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if text_data == "close":
            await self.close(4001, "asked to close")
        elif text_data == "crash":
            raise RuntimeError("the probe crashed on purpose")
        elif bytes_data is not None:
            await self.send(bytes_data=bytes_data[::-1])
        else:
            await self.send(text_data=text_data)

"""A JSON echo consumer: what the README's testing sample talks to.

It needs no channel layer, so ``channel_layer_alias`` is None.
"""

from typing import Any

from fast_channels.consumer.websocket import AsyncJsonWebsocketConsumer


class EchoConsumer(AsyncJsonWebsocketConsumer):
    channel_layer_alias = None

    async def receive_json(self, content: Any) -> None:
        await self.send_json(content)

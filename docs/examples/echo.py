"""A JSON echo consumer: it sends every JSON message back (docs/testing.md tests it).

It needs no channel layer, so ``channel_layer_alias`` is None.
"""

from typing import Any

from fast_channels.consumer.websocket import AsyncJsonWebsocketConsumer


class EchoConsumer(AsyncJsonWebsocketConsumer):
    channel_layer_alias = None  # it uses no channel layer

    async def receive_json(self, content: Any) -> None:
        await self.send_json(content)

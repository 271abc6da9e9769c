"""A fast-channels 1.x application, unchanged: 1.x import paths and names, a middleware
written against 1.x's ``BaseMiddleware``, layers registered with 1.x's registry.

``docs/migrate/from-fast-channels-1.md`` lists what behaves differently.
"""

import json
from typing import Any

from fast_channels.consumer.websocket import AsyncJsonWebsocketConsumer
from fast_channels.exceptions import DenyConnection
from fast_channels.layers import InMemoryChannelLayer, channel_layers, has_layers
from fast_channels.middleware.base import BaseMiddleware
from fast_channels.middleware.websocket import OriginValidator
from fast_channels.type_defs import (
    ASGIReceiveCallable,
    ASGISendCallable,
    ChannelMessage,
    ChannelScope,
)


def setup_layers() -> None:
    """Register the layers once (1.x's ``channel_layers`` registry object)."""
    if not has_layers():
        # RedisChannelLayer from fast_channels.layers.redis.core registers the same way.
        channel_layers.register("chat", InMemoryChannelLayer())


class TenantMiddleware(BaseMiddleware):
    """1.x style: override ``__call__``, copy the scope, call ``self.inner``."""

    async def __call__(
        self, scope: ChannelScope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        scope = dict(scope)
        scope["tenant"] = "acme"
        await self.inner(scope, receive, send)


class ChatConsumer(AsyncJsonWebsocketConsumer):
    channel_layer_alias = "chat"
    groups = ["lobby"]

    async def connect(self) -> None:
        if self.scope.get("tenant") != "acme":
            raise DenyConnection
        await self.accept()

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        message = {"type": "chat.message", "text": content["text"]}
        await self.channel_layer.group_send("lobby", message)

    async def chat_message(self, message: ChannelMessage) -> None:
        await self.send_json({"text": message["text"]})

    @classmethod
    async def decode_json(cls, text_data: str) -> Any:
        """1.x's codec hooks are ``async``: overrides written so keep working."""
        return json.loads(text_data)

    @classmethod
    async def encode_json(cls, content: Any) -> str:
        return json.dumps(content, separators=(",", ":"))


application = OriginValidator(TenantMiddleware(ChatConsumer.as_asgi()), ["*"])

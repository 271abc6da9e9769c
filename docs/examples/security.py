"""Security: allowed origins, the authenticated user, and encrypted layer messages.

* ``OriginValidator`` refuses handshakes from pages of other sites (cross-site WebSocket
  hijacking: a browser sends the user's cookies with a WebSocket to any site).
* ``auth.py`` has the authenticated user; here the consumer also refuses anonymous users.
* ``symmetric_encryption_keys`` encrypts every message the layer carries (what sits in
  Redis is unreadable without a key); the first key encrypts, any key decrypts.
"""

from __future__ import annotations

import os

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.routing import WebSocketRoute

from fast_channels.layers import BaseChannelLayer
from fast_channels.middleware import OriginValidator

from .auth import TokenBackend, WhoAmIConsumer

# --8<-- [start:origins]
ALLOWED_ORIGINS = ["https://app.example.com", ".example.org", "localhost:8000"]

app = Starlette(
    routes=[
        WebSocketRoute("/ws/whoami", OriginValidator(WhoAmIConsumer.as_asgi(), ALLOWED_ORIGINS)),
    ],
    middleware=[Middleware(AuthenticationMiddleware, backend=TokenBackend())],
)
# --8<-- [end:origins]


# --8<-- [start:encryption]
def encrypted_layer() -> BaseChannelLayer:
    """The queue layer with its messages encrypted; keys from the environment.

    ``CHANNEL_KEYS="new-key,old-key"``: rotate by putting a new key first, deploying
    everywhere, then dropping the old one.
    """
    from fast_channels.layers.redis import RedisChannelLayer

    keys = os.environ["CHANNEL_KEYS"].split(",")
    return RedisChannelLayer(
        hosts=[os.environ.get("REDIS_URL", "redis://localhost:6379")],
        symmetric_encryption_keys=keys,
    )


# --8<-- [end:encryption]

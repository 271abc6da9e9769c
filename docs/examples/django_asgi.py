"""A Django 5 project's ``asgi.py``: Django serves HTTP, consumers serve WebSockets.

Run it with any ASGI server: ``uvicorn docs.examples.django_asgi:application`` or
``daphne docs.examples.django_asgi:application``. Layers are registered here, at import,
because daphne sends no lifespan events; ``ProtocolTypeRouter`` answers uvicorn's itself.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "docs.examples.django_settings")
# Django first: code imported below may use models.
django_asgi_app = get_asgi_application()

from fast_channels.middleware import OriginValidator  # noqa: E402
from fast_channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from .channels_layers import setup_channel_layers  # noqa: E402
from .channels_routing import websocket_urlpatterns  # noqa: E402

setup_channel_layers()

# Channels: AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(...)))
application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": OriginValidator(
            URLRouter(websocket_urlpatterns), ["http://localhost", "http://127.0.0.1"]
        ),
    }
)

"""Django 5 and consumers in one ASGI app, as a Channels project's ``asgi.py`` is laid out."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.e2e.frameworks.django_settings")
# Set Django up before importing code that may use models (here: none).
django_http = get_asgi_application()

from docs.examples.memory_layers import setup_channel_layers  # noqa: E402
from fast_channels.routing import ProtocolTypeRouter, URLRouter, path  # noqa: E402
from tests.e2e.frameworks.consumers import EchoConsumer, RoomConsumer  # noqa: E402
from tests.e2e.frameworks.probe import ProbeConsumer  # noqa: E402
from tests.matrix.probe import PROBES  # noqa: E402

setup_channel_layers()  # at import: daphne sends no lifespan

app = ProtocolTypeRouter(
    {
        "http": django_http,
        "websocket": URLRouter(
            [
                path("ws/echo/", EchoConsumer.as_asgi()),
                path("ws/rooms/<str:room>/", RoomConsumer.as_asgi()),
                path("ws/probe/", ProbeConsumer.as_asgi()),
                # The compatibility matrix's probes (tests/matrix/): a nested router.
                path("probe/", URLRouter([path(p, probe) for p, probe in PROBES.items()])),
            ]
        ),
    }
)

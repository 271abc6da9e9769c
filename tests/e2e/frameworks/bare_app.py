"""No web framework: ``fast_channels.routing`` serves HTTP and WebSockets alike."""

from docs.examples.memory_layers import setup_channel_layers
from fast_channels.routing import ProtocolTypeRouter, URLRouter, path
from fast_channels.types import Receive, Scope, Send
from tests.e2e.frameworks.consumers import EchoConsumer, RoomConsumer
from tests.e2e.frameworks.probe import ProbeConsumer
from tests.matrix.probe import PROBES

setup_channel_layers()


async def hello(scope: Scope, receive: Receive, send: Send) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain; charset=utf-8")],
        }
    )
    await send({"type": "http.response.body", "body": b"hello from bare"})


app = ProtocolTypeRouter(
    {
        "http": URLRouter([path("hello/", hello)]),
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

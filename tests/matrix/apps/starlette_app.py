"""Starlette (0.37 to 1.x): the probes as ``WebSocketRoute``\\ s inside a ``Mount``."""

from starlette.applications import Starlette
from starlette.routing import Mount, WebSocketRoute

from tests.matrix.probe import PREFIX, PROBES, register_probe_layer

register_probe_layer()

app = Starlette(
    routes=[Mount(PREFIX, routes=[WebSocketRoute(path, probe) for path, probe in PROBES.items()])]
)

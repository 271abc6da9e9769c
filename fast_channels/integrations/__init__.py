"""Adapters that run consumers inside web frameworks whose WebSocket objects are not ASGI's.

Each framework has its own module, which alone imports the framework (install it with the
extra of the same name, e.g. ``pip install fast-channels[litestar]``):

* ``fast_channels.integrations.litestar``: ``consumer_route``, ``run_consumer``,
  ``asgi_mount``;
* ``fast_channels.integrations.quart``: ``run_consumer``.

Starlette and FastAPI need no adapter (``WebSocketRoute(path, Consumer.as_asgi())``), nor
do Django and bare ASGI servers (``fast_channels.routing``).
"""

__all__: list[str] = []

"""One small app per framework, all with the same behaviour, for end-to-end runs.

Apps: ``bare_app`` (``fast_channels.routing`` only), ``starlette_app``, ``fastapi_app``,
``django_app`` (Django 5 + ``ProtocolTypeRouter``), ``litestar_app``, ``quart_app``. Each
``<name>_app.py`` exposes ``app`` (an ASGI application) and registers an in-memory
"default" layer at import when none is registered (daphne sends no lifespan, so nothing
else would). Serve it with any server (``uvicorn tests.e2e.frameworks.django_app:app``,
``daphne ...``, ``hypercorn ...``) from the repository root and check it with
:mod:`tests.e2e.frameworks.checks`. Every app answers:

* ``GET /hello/``: 200, ``hello from <framework>`` (the framework's own HTTP handling);
* ``ws /ws/echo/``: :class:`~tests.e2e.frameworks.consumers.EchoConsumer`, each text
  frame back to its sender;
* ``ws /ws/rooms/<room>/``: :class:`~tests.e2e.frameworks.consumers.RoomConsumer`: greets
  with the path parameter as the consumer saw it (``path_params`` and
  ``url_route["kwargs"]``, filled under every framework), relays JSON to everyone in the
  room, tells them who left;
* ``ws /ws/probe/``: :class:`~tests.e2e.frameworks.probe.ProbeConsumer`, the edges an
  adapter must pass on (denial, subprotocol, accept headers, binary frames, close codes,
  a crash), checked by :mod:`tests.e2e.frameworks.probes`;
* ``ws /probe/<name>``: the compatibility matrix's probe consumers
  (:data:`tests.matrix.probe.PROBES`), checked by :mod:`tests.matrix.checks` under every
  server and Python (``scripts/matrix``): the matrix serves these same apps.

Servers as child processes: ``tests.e2e.asgi_servers.running_server("daphne",
"tests.e2e.frameworks.django_app:app")`` (``server_command`` gives the command line);
uvicorn in the test's loop: ``tests.e2e.conftest.serve(app)``. daphne speaks ASGI's
WebSocket spec 2.0: ``check_accept_frames_and_close(url, spec_2_0=True)`` there. To add a
framework: ``<name>_app.py`` with the same routes, its test module running the checks, and
its line in ``tests/matrix/plan.py``.
"""

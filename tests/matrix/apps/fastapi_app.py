"""FastAPI: the probes on a sub-application mounted at ``/probe`` (the README's layout)."""

from fastapi import FastAPI

from tests.matrix.probe import PREFIX, PROBES, register_probe_layer

register_probe_layer()

probes = FastAPI()
for path, probe in PROBES.items():
    probes.router.add_websocket_route(path, probe)

app = FastAPI()
app.mount(PREFIX, probes)

"""What the compatibility matrix covers: Pythons, frameworks, servers, and the quick subset.

Adding a framework is one :class:`Framework` line: a module exposing ``app`` that serves
:data:`tests.matrix.probe.PROBES` under ``/probe`` (the apps of ``tests/e2e/frameworks/``,
which the end-to-end tests use too), the pip requirements that install the framework, and
the stack (virtualenv) it shares. Adding a
server is one :class:`Server` line: its requirements and its command line.
"""

from __future__ import annotations

from dataclasses import dataclass

PYTHONS = ("3.11", "3.12", "3.13")


@dataclass(frozen=True, slots=True)
class Framework:
    """A web framework (or none), served by every server of the matrix."""

    name: str
    label: str
    app: str
    """``module:attribute`` of the ASGI app, importable from the repository's root."""
    requirements: tuple[str, ...]
    stack: str
    """Frameworks of one stack are installed together in one virtualenv per Python."""


@dataclass(frozen=True, slots=True)
class Server:
    """An ASGI server, started as ``python <argv>`` with ``{app}`` and ``{port}`` filled in."""

    name: str
    label: str
    requirements: tuple[str, ...]
    argv: tuple[str, ...]

    def command(self, app: str, port: int) -> list[str]:
        """The arguments after the interpreter that serve ``app`` on 127.0.0.1:``port``."""
        return [part.format(app=app, port=port) for part in self.argv]


_APPS = "tests.e2e.frameworks"

FRAMEWORKS: tuple[Framework, ...] = (
    Framework("fastapi", "FastAPI", f"{_APPS}.fastapi_app:app", ("fastapi",), "newest"),
    Framework("starlette", "Starlette", f"{_APPS}.starlette_app:app", ("starlette",), "newest"),
    Framework(
        "starlette-0.37",
        "Starlette 0.37.2 (oldest supported)",
        f"{_APPS}.starlette_app:app",
        ("starlette==0.37.2",),
        "oldest",
    ),
    Framework("litestar", "Litestar", f"{_APPS}.litestar_app:app", ("litestar",), "newest"),
    Framework("quart", "Quart", f"{_APPS}.quart_app:app", ("quart",), "newest"),
    Framework("django", "Django", f"{_APPS}.django_app:app", ("django>=5,<6",), "newest"),
    Framework("asgi", "bare ASGI", f"{_APPS}.bare_app:app", (), "newest"),
)

_UVICORN = "-m uvicorn {app} --host 127.0.0.1 --port {port} --log-level warning --loop"

SERVERS: tuple[Server, ...] = (
    Server("uvicorn", "uvicorn (asyncio)", ("uvicorn[standard]",), (*_UVICORN.split(), "asyncio")),
    Server(
        "uvicorn-uvloop", "uvicorn (uvloop)", ("uvicorn[standard]",), (*_UVICORN.split(), "uvloop")
    ),
    Server(
        "hypercorn",
        "Hypercorn",
        ("hypercorn",),
        ("-m", "hypercorn", "--bind", "127.0.0.1:{port}", "--log-level", "warning", "{app}"),
    ),
    Server(
        "granian",
        "Granian",
        ("granian",),
        (
            "-m",
            "granian",
            "--interface",
            "asgi",
            "--host",
            "127.0.0.1",
            "--port",
            "{port}",
            "--log-level",
            "warning",
            "{app}",
        ),
    ),
    Server(
        "daphne",
        "Daphne",
        ("daphne",),
        ("-m", "daphne", "-b", "127.0.0.1", "-p", "{port}", "-v", "0", "{app}"),
    ),
)


@dataclass(frozen=True, slots=True)
class Cell:
    """One run of the checks: a framework's app under a server on a Python."""

    python: str
    framework: Framework
    server: Server

    @property
    def env(self) -> str:
        """The virtualenv's name: one per Python and stack."""
        return env_name(self.python, self.framework.stack)

    @property
    def label(self) -> str:
        return f"py{self.python} {self.framework.name} / {self.server.name}"


def env_name(python: str, stack: str) -> str:
    """``py3.12-newest``: the virtualenv of one stack on one Python."""
    return f"py{python}-{stack}"


def env_requirements(stack: str) -> list[str]:
    """What one stack's virtualenv installs besides fast-channels: its frameworks and
    every server."""
    wanted: list[str] = []
    for framework in FRAMEWORKS:
        if framework.stack == stack:
            wanted.extend(framework.requirements)
    for server in SERVERS:
        wanted.extend(server.requirements)
    return sorted(set(wanted))


def full_cells(pythons: tuple[str, ...] = PYTHONS) -> list[Cell]:
    """Every framework under every server on every Python."""
    return [Cell(p, f, s) for p in pythons for f in FRAMEWORKS for s in SERVERS]


def quick_cells(python: str) -> list[Cell]:
    """The subset CI runs on one Python (one virtualenv): each framework of the "newest"
    stack under uvicorn, and the bare ASGI app under every other server."""
    cells = [Cell(python, f, SERVERS[0]) for f in FRAMEWORKS if f.stack == "newest"]
    bare = next(f for f in FRAMEWORKS if f.name == "asgi")
    cells.extend(Cell(python, bare, s) for s in SERVERS[1:])
    return cells

"""Routing without a web framework: ``ProtocolTypeRouter``, ``URLRouter``, ``path``, ``re_path``.

For bare ASGI deployments and Django projects, in the shape Django Channels users know::

    application = ProtocolTypeRouter(
        {
            "http": django_asgi_app,
            "websocket": URLRouter(
                [
                    path("ws/chat/<str:room>/", ChatConsumer.as_asgi()),
                    re_path(r"^ws/game/(?P<game_id>[0-9]+)/$", GameConsumer.as_asgi()),
                ]
            ),
        }
    )

Routes are written as in Django (``path()`` with ``<converter:name>``, ``re_path()`` with
named groups); Django itself is not needed. Starlette, FastAPI, Litestar and Quart apps keep
their own routing (see ``fast_channels.integrations``).

What a matched route's app sees in its scope (a copy; the server's is never changed):

* ``scope["path_params"]``: the route's named parameters, converted (``<int:n>`` gives an
  int), merged over those of enclosing routers (Starlette's ``Mount`` included);
* ``scope["url_route"]``: ``{"args": (...), "kwargs": {...}}`` as Django Channels fills it,
  ``args`` from unnamed ``re_path`` groups (only when it has no named ones);
* ``scope["root_path"]``: extended by the prefix a nesting route consumed; ``scope["path"]``
  stays the full path.

Paths are matched without their leading ``/`` and below ``scope["root_path"]``, so a router
mounted under a prefix (``Mount("/ws", app=URLRouter(...))``) sees the rest. A route whose
app is a ``URLRouter`` matches a prefix, and the inner router the remainder; any other
route must match the whole remaining path. Routes are tried in order; the first match wins.

When no route matches: a WebSocket handshake is rejected (``websocket.close``, which
servers answer with HTTP 403), an HTTP request gets a 404. Neither ever hangs.

Lifespan: ``ProtocolTypeRouter`` hands ``lifespan`` to the app mapped under ``"lifespan"``
(map your Starlette or FastAPI app there to run its startup and shutdown); with none, it
answers startup and shutdown itself and does nothing else. ``URLRouter`` always answers
lifespan itself: the apps it routes to are chosen by path, and lifespan has none.
Servers that send no lifespan (daphne) need none: register layers at import.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, TypeAlias, cast

from fast_channels.exceptions import ConfigurationError
from fast_channels.status import CloseCode
from fast_channels.types import Receive, Scope, Send

__all__ = [
    "ProtocolTypeRouter",
    "Route",
    "RouteMatch",
    "RoutedApp",
    "URLRouter",
    "path",
    "re_path",
]

logger: logging.Logger = logging.getLogger("fast_channels.routing")

_SendMapping: TypeAlias = Callable[[Mapping[str, Any]], Awaitable[None]]

RoutedApp: TypeAlias = Callable[[dict[str, Any], Receive, _SendMapping], Awaitable[None]]
"""An ASGI app a router can hand a connection to.

Routers call it with a ``dict`` scope, so apps typed the Starlette way (``as_asgi()``
apps, Starlette and FastAPI apps, plain ``async def app(scope, receive, send)``) and
Django's ``get_asgi_application()`` (typed by django-stubs) all fit without a cast.
"""


@dataclass(frozen=True, slots=True)
class _Converter:
    regex: str
    to_python: Callable[[str], object]


_UUID_REGEX: Final = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_CONVERTERS: Final[Mapping[str, _Converter]] = {
    "str": _Converter("[^/]+", str),
    "int": _Converter("[0-9]+", int),
    "slug": _Converter("[-a-zA-Z0-9_]+", str),
    "uuid": _Converter(_UUID_REGEX, uuid.UUID),
    "path": _Converter(".+", str),
}
_PARAMETER: Final = re.compile(r"<(?:(?P<converter>[^<>:]+):)?(?P<name>[^<>]+)>")
_STARLETTE_PARAMETER: Final = re.compile(r"\{(?P<name>\w+)(?::(?P<converter>\w+))?\}")


@dataclass(frozen=True, slots=True)
class RouteMatch:
    """How a path matched a :class:`Route`."""

    remaining: str
    """What the pattern did not consume (empty unless the route is a prefix)."""
    args: tuple[str, ...]
    """Unnamed ``re_path`` groups (empty when it has named ones)."""
    kwargs: dict[str, object]
    """Named parameters, converted (``<int:n>`` gives an int)."""


class Route:
    """One route: a pattern and the ASGI app it leads to. Made by :func:`path` / :func:`re_path`.

    ``prefix`` is true when the app is a :class:`URLRouter`: the pattern then matches the
    start of the path, and the inner router routes the rest.
    """

    __slots__ = ("_converters", "_regex", "app", "kind", "name", "pattern", "prefix")

    def __init__(
        self,
        kind: Literal["path", "re_path"],
        pattern: str,
        app: RoutedApp,
        *,
        name: str | None,
    ) -> None:
        if not isinstance(pattern, str):
            raise TypeError(f"{kind}() needs a str pattern, got {pattern!r}")
        if not callable(app):
            raise TypeError(
                f"{kind}({pattern!r}, ...) needs an ASGI app (e.g. Consumer.as_asgi() or a "
                f"URLRouter), got {app!r}"
            )
        if name is not None and not isinstance(name, str):
            raise TypeError(f"{kind}({pattern!r}, ...): name must be a str, got {name!r}")
        self.kind: Final = kind
        self.pattern: Final = pattern
        self.app: Final = app
        self.name: Final = name
        self.prefix: Final = isinstance(app, URLRouter)
        self._converters: dict[str, _Converter] = {}
        if kind == "path":
            self._regex = self._compile_route(pattern)
        else:
            self._regex = self._compile_regex(pattern)

    def __repr__(self) -> str:
        named = f", name={self.name!r}" if self.name is not None else ""
        return f"{self.kind}({self.pattern!r}, {self.app!r}{named})"

    def _compile_route(self, route: str) -> re.Pattern[str]:
        starlette = _STARLETTE_PARAMETER.search(route)
        if starlette is not None:
            converter = starlette["converter"] or "str"
            raise ConfigurationError(
                f"path({route!r}): {starlette[0]!r} is Starlette's syntax; write "
                f"'<{converter}:{starlette['name']}>' (Django's, as in Channels)"
            )
        parts = ["^"]
        position = 0
        for found in _PARAMETER.finditer(route):
            parts.append(self._literal(route, route[position : found.start()]))
            name = found["name"]
            converter_name = found["converter"] or "str"
            converter = _CONVERTERS.get(converter_name)
            if converter is None:
                known = ", ".join(sorted(_CONVERTERS))
                raise ConfigurationError(
                    f"path({route!r}): unknown converter {converter_name!r}; use one of {known}"
                )
            if not name.isidentifier():
                raise ConfigurationError(
                    f"path({route!r}): parameter name {name!r} is not a Python identifier"
                )
            if name in self._converters:
                raise ConfigurationError(f"path({route!r}): parameter {name!r} appears twice")
            self._converters[name] = converter
            parts.append(f"(?P<{name}>{converter.regex})")
            position = found.end()
        parts.append(self._literal(route, route[position:]))
        if not self.prefix:
            parts.append(r"\Z")
        return re.compile("".join(parts))

    @staticmethod
    def _literal(route: str, text: str) -> str:
        if "<" in text or ">" in text:
            raise ConfigurationError(
                f"path({route!r}): unbalanced '<' or '>'; parameters are written "
                "'<converter:name>' or '<name>'"
            )
        return re.escape(text)

    def _compile_regex(self, regex: str) -> re.Pattern[str]:
        if regex.startswith(("/", "^/")):
            raise ConfigurationError(
                f"re_path({regex!r}): paths are matched without their leading '/'; "
                f"write {'^' + regex.lstrip('^/')!r}"
            )
        try:
            return re.compile(regex)
        except re.error as exc:
            raise ConfigurationError(f"re_path({regex!r}) is not a valid regex: {exc}") from None

    def match(self, path: str) -> RouteMatch | None:
        """How ``path`` (relative to the router, without its leading ``/``) matches, or None."""
        if self.kind == "path":
            found = self._regex.match(path)
        elif not self.prefix and self.pattern.endswith("$"):
            found = self._regex.fullmatch(path)
        else:
            found = self._regex.search(path)
        if found is None:
            return None
        kwargs: dict[str, object] = {}
        for name, value in found.groupdict().items():
            if value is None:
                continue
            converter = self._converters.get(name)
            kwargs[name] = value if converter is None else converter.to_python(value)
        args: tuple[str, ...] = () if found.groupdict() else found.groups()
        return RouteMatch(path[found.end() :], args, kwargs)


def path(route: str, app: RoutedApp, /, *, name: str | None = None) -> Route:
    """A route in Django's ``path()`` syntax: ``"ws/chat/<str:room>/"``.

    Parameters are ``<name>`` (a ``str``) or ``<converter:name>`` with the converters
    ``str`` (no ``/``), ``int`` (digits; an ``int``), ``slug``, ``uuid`` (a ``UUID``) and
    ``path`` (anything, ``/`` included). A leading ``/`` is optional. A pattern that cannot
    compile raises ``ConfigurationError`` here, naming the mistake; a pattern that is not a
    str, or an app that is not callable, ``TypeError``.
    """
    return Route(
        "path", route.removeprefix("/") if isinstance(route, str) else route, app, name=name
    )


def re_path(regex: str, app: RoutedApp, /, *, name: str | None = None) -> Route:
    """A route as a regular expression, matched as Django's ``re_path()`` matches.

    The expression is searched for in the path without its leading ``/``: anchor it with
    ``^`` (and ``$``, which then must match the whole path). Named groups become
    ``kwargs`` (strings); without named groups, the groups become ``args``.
    """
    return Route("re_path", regex, app, name=name)


class URLRouter:
    """Hands each connection to the app of the first route its path matches.

    See the module's notes for what the app finds in its scope, how routers nest and what
    happens when no route matches. Lifespan is answered here (startup and shutdown
    complete, nothing else).
    """

    def __init__(self, routes: Sequence[Route], /) -> None:
        if isinstance(routes, str | bytes) or not isinstance(routes, Sequence):
            raise TypeError(
                f"URLRouter needs a list of routes made by path() or re_path(), got {routes!r}"
            )
        for route in routes:
            if not isinstance(route, Route):
                raise TypeError(
                    "URLRouter routes are made by fast_channels.routing.path() or re_path(), "
                    f"got {route!r}"
                )
        self.routes: Final[tuple[Route, ...]] = tuple(routes)

    def __repr__(self) -> str:
        return f"URLRouter({list(self.routes)!r})"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one connection with the app of the matching route."""
        kind = scope.get("type")
        if kind == "lifespan":
            await _answer_lifespan(receive, send)
            return
        full_path = scope.get("path")
        if not isinstance(full_path, str):
            raise ConfigurationError(
                f"URLRouter routes by path, and a {kind!r} connection has none; route it "
                "with ProtocolTypeRouter to an app for that type"
            )
        root_path: str = scope.get("root_path") or ""
        resolved = self._resolve(full_path, root_path)
        if resolved is None:
            logger.info("no route for %s %r", kind, full_path)
            await _reject(scope, receive, send)
            return
        route, matched, child_root = resolved
        child = dict(scope)
        child["path_params"] = {**(scope.get("path_params") or {}), **matched.kwargs}
        outer: Mapping[str, Any] = scope.get("url_route") or {}
        child["url_route"] = {
            "args": (*outer.get("args", ()), *matched.args),
            "kwargs": {**outer.get("kwargs", {}), **matched.kwargs},
        }
        child["root_path"] = child_root
        await route.app(child, receive, cast("_SendMapping", send))

    def _resolve(self, full_path: str, root_path: str) -> tuple[Route, RouteMatch, str] | None:
        """The first route that matches, its match, and the root path its app gets."""
        relative = full_path
        if root_path and full_path.startswith(root_path):
            relative = full_path[len(root_path) :]
        relative = relative.removeprefix("/")
        for route in self.routes:
            matched = route.match(relative)
            if matched is None:
                continue
            child_root = root_path
            if route.prefix:
                consumed = relative[: len(relative) - len(matched.remaining)].rstrip("/")
                if consumed:
                    child_root = f"{root_path}/{consumed}"
            return route, matched, child_root
        return None


class ProtocolTypeRouter:
    """Hands each connection to the app mapped under its scope type.

    Keys are ASGI scope types: ``"http"``, ``"websocket"``, ``"lifespan"`` (or any other a
    server sends). A connection of an unmapped type: ``lifespan`` is answered here
    (startup and shutdown complete); a WebSocket handshake is rejected (HTTP 403); an HTTP
    request gets a 404; any other type raises ``ConfigurationError``.
    """

    def __init__(self, application_mapping: Mapping[str, RoutedApp], /) -> None:
        if not isinstance(application_mapping, Mapping):
            raise TypeError(
                "ProtocolTypeRouter needs a mapping of scope types to ASGI apps, like "
                f"{{'http': app, 'websocket': URLRouter([...])}}, got {application_mapping!r}"
            )
        if not application_mapping:
            raise ConfigurationError(
                "ProtocolTypeRouter needs at least one application, like "
                "{'websocket': URLRouter([...])}"
            )
        for kind, app in application_mapping.items():
            if not isinstance(kind, str) or not callable(app):
                raise TypeError(
                    f"ProtocolTypeRouter maps scope types (str) to ASGI apps, got {kind!r}: {app!r}"
                )
        self.application_mapping: Final[Mapping[str, RoutedApp]] = dict(application_mapping)

    def __repr__(self) -> str:
        return f"ProtocolTypeRouter({dict(self.application_mapping)!r})"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one connection with the app mapped under its type."""
        kind = scope.get("type")
        app = self.application_mapping.get(kind) if isinstance(kind, str) else None
        if app is not None:
            await app(dict(scope), receive, cast("_SendMapping", send))
        elif kind == "lifespan":
            await _answer_lifespan(receive, send)
        elif kind in ("http", "websocket"):
            logger.info("no application for %s connections (%r)", kind, scope.get("path"))
            await _reject(scope, receive, send)
        else:
            known = ", ".join(repr(k) for k in self.application_mapping)
            raise ConfigurationError(
                f"ProtocolTypeRouter has no application for {kind!r} connections (it has "
                f"{known}); add one under {kind!r}"
            )


async def _answer_lifespan(receive: Receive, send: Send) -> None:
    """Answer the lifespan protocol: startup and shutdown complete, nothing else."""
    while True:
        event = await receive()
        kind = event.get("type")
        if kind == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif kind == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _reject(scope: Scope, receive: Receive, send: Send) -> None:
    """Refuse a connection nothing serves: close a WebSocket handshake (the server answers
    HTTP 403), answer an HTTP request with 404 Not Found."""
    if scope.get("type") == "websocket":
        event = await receive()
        if event.get("type") == "websocket.connect":
            await send({"type": "websocket.close", "code": int(CloseCode.NORMAL_CLOSURE)})
        return
    await send(
        {
            "type": "http.response.start",
            "status": 404,
            "headers": [(b"content-type", b"text/plain; charset=utf-8")],
        }
    )
    await send({"type": "http.response.body", "body": b"Not Found"})

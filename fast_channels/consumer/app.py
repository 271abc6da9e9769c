"""The ASGI application of a consumer class (``as_asgi()``), and its options' rules."""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Final, Generic, TypeVar, cast, overload

from fast_channels.exceptions import ConfigurationError
from fast_channels.layers.base import BaseChannelLayer
from fast_channels.types import Receive, Scope, Send, WebSocketConnection

DEFAULT_INBOX_SIZE: Final = 100
"""``AsyncConsumer.inbox_size`` (deprecated: it has no effect any more)."""

if TYPE_CHECKING:
    from fast_channels.consumer.base import AsyncConsumer

__all__ = ["ConsumerApp", "check_initkwargs"]

_C = TypeVar("_C", bound="AsyncConsumer", covariant=True)


class ConsumerApp(Generic[_C]):
    """The ASGI application of a consumer class, made by ``as_asgi()``.

    Each call serves one connection with a new consumer instance. Call it like any ASGI
    app, ``await app(scope, receive, send)``, or with a framework WebSocket that is not
    accepted yet, ``await app(websocket)`` (Starlette's and FastAPI's fit), e.g. inside a
    FastAPI endpoint that resolved dependencies first.

    The consumer finds its route's parameters in ``scope["path_params"]`` and in
    ``scope["url_route"]["kwargs"]`` under any router: the one a router did not fill is
    filled from the other, in a copy of the scope (the server's is never changed).
    """

    def __init__(self, consumer_class: type[_C], initkwargs: Mapping[str, object]) -> None:
        self.consumer_class: Final[type[_C]] = consumer_class
        self.initkwargs: Final[Mapping[str, object]] = MappingProxyType(dict(initkwargs))
        self.__name__: str = consumer_class.__name__
        self.__qualname__: str = consumer_class.__qualname__
        self.__doc__: str | None = consumer_class.__doc__

    def __repr__(self) -> str:
        options = ", ".join(f"{k}={v!r}" for k, v in self.initkwargs.items())
        return f"{self.__qualname__}.as_asgi({options})"

    @overload
    async def __call__(self, scope: Scope, receive: Receive, send: Send, /) -> None: ...

    @overload
    async def __call__(self, websocket: WebSocketConnection, /) -> None: ...

    async def __call__(
        self,
        scope: Scope | WebSocketConnection,
        receive: Receive | None = None,
        send: Send | None = None,
        /,
    ) -> None:
        """Serve one connection until it ends."""
        if isinstance(scope, WebSocketConnection):
            if receive is not None or send is not None:
                raise TypeError("call a consumer app with (scope, receive, send) or (websocket)")
            websocket: WebSocketConnection = scope
            scope, receive, send = websocket.scope, websocket.receive, websocket.send
        elif receive is None or send is None:
            raise TypeError(
                "call a consumer app with (scope, receive, send), or with one framework "
                f"WebSocket; got a {type(scope).__name__} alone"
            )
        consumer = self.consumer_class(**self.initkwargs)
        await consumer(_with_route_parameters(scope), receive, send)


def _with_route_parameters(scope: Scope) -> Scope:
    """``scope`` with the route's parameters under both names a consumer may read them by:
    ``path_params`` (Starlette's, FastAPI's) and ``url_route["kwargs"]`` (Django Channels').

    The one missing is filled from the other (``url_route`` as ``{"args": (), "kwargs":
    {...}}``) in a shallow copy of the scope, so the server's and the enclosing apps' scope
    is never changed; ``scope`` itself when it has both, or neither.
    """
    params: object = scope.get("path_params")
    route: object = scope.get("url_route")
    if route is None and isinstance(params, Mapping):
        kwargs = dict(cast("Mapping[str, object]", params))
        return {**scope, "url_route": {"args": (), "kwargs": kwargs}}
    if params is None and isinstance(route, Mapping):
        found: object = cast("Mapping[str, object]", route).get("kwargs")
        if isinstance(found, Mapping):
            return {**scope, "path_params": dict(cast("Mapping[str, object]", found))}
    return scope


def check_initkwargs(cls: type[AsyncConsumer], initkwargs: Mapping[str, object]) -> None:
    """Check ``as_asgi()`` options for ``cls``: an unknown name is a ``TypeError``; a bad
    value for a built-in option (alias, groups, inbox size) a ``ConfigurationError``; an
    ``inbox_size`` other than the default a ``DeprecationWarning`` (it has no effect)."""
    for name in initkwargs:
        attr: object = inspect.getattr_static(cls, name, None)
        if (
            name.startswith("_")
            or not hasattr(cls, name)
            or inspect.isroutine(attr)
            or isinstance(attr, property | classmethod | staticmethod)
        ):
            raise TypeError(
                f"{cls.__name__}.as_asgi() got {name!r}, which is not a configurable class "
                f"attribute of {cls.__name__}; options override class attributes like "
                "channel_layer_alias=, groups="
            )
    alias: object = initkwargs.get("channel_layer_alias", cls.channel_layer_alias)
    groups: object = initkwargs.get("groups", cls.groups)
    size: object = initkwargs.get("inbox_size", cls.inbox_size)
    if alias is not None and (not isinstance(alias, str) or not alias):
        raise ConfigurationError(
            f"{cls.__name__}.channel_layer_alias must be a registered alias (str) or None, "
            f"got {alias!r}"
        )
    if isinstance(groups, str | bytes) or not isinstance(groups, Sequence):
        raise ConfigurationError(
            f"{cls.__name__}.groups must be a list of group names, got {groups!r}"
        )
    names = cast("Sequence[object]", groups)
    for group in names:
        BaseChannelLayer.require_valid_group_name(group)
    if groups and alias is None:
        raise ConfigurationError(
            f"{cls.__name__} has groups {list(names)!r} but channel_layer_alias is None; "
            "groups need a channel layer"
        )
    if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
        raise ConfigurationError(f"{cls.__name__}.inbox_size must be a positive int, got {size!r}")
    if size != DEFAULT_INBOX_SIZE:
        warnings.warn(
            f"{cls.__name__}: inbox_size no longer has an effect (a consumer holds at most "
            "one event per source; its layer channel's capacity bounds the rest); remove it",
            DeprecationWarning,
            stacklevel=3,
        )

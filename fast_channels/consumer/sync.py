"""Synchronous consumers: handlers written as plain ``def``, run in a worker thread.

For code that blocks (a database driver without asyncio, a sync SDK, Django's ORM), as
Django Channels' ``SyncConsumer``, ``WebsocketConsumer`` and ``JsonWebsocketConsumer`` do::

    class ChatConsumer(WebsocketConsumer):
        groups = ["lobby"]

        def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
            self.channel_layer.group_send_sync("lobby", {"type": "chat.message", "text": text_data})

        def chat_message(self, event: Message) -> None:
            self.send(text_data=event["text"])

Semantics:

* **Served by the async consumers.** ``as_asgi()`` serves each connection with an
  ``AsyncConsumer`` (``AsyncWebsocketConsumer``, ``AsyncJsonWebsocketConsumer``) that
  creates one instance of your class and runs its methods in a thread. The connection's
  states, close codes, groups, error handling and layer messages are theirs, unchanged
  (see :mod:`fast_channels.consumer.websocket`).
* **One handler at a time, in order.** Each event runs one handler in the event loop's
  default thread pool (as ``asyncio.to_thread`` does), and the next event of the same
  connection waits until it returns: handlers of one connection never overlap, and run in
  arrival order. They may run on different threads of the pool one after the other:
  ``contextvars`` carry over from the connection, thread-local state does not.
* **Actions block until done.** ``accept()``, ``send()``, ``close()``, ``send_json()``,
  ``join_group()`` and ``leave_group()`` run on the connection's event loop while the
  handler's thread waits; so do ``self.channel_layer.*_sync(...)`` and
  :func:`fast_channels.sync.run` called from a handler (:func:`fast_channels.sync.to_thread`).
  Called from async code they raise ``SyncCalledFromAsyncError``; outside a connection,
  ``ConsumerError``.
* **Handlers are plain functions.** A message type names its handler as for async
  consumers (``"chat.message"`` → ``chat_message``); an ``async def`` handler is refused
  with ``ConsumerError`` (write those on an ``AsyncConsumer``).
* **Blocking costs a thread.** A handler that blocks holds one thread of the loop's default
  pool (``min(32, CPUs + 4)`` threads unless the app sets its own executor) for as long as
  it runs. When the connection ends while a handler runs, the connection is closed at once,
  but the thread finishes the handler: actions it then takes on the closed connection do
  nothing (a frame to a socket that is gone is dropped) or raise ``WebSocketStateError``.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
import weakref
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, ClassVar, TypeVar, cast

from fast_channels.consumer._json import encode_json_text
from fast_channels.consumer.app import ConsumerApp, check_initkwargs
from fast_channels.consumer.base import AsyncConsumer
from fast_channels.consumer.websocket import (
    AsyncJsonWebsocketConsumer,
    AsyncWebsocketConsumer,
    WebSocketState,
)
from fast_channels.exceptions import (
    ConsumerError,
    SyncCalledFromAsyncError,
    UnknownMessageTypeError,
)
from fast_channels.layers.base import ChannelLayer
from fast_channels.sync import to_thread
from fast_channels.types import Message, Receive, Scope, Send

__all__ = ["JsonWebsocketConsumer", "SyncConsumer", "WebsocketConsumer"]

_T = TypeVar("_T")


class _Engine(AsyncConsumer):
    """What serves a connection for a sync consumer: creates the instance, runs its
    handlers in a thread. One subclass per sync consumer class (named after it)."""

    handler_class: ClassVar[type[SyncConsumer]]

    def __init__(self, **initkwargs: object) -> None:
        super().__init__()
        self.handler: SyncConsumer = self.handler_class(**initkwargs)
        self.channel_layer_alias = self.handler.channel_layer_alias
        self.groups = self.handler.groups
        self.loop: asyncio.AbstractEventLoop | None = None
        _SERVED_BY[self.handler] = self

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one connection (see :class:`AsyncConsumer`)."""
        self.loop = asyncio.get_running_loop()
        await super().__call__(scope, receive, send)

    async def dispatch(self, message: Message) -> None:
        """Run the handler of ``message["type"]`` of the sync consumer in a thread."""
        handler = self.handler.handler_for(message)
        if handler is None:
            await super().dispatch(message)
        else:
            await to_thread(handler, message)


class _WebsocketEngine(_Engine, AsyncWebsocketConsumer):
    """Serves a :class:`WebsocketConsumer`: the async WebSocket state machine, calling its
    ``connect``, ``receive`` and ``disconnect`` in a thread."""

    @property
    def sync_consumer(self) -> WebsocketConsumer:
        """The instance of the sync consumer class this serves."""
        return cast("WebsocketConsumer", self.handler)

    async def connect(self) -> None:
        """Run the sync consumer's ``connect()`` in a thread."""
        await to_thread(self.sync_consumer.connect)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """Run the sync consumer's ``receive()`` in a thread."""
        await to_thread(self.sync_consumer.receive, text_data=text_data, bytes_data=bytes_data)

    async def disconnect(self, code: int, /) -> None:
        """Run the sync consumer's ``disconnect(code)`` in a thread."""
        await to_thread(self.sync_consumer.disconnect, code)


class _JsonWebsocketEngine(_WebsocketEngine, AsyncJsonWebsocketConsumer):
    """Serves a :class:`JsonWebsocketConsumer`: JSON decoding and bad-input rules of
    ``AsyncJsonWebsocketConsumer``, its codec and ``receive_json`` from the sync class."""

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """Decode the frame (closing on bad input), then ``receive_json`` in a thread."""
        await AsyncJsonWebsocketConsumer.receive(self, text_data, bytes_data)

    async def receive_json(self, content: Any) -> None:
        """Run the sync consumer's ``receive_json(content)`` in a thread."""
        await to_thread(cast("JsonWebsocketConsumer", self.handler).receive_json, content)

    @classmethod
    def decode_json(cls, text_data: str) -> Any:
        """The sync consumer class's ``decode_json``."""
        handler_class = cast("type[JsonWebsocketConsumer]", cls.handler_class)
        return handler_class.decode_json(text_data)

    @classmethod
    def encode_json(cls, content: object) -> str:
        """The sync consumer class's ``encode_json``."""
        handler_class = cast("type[JsonWebsocketConsumer]", cls.handler_class)
        return handler_class.encode_json(content)


_ENGINES: weakref.WeakKeyDictionary[type[SyncConsumer], type[_Engine]] = weakref.WeakKeyDictionary()
_ENGINES_LOCK = threading.Lock()
_SERVED_BY: weakref.WeakKeyDictionary[SyncConsumer, _Engine] = weakref.WeakKeyDictionary()
"""Each sync consumer instance, and the async consumer serving its connection."""


class SyncConsumer:
    """Base of the synchronous consumers: every handler is a plain ``def`` run in a thread.

    Configure it like an ``AsyncConsumer`` (class attributes, or ``as_asgi(name=value)``):
    ``channel_layer_alias`` (``"default"``; None: no layer) and ``groups`` (joined when the
    connection starts, left when it ends). Serves any scope type; a
    :class:`~fast_channels.worker.Worker` runs it on named channels too.
    """

    channel_layer_alias: str | None = "default"
    groups: Sequence[str] = ()

    _engine_base: ClassVar[type[_Engine]] = _Engine
    _api_methods: ClassVar[frozenset[str]] = frozenset(
        {"as_asgi", "handler_for", "join_group", "leave_group"}
    )
    """Public methods that no message type may name."""

    def __init__(self, **initkwargs: object) -> None:
        """Apply ``as_asgi()`` options (checked there)."""
        for name, value in initkwargs.items():
            setattr(self, name, value)

    @classmethod
    def as_asgi(cls, **initkwargs: object) -> ConsumerApp[AsyncConsumer]:
        """An ASGI app serving each connection with a new ``cls(**initkwargs)``.

        ``initkwargs`` override class attributes; a name that is not one, or a value that
        is not valid for it, raises here, when the route is declared.
        """
        for name in initkwargs:
            attr: object = getattr(cls, name, None)
            if name.startswith("_") or not hasattr(cls, name) or inspect.isroutine(attr):
                raise TypeError(
                    f"{cls.__name__}.as_asgi() got {name!r}, which is not a configurable "
                    f"class attribute of {cls.__name__}; options override class attributes "
                    "like channel_layer_alias=, groups="
                )
        engine = cls._engine_class()
        layer_options = {
            "channel_layer_alias": initkwargs.get("channel_layer_alias", cls.channel_layer_alias),
            "groups": initkwargs.get("groups", cls.groups),
        }
        check_initkwargs(engine, layer_options)
        return ConsumerApp(engine, initkwargs)

    @classmethod
    def _engine_class(cls) -> type[_Engine]:
        with _ENGINES_LOCK:
            engine = _ENGINES.get(cls)
            if engine is None:
                namespace = {
                    "__module__": cls.__module__,
                    "__qualname__": cls.__qualname__,
                    "__doc__": cls.__doc__,
                    "handler_class": cls,
                }
                engine = cast("type[_Engine]", type(cls.__name__, (cls._engine_base,), namespace))
                _ENGINES[cls] = engine
            return engine

    # -- what handlers use -------------------------------------------------------------

    @property
    def scope(self) -> Scope:
        """The connection's ASGI scope."""
        return self._serving().scope

    @property
    def channel_layer(self) -> ChannelLayer:
        """The connection's channel layer: call its ``*_sync`` methods from handlers."""
        return self._serving().channel_layer

    @property
    def channel_name(self) -> str:
        """This connection's channel on the layer (``send`` to it reaches this consumer)."""
        return self._serving().channel_name

    def join_group(self, group: str) -> None:
        """Add this connection's channel to ``group``; it is left when the connection ends."""
        engine = self._serving()
        self._on_loop(engine.join_group, group)

    def leave_group(self, group: str) -> None:
        """Remove this connection's channel from ``group`` now (no error if not a member)."""
        engine = self._serving()
        self._on_loop(engine.leave_group, group)

    def handler_for(self, message: Message) -> Callable[[Message], object] | None:
        """The plain method that handles ``message`` (``"chat.message"`` → ``chat_message``),
        or None when the serving async consumer handles that type itself (its own events,
        such as ``websocket.connect``, and ``layer.reconnected`` unless this class has a
        ``layer_reconnected`` method).

        Raises ``UnknownMessageTypeError`` when no method handles it, and ``ConsumerError``
        when the method is ``async def``.
        """
        kind = message.get("type")
        name = type(self).__name__
        if not isinstance(kind, str) or not kind:
            raise UnknownMessageTypeError(
                f"{name} got a message without a str 'type' (keys: {sorted(message)}); "
                "every message needs one naming its handler"
            )
        method = kind.replace(".", "_")
        if self._served_by_engine(kind, method):
            return None
        if method.startswith("_") or method in self._api_methods:
            raise UnknownMessageTypeError(
                f"message type {kind!r} maps to {name}.{method}, which is not a handler; "
                f"use a type such as 'app.{kind.lstrip('_.')}'"
            )
        handler: object = getattr(self, method, None)
        if handler is None or not callable(handler):
            raise UnknownMessageTypeError(
                f"{name} has no handler for message type {kind!r}: write "
                f"`def {method}(self, message): ...` on {name}"
            )
        if inspect.iscoroutinefunction(handler):
            raise ConsumerError(
                f"{name}.{method} is `async def`, but {name} is a synchronous consumer whose "
                "handlers run in a thread: make it a plain `def`, or use an AsyncConsumer"
            )
        return cast("Callable[[Message], object]", handler)

    # -- internals -----------------------------------------------------------------------

    def _served_by_engine(self, kind: str, method: str) -> bool:
        """Whether the async consumer serving the connection handles ``kind`` itself."""
        return method == "layer_reconnected" and not hasattr(self, method)

    def _serving(self) -> _Engine:
        return self._serving_on()[0]

    def _serving_on(self) -> tuple[_Engine, asyncio.AbstractEventLoop]:
        engine = _SERVED_BY.get(self)
        loop = None if engine is None else engine.loop
        if engine is None or loop is None:
            raise ConsumerError(
                f"{type(self).__name__} is not serving a connection: its scope, layer and "
                "actions exist only in its handlers"
            )
        return engine, loop

    def _on_loop(self, function: Callable[..., Coroutine[Any, Any, _T]], *args: object) -> _T:
        """Run ``await function(*args)`` on the connection's loop; block until it is done."""
        _, loop = self._serving_on()
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is not None:
            raise SyncCalledFromAsyncError(
                f"{type(self).__name__}.{function.__name__}() blocks until done, and was called "
                "from async code (an event loop runs in this thread); call it from the "
                "consumer's handlers, which run in a thread"
            )
        future = asyncio.run_coroutine_threadsafe(function(*args), loop)
        try:
            return future.result()
        except BaseException:
            future.cancel()
            raise


class WebsocketConsumer(SyncConsumer):
    """A synchronous WebSocket consumer: override ``connect``, ``receive``, ``disconnect``.

    Served by an :class:`AsyncWebsocketConsumer`, with its states, rules and close codes;
    ``connect()`` accepts by default (raise ``DenyConnection`` to reject), ``receive()``
    gets each frame, ``disconnect(code)`` runs once the peer is gone, after the groups were
    left. Layer messages go to the plain method their ``type`` names.
    """

    _engine_base: ClassVar[type[_Engine]] = _WebsocketEngine
    _api_methods: ClassVar[frozenset[str]] = SyncConsumer._api_methods | {
        "accept",
        "close",
        "connect",
        "disconnect",
        "receive",
        "send",
    }

    # -- override these ------------------------------------------------------------------

    def connect(self) -> None:
        """The client asks to connect. Accepts unless overridden."""
        self.accept()

    def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """A frame from the client: exactly one of ``text_data`` / ``bytes_data`` is set."""

    def disconnect(self, code: int, /) -> None:
        """The peer is gone (``code`` is the close code). The groups are already left."""

    # -- actions -------------------------------------------------------------------------

    @property
    def state(self) -> WebSocketState:
        """Where the connection stands (see :class:`WebSocketState`)."""
        return self._socket().state

    def accept(
        self, subprotocol: str | None = None, headers: Sequence[tuple[bytes, bytes]] | None = None
    ) -> None:
        """Accept the handshake, choosing one of the client's ``subprotocols`` if given."""
        self._on_loop(self._socket().accept, subprotocol, headers)

    def send(
        self, text_data: str | None = None, bytes_data: bytes | None = None, *, close: bool = False
    ) -> None:
        """Send one text or binary frame; then close the socket if ``close``."""
        socket = self._socket()

        async def send() -> None:
            await socket.send(text_data, bytes_data, close=close)

        self._on_loop(send)

    def close(self, code: int | None = None, reason: str | None = None) -> None:
        """Close the socket (``NORMAL_CLOSURE`` by default); before accept, reject it."""
        self._on_loop(self._socket().close, code, reason)

    def _socket(self) -> _WebsocketEngine:
        return cast("_WebsocketEngine", self._serving())

    def _served_by_engine(self, kind: str, method: str) -> bool:
        return kind.startswith("websocket.") or super()._served_by_engine(kind, method)


class JsonWebsocketConsumer(WebsocketConsumer):
    """A synchronous WebSocket consumer speaking JSON text frames: override ``receive_json``.

    Served by an :class:`AsyncJsonWebsocketConsumer`: text that ``decode_json`` rejects (a
    ``ValueError``) closes the socket with 1007, a binary frame with 1003. Override the
    ``encode_json``/``decode_json`` classmethods for another codec.
    """

    _engine_base: ClassVar[type[_Engine]] = _JsonWebsocketEngine
    _api_methods: ClassVar[frozenset[str]] = WebsocketConsumer._api_methods | {
        "decode_json",
        "encode_json",
        "receive_json",
        "send_json",
    }

    def receive_json(self, content: Any) -> None:
        """A decoded JSON value from the client."""

    def send_json(self, content: object, *, close: bool = False) -> None:
        """Send ``content`` encoded by ``encode_json`` as one text frame."""
        socket = cast("_JsonWebsocketEngine", self._serving())

        async def send_json() -> None:
            await socket.send_json(content, close=close)

        self._on_loop(send_json)

    @classmethod
    def decode_json(cls, text_data: str) -> Any:
        """Decode a text frame; raise ``ValueError`` when it is not valid (by default as
        ``AsyncJsonWebsocketConsumer.decode_json`` does)."""
        return AsyncJsonWebsocketConsumer.decode_json(text_data)

    @classmethod
    def encode_json(cls, content: object) -> str:
        """Encode ``content`` for a text frame (by default as
        ``AsyncJsonWebsocketConsumer.encode_json`` does)."""
        return encode_json_text(content)

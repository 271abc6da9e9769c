"""The consumer core: one instance per connection, events dispatched to methods by type.

A consumer listens to two sources at once, the client (the ASGI ``receive``) and its
channel layer (``layer.receive(self.channel_name)``), with one long-lived task per source
that takes the next event and runs its handler itself, under a lock the two share. So:

* handlers run one at a time, never concurrently; each source's events in arrival order
  (between the two sources, in the order they got the lock);
* there is no task per message and no queue between receiving and handling: a layer
  message costs one task switch, the wake-up of the task waiting for it;
* a slow handler pushes back at once: its source is not read until it returns, so the
  layer channel fills and senders get ``ChannelFull`` (``group_send`` skips the member and
  counts it) instead of memory growing. At most one event per source is held outside it.

All handlers run in one ``contextvars`` context, copied from the caller's when serving
starts: what ``connect`` binds, later handlers see.

An event's ``"type"`` names its handler: ``"chat.message"`` calls
``await self.chat_message(message)``. ``StopConsumer`` or an exception from any handler
ends the connection; no handler starts after that. So does the client leaving, once the
handler of its disconnect event (``websocket_disconnect``, ...) has returned; a consumer
with no such handler just ends. ``send(event)`` sends an ASGI event to the client, as in
Django Channels (``base_send`` is the server's ``send`` itself).

When the connection ends, both tasks are cancelled (the layer's ``receive`` is
cancel-safe, so messages not yet taken stay in the layer) and every group joined is left,
also when ``connect`` or a handler raised. A layer message taken but not handled when the
connection ends (after a disconnect, or while waiting for the lock) is dropped with it.

Events of the ASGI protocol (types ``websocket.*``, ``http.*``, ``lifespan.*``) come only from
the server: one arriving from the channel layer is dropped and logged as a warning, never
dispatched (layers refuse to send them; this guards against any other sender).

Without a registered layer under ``channel_layer_alias``, a consumer that declares no
``groups`` still serves its connection; it is using the layer (``channel_layer``,
``channel_name``, ``join_group``) that raises ``LayerNotRegisteredError``, naming the alias to
register. A layer that cannot be reached when a connection starts (``LayerConnectionError``)
refuses that connection (see :meth:`AsyncConsumer._layer_unavailable`).
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from functools import partial
from typing import Any, ClassVar, Self

from fast_channels.consumer._positions import GroupPositions
from fast_channels.consumer._serving import end_serving, stop_tasks
from fast_channels.consumer._turn import Turn
from fast_channels.consumer.app import ConsumerApp, check_initkwargs
from fast_channels.exceptions import (
    ConsumerError,
    LayerConnectionError,
    LayerNotRegisteredError,
    StopConsumer,
    UnknownMessageTypeError,
)
from fast_channels.layers.base import ChannelLayer
from fast_channels.layers.history import (
    HistoryLayer,
    Position,
    Recovered,
    Recovery,
    Unrecoverable,
)
from fast_channels.layers.names import APP_MESSAGE_TYPES, is_server_event_type
from fast_channels.layers.presence import Presence, PresenceLayer
from fast_channels.layers.registry import get_channel_layer
from fast_channels.types import Message, Receive, Scope, Send

__all__ = ["AsyncConsumer", "ConsumerApp", "get_handler_name"]

logger: logging.Logger = logging.getLogger("fast_channels.consumer")


# (consumer class, message type) -> handler method name, for types already checked.
# Only types a class has a handler for get in, so its size is bounded by the code.
_HANDLERS: dict[tuple[type, str], str] = {}
_MAX_HANDLERS = 10_000


def _asgi_event(message: Mapping[str, Any]) -> Message:
    """``message`` as an event to send to the server; ``TypeError`` unless it is a mapping
    with a str ``"type"``."""
    if not isinstance(message, Mapping) or not isinstance(message.get("type"), str):
        raise TypeError(
            f"send() takes an ASGI event, a dict with a str 'type' (e.g. "
            f"{{'type': 'websocket.accept'}}), got {message!r}"
        )
    return message if isinstance(message, dict) else dict(message)


def get_handler_name(message: Mapping[str, object]) -> str:
    """The name of the method that handles ``message``: its ``"type"`` with dots turned
    into underscores (``"chat.message"`` → ``"chat_message"``).

    ``UnknownMessageTypeError`` if the message has no non-empty str ``"type"``, or its
    method name would be private (start with ``_``).
    """
    kind = message.get("type")
    if not isinstance(kind, str) or not kind:
        raise UnknownMessageTypeError(
            f"a message without a str 'type' (keys: {sorted(message)}); every message "
            "needs one naming its handler"
        )
    method = kind.replace(".", "_")
    if method.startswith("_"):
        raise UnknownMessageTypeError(
            f"message type {kind!r} maps to the private name {method!r}; handler names "
            "may not start with '_': give the message a type like 'chat.message'"
        )
    return method


class AsyncConsumer:
    """Base of every consumer: dispatch by message type, a channel layer, groups.

    Configure a subclass with class attributes, or per route with
    ``as_asgi(name=value)`` for any of them:

    ``channel_layer_alias``
        The registered layer to use (``"default"``). ``None``: the consumer has no layer,
        no ``channel_name`` and no groups. An alias that is not registered when a
        connection starts is like ``None``, except that using the layer raises
        ``LayerNotRegisteredError`` (and declaring ``groups`` raises it at the start).
    ``groups``
        Groups this connection's channel joins when it starts and leaves when it ends.
    ``inbox_size``
        Deprecated, no effect: events no longer wait in a consumer-side queue (see the
        module's notes on pushing back); another value than 100 warns.
    """

    channel_layer_alias: str | None = "default"
    groups: Sequence[str] = ()
    inbox_size: int = 100
    scope_type: ClassVar[str | None] = None
    """The ASGI scope ``"type"`` this consumer serves (None: any)."""

    _api_methods: ClassVar[frozenset[str]] = frozenset(
        {
            "as_asgi",
            "base_send",
            "dispatch",
            "dispatch_in_turn",
            "join_group",
            "leave_group",
            "position",
            "present",
            "recover",
            "send",
        }
    )
    """Public methods that no message type may name."""

    def __init__(self, **initkwargs: object) -> None:
        """Apply ``as_asgi()`` options; an unknown option is a ``TypeError``."""
        check_initkwargs(type(self), initkwargs)
        for name, value in initkwargs.items():
            setattr(self, name, value)
        self.scope: Scope = {}
        self._layer: ChannelLayer | None = None
        self._channel_name: str | None = None
        self._base_send: Send | None = None
        self._joined: dict[str, None] = {}  # an ordered set: O(1) join and leave
        self._positions: GroupPositions | None = None  # groups recover() caught up
        self._readers: list[asyncio.Task[None]] = []
        self._client_gone = False
        self._turn = Turn()  # held by whichever source's handler runs
        self._ended: asyncio.Future[None] | None = None  # done once serving has ended

    @classmethod
    def as_asgi(cls, **initkwargs: object) -> ConsumerApp[Self]:
        """An ASGI app serving each connection with a new ``cls(**initkwargs)``.

        ``initkwargs`` override class attributes; a name that is not one, or a value
        that is not valid for it, raises here, when the route is declared.
        """
        check_initkwargs(cls, initkwargs)
        return ConsumerApp(cls, initkwargs)

    # -- what handlers use -------------------------------------------------------------

    @property
    def channel_layer(self) -> ChannelLayer:
        """The connection's channel layer.

        Without one, reading it raises: ``LayerNotRegisteredError`` if no layer is registered
        under ``channel_layer_alias`` (the message says what to register), ``ConsumerError``
        if the alias is None or no connection is being served. (Typed ``ChannelLayer``, not
        ``ChannelLayer | None``, so handlers need no None check to type-check.)
        """
        if self._layer is None:
            raise self._no_layer()
        return self._layer

    @property
    def channel_name(self) -> str:
        """This connection's channel on the layer (``send`` to it reaches this consumer)."""
        if self._channel_name is None:
            raise self._no_layer()
        return self._channel_name

    def _no_layer(self) -> ConsumerError | LayerNotRegisteredError:
        name = type(self).__name__
        alias = self.channel_layer_alias
        if alias is not None and self._base_send is not None:  # serving, alias not registered
            return self._not_registered(alias)
        if alias is None:
            return ConsumerError(
                f"{name} has no channel layer because its channel_layer_alias is None; "
                "set it to a registered alias (e.g. 'default') to use one"
            )
        return ConsumerError(
            f"{name}'s channel layer and channel name exist only while a connection is served"
        )

    def _not_registered(self, alias: str) -> LayerNotRegisteredError:
        try:
            get_channel_layer(alias)
        except LayerNotRegisteredError as exc:
            return LayerNotRegisteredError(
                f"{type(self).__name__} uses a channel layer, but {exc} (e.g. "
                "InMemoryChannelLayer() in tests); it serves without one as long as it does "
                "not use it"
            )
        return LayerNotRegisteredError(  # registered since this connection started
            f"{type(self).__name__}'s connection started before a channel layer was registered "
            f"as {alias!r}; register layers at start-up, before serving"
        )

    async def send(self, message: Mapping[str, Any], /) -> None:
        """Send one ASGI event to the client, e.g. ``{"type": "websocket.accept"}``.

        For a consumer that speaks an ASGI protocol itself, as in Django Channels and
        fast-channels 1.x. ``TypeError`` if ``message`` is not a mapping with a str
        ``"type"``; ``ConsumerError`` outside a connection. The protocol consumers take
        these events through their own steps, so their state stays right:
        ``AsyncWebsocketConsumer`` (whose ``send`` also takes ``text_data=`` /
        ``bytes_data=``) and ``AsyncHttpConsumer``.
        """
        await self._send_event(_asgi_event(message))

    @property
    def base_send(self) -> Send:
        """The server's ASGI ``send`` of the connection being served (Django Channels' name).

        What it sends bypasses the state the protocol consumers keep (prefer :meth:`send`).
        ``ConsumerError`` outside a connection.
        """
        return self._client_send()

    async def join_group(self, group: str, *, info: Mapping[str, object] | None = None) -> None:
        """Add this connection's channel to ``group``; it is left when the connection ends.

        For groups chosen at run time (``f"room-{room}"``); ``groups`` lists fixed ones.
        With ``info`` (a small dict, e.g. ``{"user": "ada"}``), the connection is also
        *present* in the group with it until it leaves (``present()``, and
        ``presence.joined`` / ``presence.left`` events where the group asks for them; see
        :mod:`fast_channels.layers.presence`).
        """
        if info is None:
            await self.channel_layer.group_add(group, self.channel_name)
        else:
            await self._presence_layer().presence_join(group, self.channel_name, info)
        self._joined[group] = None

    async def leave_group(self, group: str) -> None:
        """Remove this connection's channel from ``group`` now (no error if not a member);
        its presence there and the tracking of its history position end too."""
        await self.channel_layer.group_discard(group, self.channel_name)
        self._joined.pop(group, None)
        if self._positions is not None:
            self._positions.forget(group)

    async def present(self, group: str) -> Presence:
        """Who is present in ``group`` now, in every process: channel -> info, with
        ``count`` and ``users(key)`` (see :class:`~fast_channels.layers.presence.Presence`)."""
        return await self._presence_layer().presence(group)

    async def recover(self, group: str, since: Position | None = None) -> Recovery:
        """Join ``group`` (if not yet) and catch up on its history since ``since``.

        Each message kept after ``since`` (``None``: all the group keeps) is dispatched to
        its handler now, oldest first, before any live message of the group; live ones that
        the recovery already dispatched are dropped, so the handlers see every message once,
        in order. Returns the :class:`~fast_channels.layers.history.Recovery`:
        ``result.recovered`` is False when the history could not give what was missed (it
        was lost or trimmed: tell the client to reload), and ``result.position`` is where
        the connection now is (give it to a client that has none). Call it from a handler,
        e.g. ``connect()`` after ``accept()``. The group must keep history
        (``GroupOptions(history_size=...)``), else ``HistoryNotEnabledError``.

        Afterwards :meth:`position` follows each message of the group dispatched, and a
        ``layer.reconnected`` notice recovers the group again from there (see
        :meth:`layer_reconnected`).
        """
        layer = self.channel_layer
        if not isinstance(layer, HistoryLayer):
            raise ConsumerError(
                f"{type(self).__name__}.recover() needs a layer that keeps group history; "
                f"{type(layer).__name__} does not (use a fast-channels layer)"
            )
        result = await layer.group_recover(group, self.channel_name, since)
        self._joined[group] = None
        positions = self._positions
        if positions is None:
            positions = self._positions = GroupPositions()
        positions.start(result)
        if isinstance(result, Recovered):
            for message in result.messages:
                await self.dispatch(message)
        return result

    def position(self, group: str) -> Position | None:
        """Where this connection is in ``group``'s history: the position of the last message
        of it dispatched since :meth:`recover` (None if the group was not recovered)."""
        return None if self._positions is None else self._positions.last(group)

    def _presence_layer(self) -> PresenceLayer:
        layer = self.channel_layer
        if not isinstance(layer, PresenceLayer):
            raise ConsumerError(
                f"{type(self).__name__} asked for presence, which {type(layer).__name__} does "
                "not keep (use a fast-channels layer)"
            )
        return layer

    async def presence_joined(self, message: Message) -> None:
        """A channel joined the presence of a group that asks for events
        (``GroupOptions(presence_events=True)``): ``message["group"]``, ``["channel"]``,
        ``["info"]``. Does nothing by default; override it to tell the client."""

    async def presence_left(self, message: Message) -> None:
        """A present channel left a group that asks for events (or its process's lease ran
        out): ``message["group"]``, ``["channel"]``, ``["info"]``. Does nothing by default."""

    async def layer_reconnected(self, message: Message) -> None:
        """The channel layer may have lost messages meant for this connection.

        Sent by the layer itself (type ``"layer.reconnected"``) after Redis restarted or
        lost its data, or a subscriber reconnected: ``message["reason"]`` says which and
        ``message["lost"]`` how many messages are known lost (None: unknown). The groups
        joined are already restored. By default, groups caught up with :meth:`recover` are
        recovered again from :meth:`position`, so their missed messages are dispatched now
        (one that cannot be is logged as a warning); nothing else is done. Override it to
        resync the rest, e.g. tell the client to reload what it shows (call
        ``super().layer_reconnected(message)`` to keep the recovery).
        """
        if self._positions is None:
            return
        for group in self._positions.groups():
            result = await self.recover(group, self.position(group))
            if isinstance(result, Unrecoverable):
                logger.warning(
                    "%s could not recover group %r after %s (%s): messages may be missing",
                    type(self).__name__,
                    group,
                    message.get("reason"),
                    result.reason,
                )

    async def dispatch(self, message: Message) -> None:
        """Call the handler of ``message["type"]`` (``"chat.message"`` → ``chat_message``)."""
        kind = message.get("type")
        method = _HANDLERS.get((type(self), kind)) if isinstance(kind, str) else None
        if method is None or method in self.__dict__:  # not checked, or shadowed here
            method = self._handler_name(message)
        await getattr(self, method)(message)

    def _handler_name(self, message: Message) -> str:
        """Check that ``message["type"]`` names an async handler of this class; remember it."""
        cls = type(self)
        name = cls.__name__
        try:
            method = get_handler_name(message)
        except UnknownMessageTypeError as exc:
            raise UnknownMessageTypeError(f"{name}: {exc}") from None
        kind: str = message["type"]
        if method in self._api_methods:
            raise UnknownMessageTypeError(
                f"message type {kind!r} maps to {name}.{method}(), which is consumer API, "
                f"not a handler; use a type such as 'app.{kind}'"
            )
        handler: object = getattr(self, method, None)
        if handler is None or not callable(handler):
            if self._client_gone and kind.endswith(".disconnect"):
                raise StopConsumer  # the client left; a consumer need not handle that
            raise UnknownMessageTypeError(
                f"{name} has no handler for message type {kind!r}: write "
                f"`async def {method}(self, message): ...` on {name}"
            )
        if not inspect.iscoroutinefunction(handler):
            raise ConsumerError(f"{name}.{method} handles messages, so it must be `async def`")
        if method not in self.__dict__ and len(_HANDLERS) < _MAX_HANDLERS:
            _HANDLERS[cls, kind] = method  # the class's own handler: checked once per type
        return method

    # -- connection lifecycle ------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one connection: start, dispatch events until it ends, clean up."""
        kind = scope.get("type")
        if self.scope_type is not None and kind != self.scope_type:
            raise ConsumerError(
                f"{type(self).__name__} serves {self.scope_type!r} connections, not {kind!r}; "
                "route it only to those (e.g. WebSocketRoute / add_websocket_route)"
            )
        self.scope = scope
        self._base_send = send
        error: BaseException | None = None
        try:
            try:
                await self._start()
            except LayerConnectionError as exc:
                await self._layer_unavailable(exc, receive)
                return
            await self._serve(receive)
        except StopConsumer:
            pass
        except BaseException as exc:
            error = exc
            if not isinstance(exc, asyncio.CancelledError):
                logger.error(
                    "%s failed on %s: %r",
                    type(self).__name__,
                    scope.get("path"),
                    exc,
                    exc_info=exc,
                )
            raise
        finally:
            try:
                await self._stop_readers()
            finally:
                try:
                    await self._finish(error)
                finally:
                    await self._leave_groups()

    async def _start(self) -> None:
        alias = self.channel_layer_alias
        if alias is None:
            return
        try:
            layer = get_channel_layer(alias)
        except LayerNotRegisteredError as exc:
            if not self.groups:
                return  # serves without a layer; using it raises (see channel_layer)
            raise LayerNotRegisteredError(
                f"{type(self).__name__} joins groups {list(self.groups)!r}, so it needs a "
                f"channel layer, but {exc} (e.g. InMemoryChannelLayer() in tests)"
            ) from None
        self._layer = layer
        self._channel_name = await layer.new_channel()
        for group in self.groups:
            await layer.group_add(group, self._channel_name)
            self._joined[group] = None

    async def _serve(self, receive: Receive) -> None:
        """Start one task per source; return or raise when either ends the connection."""
        ended = self._ended = asyncio.get_running_loop().create_future()
        context = contextvars.copy_context()  # one for all handlers, as in one task
        name = type(self).__name__

        async def next_client_event() -> Message:
            event = await receive()
            message = event if isinstance(event, dict) else dict(event)
            if str(message.get("type", "")).endswith(".disconnect"):
                self._client_gone = True
            return message

        self._readers.append(
            asyncio.create_task(
                self._read(next_client_event, ended, from_layer=False),
                name=f"{name} client reader",
                context=context,
            )
        )
        if self._layer is not None and self._channel_name is not None:
            self._readers.append(
                asyncio.create_task(
                    self._read(partial(self._layer.receive, self._channel_name), ended),
                    name=f"{name} layer reader",
                    context=context,
                )
            )
        await ended

    async def _read(
        self,
        source: Callable[[], Awaitable[Message]],
        ended: asyncio.Future[None],
        *,
        from_layer: bool = True,
    ) -> None:
        """Take each event of one source and handle it, in turn with the other source.

        Ends after the client's disconnect event, or ends serving (:func:`end_serving`) with the
        first exception, from the source or a handler. A failing source (e.g. its layer
        was closed) ends it like an event would: after the other source's running handler.
        """
        turn = self._turn
        try:
            while True:
                try:
                    message = await source()
                    if (
                        from_layer
                        and message.get("type") not in APP_MESSAGE_TYPES
                        and self._refuse_server_event(message)
                    ):
                        continue
                except Exception as exc:
                    if not turn.take_nowait():
                        await turn.take()
                    turn.give()  # ends serving before the next holder of the turn runs
                    if not ended.done():
                        raise
                    logger.debug("%s: a source failed after the end: %r", type(self).__name__, exc)
                    return
                if not turn.take_nowait():  # free unless the other source's handler runs
                    await turn.take()
                try:
                    if ended.done():
                        return
                    if self._should_dispatch(message, from_layer=from_layer):
                        await self.dispatch(message)
                    else:
                        logger.debug(
                            "%s dropped %r: connection is ending", type(self).__name__, message
                        )
                finally:
                    turn.give()
                if self._client_gone and not from_layer:
                    if not ended.done():  # the client left and its handler returned: done
                        ended.set_result(None)
                    return
        except BaseException as exc:
            if ended.done() and isinstance(exc, Exception):  # serving ended: nobody raises it
                logger.error(
                    "%s: a handler failed as the connection ended: %r",
                    type(self).__name__,
                    exc,
                    exc_info=exc,
                )
            end_serving(ended, exc)
            if not isinstance(exc, Exception):
                raise

    def _refuse_server_event(self, message: Message) -> bool:
        """True (and a warning logged) if ``message`` has the type of an ASGI event."""
        kind = message.get("type")
        if not isinstance(kind, str) or not is_server_event_type(kind):
            return False
        logger.warning(
            "%s on %s dropped a layer message of type %r: events of the ASGI protocol come "
            "only from the server, never from a channel layer; its sender must use another "
            "type (e.g. 'app.%s')",
            type(self).__name__,
            self.scope.get("path"),
            kind,
            kind,
        )
        return True

    async def _stop_readers(self) -> None:
        """Stop both source tasks (:func:`stop_tasks`), then wait until no handler runs
        (e.g. one a worker dispatched in turn); a cancellation meanwhile is raised after."""
        readers, self._readers = self._readers, []
        if self._ended is not None and not self._ended.done():
            self._ended.cancel()  # serving is over: no handler starts from now on
        interrupted = await stop_tasks(readers)
        if not self._turn.take_nowait():
            await self._turn.take()
        self._turn.give()
        if interrupted is not None:
            raise interrupted

    async def _leave_groups(self) -> None:
        """Leave every joined group; errors are logged, never raised (cleanup path)."""
        joined, self._joined = self._joined, {}
        if self._layer is None or self._channel_name is None:
            return
        for group in joined:
            try:
                await self._layer.group_discard(group, self._channel_name)
            except Exception as exc:
                logger.warning("%s could not leave group %r: %r", type(self).__name__, group, exc)

    async def dispatch_in_turn(self, message: Message) -> None:
        """:meth:`dispatch` ``message``, in turn with the handlers this consumer's own
        sources run (never concurrently with them): for messages that reach it another
        way, e.g. those a :class:`~fast_channels.worker.Worker` takes from a named channel.

        Raises :class:`ConsumerError` if the consumer is not serving (any more), or when
        called from one of its own handlers (which hold the turn: call ``dispatch`` there).
        """
        turn = self._turn
        if not turn.take_nowait():
            if asyncio.current_task() in self._readers:  # it would wait for itself
                raise ConsumerError(
                    f"dispatch_in_turn() called from a handler of this {type(self).__name__}: "
                    "its handlers already run in turn; call dispatch() there"
                )
            await turn.take()
        try:
            if self._ended is None or self._ended.done():
                raise ConsumerError(f"{type(self).__name__} is not serving a connection")
            await self.dispatch(message)
        finally:
            turn.give()

    # -- hooks for protocol subclasses ---------------------------------------------------

    async def _layer_unavailable(self, error: LayerConnectionError, receive: Receive) -> None:
        """The layer could not be reached as the connection started: nothing ran yet.

        This base re-raises (logged once, with the cause); a protocol subclass answers the
        client instead (a WebSocket consumer refuses the handshake with 1013).
        """
        raise error

    def _should_dispatch(self, message: Message, *, from_layer: bool) -> bool:
        """Whether an event taken is still worth handling (layer messages stop at disconnect;
        those a recovery already dispatched are duplicates)."""
        if from_layer and self._positions is not None and not self._positions.admit(message):
            return False
        return not (from_layer and self._client_gone)

    async def _finish(self, error: BaseException | None) -> None:
        """Called once when serving ends, with the exception that ended it (or None)."""

    async def _send_event(self, event: Message) -> None:
        """Send one ASGI event to the client."""
        await self._client_send()(event)

    def _client_send(self) -> Send:
        """The ASGI ``send`` of the connection served; ``ConsumerError`` outside one."""
        if self._base_send is None:
            raise ConsumerError(f"{type(self).__name__} is not serving a connection")
        return self._base_send

"""WebSocket consumers: text/binary frames, and JSON on top.

A socket moves through :class:`WebSocketState` in one direction only::

    CONNECTING --accept()--> CONNECTED --close()--> CLOSED
         |                       |                     |
         +--close()/Deny---------+---------------------+--> DISCONNECTED (peer gone)

* ``accept()`` is allowed only while CONNECTING; ``send()`` only while CONNECTED. Any
  other call raises ``WebSocketStateError`` naming the state it needs.
* ``close()`` while CONNECTING rejects the handshake (servers answer HTTP 403). It is
  idempotent: closing a socket that is closed or gone does nothing.
* Once the peer is gone (DISCONNECTED), frames sent are dropped: no one can receive them.
  After this consumer closed the socket, layer messages are no longer dispatched.
* Malformed client input closes that one socket: a JSON consumer closes with
  ``INVALID_PAYLOAD`` (1007) on text that is not JSON (``NaN`` and ``Infinity`` are not;
  nor is nesting too deep to decode) and ``UNSUPPORTED_DATA`` (1003) on a binary frame, and
  logs one line. An exception in consumer code closes with ``INTERNAL_ERROR`` (1011), is
  logged on ``fast_channels.consumer`` and re-raised to the server; other connections
  never notice.
* ``disconnect(code)`` runs exactly once for every connection whose ``connect()`` ran: when
  the peer leaves, and also when a handler raised (``code`` 1011), raised ``StopConsumer``
  (1000) or the server cancelled the consumer (the code it closed with, else 1006).
* A close code the server refuses (daphne sends only 1000 and 3000-4999) is replaced by
  1000 NORMAL_CLOSURE, its reason prefixed with the code meant. For an exception in
  consumer code the close is left to the server, which closes on the error (daphne: 1011).
* ``connect()`` returning without ``accept()`` or ``close()`` leaves the client waiting for
  the handshake answer: that is logged as a warning once per consumer class.
* A channel layer that cannot be reached as a connection starts (``LayerConnectionError``)
  refuses it: the handshake is accepted and closed at once with ``TRY_AGAIN_LATER`` (1013,
  reason "channel layer unavailable"), logged as one line naming the cause; ``connect()``
  does not run. Browsers read that code, unlike the HTTP 403 of a rejected handshake.
"""

from __future__ import annotations

import enum
import inspect
from collections.abc import Awaitable, Mapping, Sequence
from typing import Any, ClassVar, overload

from fast_channels.consumer._json import decode_json_text, encode_json_text
from fast_channels.consumer.base import AsyncConsumer, logger
from fast_channels.exceptions import (
    AcceptConnection,
    DenyConnection,
    LayerConnectionError,
    StopConsumer,
    WebSocketStateError,
)
from fast_channels.status import CloseCode
from fast_channels.types import Message, Receive

__all__ = ["AsyncJsonWebsocketConsumer", "AsyncWebsocketConsumer", "WebSocketState"]

_UNSENDABLE_CODES = frozenset({1005, 1006, 1015})
_MAX_REASON_BYTES = 123
_UNAVAILABLE_REASON = "channel layer unavailable"
_warned_no_answer: set[type] = set()  # consumer classes whose connect() forgot to answer


class WebSocketState(enum.Enum):
    """Where a WebSocket connection stands, from this consumer's point of view."""

    CONNECTING = "connecting"
    """The handshake is pending: ``accept()`` or ``close()`` answers it."""
    CONNECTED = "connected"
    """Accepted: frames flow both ways."""
    CLOSED = "closed"
    """This consumer sent a close (or rejected the handshake); waiting for the peer to go."""
    DISCONNECTED = "disconnected"
    """The peer is gone; nothing more can be sent."""


class AsyncWebsocketConsumer(AsyncConsumer):
    """A WebSocket consumer: override ``connect``, ``receive``, ``disconnect``.

    ``connect()`` accepts by default; raise ``DenyConnection`` in it to reject the
    handshake. ``receive()`` gets each frame (``text_data`` or ``bytes_data``).
    ``disconnect(code)`` runs once the peer is gone, after the groups were left, and
    exactly once per connection whose ``connect()`` ran, however it ended. Layer messages go
    to the method their ``type`` names.
    """

    scope_type: ClassVar[str | None] = "websocket"
    _api_methods: ClassVar[frozenset[str]] = AsyncConsumer._api_methods | {
        "accept",
        "close",
        "connect",
        "disconnect",
        "receive",
        "send",
    }

    def __init__(self, **initkwargs: object) -> None:
        super().__init__(**initkwargs)
        self.state: WebSocketState = WebSocketState.CONNECTING
        self._connect_ran = False
        self._disconnect_ran = False
        self._close_code: int | None = None  # the code this consumer closed with

    # -- override these ------------------------------------------------------------------

    async def connect(self) -> None:
        """The client asks to connect. Accepts unless overridden."""
        await self.accept()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """A frame from the client: exactly one of ``text_data`` / ``bytes_data`` is set."""

    async def disconnect(self, code: int, /) -> None:
        """The connection ended (``code`` is the close code); the groups are already left.

        Runs once per connection whose ``connect()`` ran: also when a handler raised
        (1011) or raised ``StopConsumer`` (1000). For clean-up.
        """

    # -- actions -------------------------------------------------------------------------

    async def accept(
        self,
        subprotocol: str | None = None,
        headers: Sequence[tuple[bytes, bytes] | list[bytes]] | None = None,
    ) -> None:
        """Accept the handshake, choosing one of the client's ``subprotocols`` if given.

        ``headers`` are name/value pairs of bytes, as tuples or as ASGI's two-item lists.
        """
        self._require(WebSocketState.CONNECTING, "accept()")
        offered: Sequence[str] = self.scope.get("subprotocols") or ()
        if subprotocol is not None and subprotocol not in offered:
            raise ValueError(
                f"accept(subprotocol={subprotocol!r}): the client offered {list(offered)!r}; "
                "pick one of those or None"
            )
        event: Message = {"type": "websocket.accept", "subprotocol": subprotocol}
        if headers is not None:
            for header in headers:
                if not (
                    isinstance(header, tuple | list)
                    and len(header) == 2
                    and all(isinstance(part, bytes) for part in header)
                ):
                    raise TypeError(f"accept(headers=) needs (bytes, bytes) pairs, got {header!r}")
            event["headers"] = [(name, value) for name, value in headers]
        await self._send_event(event)
        if self.state is WebSocketState.CONNECTING:
            self.state = WebSocketState.CONNECTED

    @overload
    async def send(self, message: Mapping[str, Any], /) -> None: ...

    @overload
    async def send(
        self, text_data: str | None = None, bytes_data: bytes | None = None, *, close: bool = False
    ) -> None: ...

    async def send(
        self,
        text_data: str | Mapping[str, Any] | None = None,
        bytes_data: bytes | None = None,
        *,
        close: bool = False,
    ) -> None:
        """Send one text or binary frame; then close the socket if ``close``.

        ``send(event)`` with one ASGI event, as ``AsyncConsumer.send`` takes it, does what
        the event says through this consumer's own steps: ``websocket.accept`` is
        ``accept()``, ``websocket.send`` a frame, ``websocket.close`` is ``close()``; any
        other event goes to the server as it is.
        """
        if (text_data is None) == (bytes_data is None):
            raise ValueError("send() needs exactly one of text_data= or bytes_data=")
        if text_data is not None and not isinstance(text_data, str):
            if isinstance(text_data, Mapping) and not close:
                await self._send_asgi_event(text_data)
                return
            raise TypeError(f"send(text_data=) needs a str, got {type(text_data).__name__}")
        if bytes_data is not None and not isinstance(bytes_data, bytes | bytearray):
            raise TypeError(f"send(bytes_data=) needs bytes, got {type(bytes_data).__name__}")
        if self.state is WebSocketState.DISCONNECTED:
            logger.debug("%s: peer gone, frame dropped", type(self).__name__)
            return
        self._require(WebSocketState.CONNECTED, "send()")
        if text_data is not None:
            await self._send_event({"type": "websocket.send", "text": text_data})
        else:
            await self._send_event({"type": "websocket.send", "bytes": bytes(bytes_data or b"")})
        if close:
            await self.close()

    async def _send_asgi_event(self, event: Mapping[str, Any]) -> None:
        kind = event.get("type")
        if kind == "websocket.accept":
            await self.accept(event.get("subprotocol"), event.get("headers"))
        elif kind == "websocket.send":
            text: object = event.get("text")
            if text is not None and not isinstance(text, str):
                raise TypeError(f"a websocket.send event's 'text' must be a str, got {text!r}")
            await self.send(text_data=text, bytes_data=event.get("bytes"))
        elif kind == "websocket.close":
            await self.close(event.get("code"), event.get("reason"))
        else:
            await super().send(event)

    async def close(self, code: int | None = None, reason: str | None = None) -> None:
        """Close the socket (``NORMAL_CLOSURE`` by default); before accept, reject it."""
        code = CloseCode.NORMAL_CLOSURE if code is None else code
        if isinstance(code, bool) or not isinstance(code, int):
            raise TypeError(f"close(code=) needs an int, got {code!r}")
        if not 1000 <= code <= 4999 or code in _UNSENDABLE_CODES:
            raise ValueError(
                f"close code {code} cannot be sent: use 1000-4999 except 1005, 1006 and 1015"
            )
        if reason is not None and len(reason.encode()) > _MAX_REASON_BYTES:
            raise ValueError(f"close reason is over {_MAX_REASON_BYTES} bytes in UTF-8")
        if self.state in (WebSocketState.CLOSED, WebSocketState.DISCONNECTED):
            return
        self.state = WebSocketState.CLOSED
        self._close_code = int(code)
        await self._send_close(int(code), reason)

    async def _send_close(self, code: int, reason: str | None, *, fallback: bool = True) -> None:
        """Send the close event; if the server refuses ``code`` (raises), send 1000 instead
        (unless not ``fallback``: then the server's error is raised)."""
        event: Message = {"type": "websocket.close", "code": code}
        if reason:
            event["reason"] = reason
        try:
            await self._send_event(event)
        except Exception as exc:
            if not fallback or code == CloseCode.NORMAL_CLOSURE:
                raise
            logger.debug(
                "%s: the server refused close code %d (%r); sent 1000",
                type(self).__name__,
                code,
                exc,
            )
            meant = f"{code} {reason}" if reason else str(code)
            await self._send_event(
                {
                    "type": "websocket.close",
                    "code": int(CloseCode.NORMAL_CLOSURE),
                    "reason": meant.encode()[:_MAX_REASON_BYTES].decode(errors="ignore"),
                }
            )

    # -- ASGI event handlers -----------------------------------------------------------

    async def websocket_connect(self, message: Message) -> None:
        """The handshake arrived: run ``connect()``; ``DenyConnection`` rejects it,
        ``AcceptConnection`` accepts it."""
        self._connect_ran = True
        try:
            await self.connect()
        except AcceptConnection:
            await self.accept()
        except DenyConnection:
            await self.close()
        if self.state is WebSocketState.CONNECTING:
            self._warn_no_answer()

    def _warn_no_answer(self) -> None:
        cls = type(self)
        if cls in _warned_no_answer:
            return
        _warned_no_answer.add(cls)
        logger.warning(
            "%s.connect() returned without accept() or close() on %s: the client waits for "
            "the handshake answer until its own timeout. Call `await self.accept()` in "
            "connect(), or raise DenyConnection to reject (logged once per consumer class; "
            "ignore it if this consumer accepts later on purpose)",
            cls.__qualname__,
            self.scope.get("path"),
        )

    async def websocket_receive(self, message: Message) -> None:
        """A frame arrived: pass it to ``receive()``."""
        text = message.get("text")
        if text is not None:
            await self.receive(text_data=text)
        else:
            await self.receive(bytes_data=message.get("bytes") or b"")

    async def websocket_disconnect(self, message: Message) -> None:
        """The peer is gone: leave the groups, run ``disconnect(code)``, stop."""
        self.state = WebSocketState.DISCONNECTED
        if not self._disconnect_ran:
            await self._run_disconnect(message.get("code", CloseCode.NO_STATUS_RECEIVED))
        raise StopConsumer

    # -- internals -----------------------------------------------------------------------

    def _require(self, state: WebSocketState, action: str) -> None:
        if self.state is not state:
            raise WebSocketStateError(
                f"{type(self).__name__}.{action} needs a {state.name} WebSocket, but it is "
                f"{self.state.name}"
                + (": call accept() first" if self.state is WebSocketState.CONNECTING else "")
            )

    async def _send_event(self, event: Message) -> None:
        send = self._client_send()  # not super()._send_event: one coroutine less per frame
        try:
            await send(event)
        except OSError as exc:
            # The server noticed the peer left before its disconnect event reached us.
            logger.debug("%s: peer gone while sending (%r)", type(self).__name__, exc)
            self.state = WebSocketState.DISCONNECTED

    def _should_dispatch(self, message: Message, *, from_layer: bool) -> bool:
        if self.state is WebSocketState.DISCONNECTED or self.state is WebSocketState.CLOSED:
            return not from_layer and message.get("type") == "websocket.disconnect"
        return super()._should_dispatch(message, from_layer=from_layer)

    async def _run_disconnect(self, code: int) -> None:
        self._disconnect_ran = True
        await self._leave_groups()
        await self.disconnect(code)

    async def _finish(self, error: BaseException | None) -> None:
        try:
            if not self._client_gone and self.state in (
                WebSocketState.CONNECTING,
                WebSocketState.CONNECTED,
            ):
                if error is None:
                    await self.close()
                elif isinstance(error, Exception):
                    await self._close_after_error()
        finally:
            if self._connect_ran and not self._disconnect_ran:
                await self._disconnect_at_end(
                    CloseCode.ABNORMAL_CLOSURE if self._close_code is None else self._close_code
                )

    async def _close_after_error(self) -> None:
        self.state = WebSocketState.CLOSED
        self._close_code = CloseCode.INTERNAL_ERROR
        try:
            # No fallback: a server that refuses 1011 closes on the error raised to it.
            await self._send_close(CloseCode.INTERNAL_ERROR, None, fallback=False)
        except Exception as exc:
            logger.debug("%s: could not close after an error: %r", type(self).__name__, exc)

    async def _disconnect_at_end(self, code: int) -> None:
        """Run ``disconnect(code)`` as serving ends; its failure is logged, not raised (the
        connection is over, and whatever ended it is being raised)."""
        try:
            await self._run_disconnect(code)
        except Exception as exc:
            logger.error(
                "%s.disconnect() failed as the connection ended: %r",
                type(self).__name__,
                exc,
                exc_info=exc,
            )

    async def _layer_unavailable(self, error: LayerConnectionError, receive: Receive) -> None:
        """Refuse the connection with 1013 (try again later) and one log line: the layer
        cannot be reached, so it could not be served; ``connect()`` never ran."""
        event = await receive()
        if event.get("type") != "websocket.connect":  # the client left first
            self.state = WebSocketState.DISCONNECTED
            return
        logger.warning(
            "%s refused a connection to %s with %d (try again later): its channel layer "
            "%r is unreachable: %s",
            type(self).__name__,
            self.scope.get("path"),
            CloseCode.TRY_AGAIN_LATER,
            self.channel_layer_alias,
            error,
        )
        await self.accept()
        await self.close(CloseCode.TRY_AGAIN_LATER, _UNAVAILABLE_REASON)


class AsyncJsonWebsocketConsumer(AsyncWebsocketConsumer):
    """A WebSocket consumer speaking JSON text frames: override ``receive_json``.

    Text that ``decode_json`` rejects (a ``ValueError``) closes the socket with
    ``INVALID_PAYLOAD`` (1007); a binary frame closes it with ``UNSUPPORTED_DATA`` (1003).
    Override the ``encode_json``/``decode_json`` classmethods for another codec, as plain
    or ``async def`` methods.
    """

    _api_methods: ClassVar[frozenset[str]] = AsyncWebsocketConsumer._api_methods | {
        "decode_json",
        "encode_json",
        "receive_json",
        "send_json",
    }
    _decode_awaits: ClassVar[bool] = False  # decode_json is `async def` (set per class)
    _encode_awaits: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._decode_awaits = inspect.iscoroutinefunction(cls.decode_json)
        cls._encode_awaits = inspect.iscoroutinefunction(cls.encode_json)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """Decode a text frame and pass it to ``receive_json``; close on bad input."""
        if text_data is None:
            await self._reject_input(CloseCode.UNSUPPORTED_DATA, "expected a JSON text frame")
            return
        try:
            content = self.decode_json(text_data)
            if self._decode_awaits:
                content = await content
        except ValueError as exc:
            await self._reject_input(CloseCode.INVALID_PAYLOAD, f"malformed JSON: {exc}")
            return
        except RecursionError:
            await self._reject_input(CloseCode.INVALID_PAYLOAD, "JSON nested too deeply")
            return
        await self.receive_json(content)

    async def receive_json(self, content: Any) -> None:
        """A decoded JSON value from the client."""

    async def send_json(self, content: object, *, close: bool = False) -> None:
        """Send ``content`` encoded by ``encode_json`` as one text frame."""
        encoded = self.encode_json(content)
        if not isinstance(encoded, str):
            if not self._encode_awaits:
                raise TypeError(
                    f"{type(self).__name__}.encode_json() must return a str, got "
                    f"{type(encoded).__name__}"
                )
            encoded = await encoded
        await self.send(text_data=encoded, close=close)

    @classmethod
    def decode_json(cls, text_data: str) -> Any:
        """Decode a text frame; raise ``ValueError`` when it is not valid JSON (``NaN`` and
        ``Infinity`` are not) and ``RecursionError`` when nested too deeply to decode.

        An override may be ``async def``, as in Django Channels and fast-channels 1.x
        (told apart once, when the class is created, not on each frame).
        """
        return decode_json_text(text_data)

    @classmethod
    def encode_json(cls, content: object) -> str | Awaitable[str]:
        """Encode ``content`` for a text frame; ``ValueError`` for a NaN or infinite float
        (JSON has none), ``TypeError`` for a value JSON has no form for.

        An override may be ``async def`` (hence the return type), like ``decode_json``.
        """
        return encode_json_text(content)

    async def _reject_input(self, code: CloseCode, reason: str) -> None:
        logger.info(
            "%s closed %s with %d: %s", type(self).__name__, self.scope.get("path"), code, reason
        )
        reason = reason.encode()[:_MAX_REASON_BYTES].decode(errors="ignore")
        await self.close(code, reason)

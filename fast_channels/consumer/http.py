"""HTTP consumers: a response composed in parts, for long-polling and Server-Sent Events.

An :class:`AsyncHttpConsumer` gets the whole request body in ``handle(body)`` and answers
with ``send_response``, or with ``send_headers`` and then ``send_body`` parts. Like every
consumer it also has a channel layer, so a response can be finished, or streamed, from the
handlers of layer messages::

    class News(AsyncHttpConsumer):
        groups = ["news"]

        async def handle(self, body: bytes) -> None:
            await self.send_headers(headers=[(b"content-type", b"text/event-stream")])
            await self.send_body(b": connected\\n\\n", more_body=True)

        async def news_item(self, message: Message) -> None:   # group_send "news.item"
            await self.send_body(f"data: {message['text']}\\n\\n".encode(), more_body=True)

The response moves through :class:`HttpResponseState` in one direction:
``PENDING --send_headers()--> STARTED --send_body(more_body=False)--> COMPLETE``. Any
other call raises ``ConsumerError`` naming the state it needs.

* The consumer joins its ``groups`` once the request body has arrived, just before
  ``handle()``: no group message reaches it before its response can start.
* ``handle()`` returning does not end the exchange; the response being complete does. A
  consumer that has not completed it keeps serving its layer messages (long-poll: answer
  from a handler; SSE: stream from handlers) until it completes it or the client leaves.
  One without a channel layer must complete it in ``handle()``: returning before that is
  a ``ConsumerError``.
* The client leaving ends the consumer (``http.disconnect``); ``send_body`` after that
  raises ``StopConsumer``, which ends it too. Keep ``handle()`` short: while it runs the
  client's events wait, so a loop streaming from it cannot see the client leave (servers
  drop what it sends then). Stream from layer message handlers, as above.
* ``StopConsumer`` raised after the response started ends the body properly (an empty
  last part). An exception after it started leaves it unfinished: the server drops the
  connection, so the client sees an error, never a truncated body that looks whole.
* ``disconnect()`` runs once when the exchange ends, whatever ended it.
* A request body over ``max_body_size`` bytes is answered 413 and never reaches
  ``handle()``.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar, cast

from fast_channels._headers import header_pairs
from fast_channels.consumer.base import AsyncConsumer, logger
from fast_channels.exceptions import ConfigurationError, ConsumerError, StopConsumer
from fast_channels.types import Message

__all__ = ["AsyncHttpConsumer", "HttpResponseState"]

Headers = Iterable[tuple[bytes, bytes] | list[bytes]] | Mapping[bytes, bytes]
"""Response headers: (name, value) pairs of bytes, as tuples or ASGI's lists, or a dict."""


class HttpResponseState(enum.Enum):
    """Where the response stands."""

    PENDING = "pending"
    """Nothing sent yet: ``send_headers()`` or ``send_response()`` starts the response."""
    STARTED = "started"
    """Status and headers sent; ``send_body()`` sends parts until one without ``more_body``."""
    COMPLETE = "complete"
    """The last body part was sent; nothing more can be."""


def _header_pairs(headers: Headers | None) -> list[tuple[bytes, bytes]]:
    if headers is None:
        return []
    if isinstance(headers, Mapping):
        return header_pairs(cast("Mapping[object, object]", headers).items(), what="headers")
    return header_pairs(headers, what="response headers")


class AsyncHttpConsumer(AsyncConsumer):
    """An HTTP consumer: override ``handle(body)``; compose the response with
    ``send_response`` or ``send_headers`` + ``send_body`` (see the module's notes).

    ``max_body_size``
        The largest request body accepted, in bytes (1 MiB); a bigger one is answered
        413 (Content Too Large).
    """

    scope_type: ClassVar[str | None] = "http"
    max_body_size: int = 1024 * 1024
    _api_methods: ClassVar[frozenset[str]] = AsyncConsumer._api_methods | {
        "disconnect",
        "handle",
        "send_body",
        "send_headers",
        "send_response",
    }

    def __init__(self, **initkwargs: object) -> None:
        super().__init__(**initkwargs)
        size: object = self.max_body_size
        if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
            raise ConfigurationError(
                f"{type(self).__name__}.max_body_size must be a positive int, got {size!r}"
            )
        self.body: list[bytes] = []
        """The request body's parts received so far."""
        self.response_state: HttpResponseState = HttpResponseState.PENDING
        self._received = 0
        self._late_groups: Sequence[str] = self.groups
        self.groups: Sequence[str] = ()  # joined once the request has arrived (http_request)
        self._disconnect_ran = False

    # -- override these ------------------------------------------------------------------

    async def handle(self, body: bytes) -> None:
        """The request arrived with this ``body``: answer it (see the module's notes)."""
        raise NotImplementedError(
            f"{type(self).__name__} must define `async def handle(self, body: bytes)` to "
            "answer its requests"
        )

    async def disconnect(self) -> None:
        """The exchange is over (response complete, client gone, or an error). Runs once;
        nothing can be sent from here."""

    # -- actions -------------------------------------------------------------------------

    async def send_headers(self, *, status: int = 200, headers: Headers | None = None) -> None:
        """Start the response with ``status`` and ``headers``.

        Servers send them with the first body part: call ``send_body`` (with
        ``more_body=True`` to keep the response open).
        """
        if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
            raise ValueError(f"send_headers(status=) needs an int from 100 to 599, got {status!r}")
        pairs = _header_pairs(headers)
        self._require(HttpResponseState.PENDING, "send_headers()")
        self.response_state = HttpResponseState.STARTED
        start: Message = {"type": "http.response.start", "status": status, "headers": pairs}
        await self._send_or_stop(start)

    async def send_body(self, body: bytes, *, more_body: bool = False) -> None:
        """Send a part of the body; without ``more_body`` it is the last one.

        Raises ``StopConsumer`` if the client has left (the consumer ends).
        """
        if not isinstance(body, bytes | bytearray):
            raise TypeError(f"send_body() needs bytes, got {type(body).__name__}")
        self._require(HttpResponseState.STARTED, "send_body()")
        if self._client_gone:
            raise StopConsumer
        if not more_body:
            self.response_state = HttpResponseState.COMPLETE
        await self._send_or_stop(
            {"type": "http.response.body", "body": bytes(body), "more_body": bool(more_body)}
        )

    async def send_response(
        self, status: int, body: bytes, *, headers: Headers | None = None
    ) -> None:
        """The whole response at once: ``send_headers`` and one ``send_body``."""
        if not isinstance(body, bytes | bytearray):
            raise TypeError(f"send_response() needs a bytes body, got {type(body).__name__}")
        await self.send_headers(status=status, headers=headers)
        await self.send_body(body)

    async def send(self, message: Mapping[str, Any], /) -> None:
        """Send one ASGI event through this consumer's steps: ``http.response.start`` is
        ``send_headers()``, ``http.response.body`` is ``send_body()`` (so the response
        state stays right); any other event goes to the server as it is."""
        kind = message.get("type") if isinstance(message, Mapping) else None
        if kind == "http.response.start":
            status: Any = message.get("status")  # send_headers checks it
            await self.send_headers(status=status, headers=message.get("headers"))
        elif kind == "http.response.body":
            await self.send_body(
                message.get("body", b""), more_body=bool(message.get("more_body", False))
            )
        else:
            await super().send(message)

    # -- ASGI event handlers -----------------------------------------------------------

    async def http_request(self, message: Message) -> None:
        """A part of the request body: collect it; when it is whole, join ``groups`` and
        call ``handle(body)``."""
        part: object = message.get("body", b"")
        if not isinstance(part, bytes | bytearray):
            raise ConsumerError(f"http.request body must be bytes, got {type(part).__name__}")
        self._received += len(part)
        if self._received > self.max_body_size:
            self.body.clear()
            logger.info(
                "%s refused %s: body over %d bytes",
                type(self).__name__,
                self.scope.get("path"),
                self.max_body_size,
            )
            await self.send_response(
                413,
                b"request body too large",
                headers=[(b"content-type", b"text/plain; charset=utf-8")],
            )
            return
        self.body.append(bytes(part))
        if message.get("more_body"):
            return
        self.groups = self._late_groups
        for group in self.groups:
            await self.join_group(group)
        await self.handle(b"".join(self.body))
        if self.response_state is not HttpResponseState.COMPLETE and self._layer is None:
            raise ConsumerError(
                f"{type(self).__name__}.handle() returned without completing the response: "
                "call send_response(), or send_body() without more_body (only a consumer "
                "with a channel layer may complete it later, from a layer message)"
            )

    async def http_disconnect(self, message: Message) -> None:
        """The client is gone: end the consumer."""
        raise StopConsumer

    async def dispatch(self, message: Message) -> None:
        """Handle ``message``; end the consumer once the response is complete."""
        await super().dispatch(message)
        if self.response_state is HttpResponseState.COMPLETE:
            raise StopConsumer

    # -- internals -----------------------------------------------------------------------

    def _require(self, state: HttpResponseState, action: str) -> None:
        if self.response_state is not state:
            hint = {
                HttpResponseState.PENDING: ": call send_headers() first",
                HttpResponseState.STARTED: ": the response has started already",
                HttpResponseState.COMPLETE: ": the response is complete",
            }[self.response_state]
            raise ConsumerError(
                f"{type(self).__name__}.{action} needs a {state.name} response, but it is "
                f"{self.response_state.name}{hint}"
            )

    async def _send_or_stop(self, event: Message) -> None:
        try:
            await self._send_event(event)
        except OSError as exc:  # the server noticed the client left before we did
            logger.debug("%s: client gone while sending (%r)", type(self).__name__, exc)
            self._client_gone = True
            raise StopConsumer from None

    async def _finish(self, error: BaseException | None) -> None:
        try:
            if (
                error is None
                and self.response_state is HttpResponseState.STARTED
                and not self._client_gone
            ):
                await self.send_body(b"")
        except StopConsumer:
            pass
        finally:
            if not self._disconnect_ran:
                self._disconnect_ran = True
                if error is None:
                    await self.disconnect()
                else:
                    try:
                        await self.disconnect()
                    except Exception as exc:
                        logger.error(
                            "%s.disconnect() failed after an error: %r",
                            type(self).__name__,
                            exc,
                            exc_info=exc,
                        )

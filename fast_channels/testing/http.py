"""Test an HTTP application or consumer as a client would, with no server.

::

    communicator = HttpCommunicator(HelloConsumer, "/hello", method="POST", body=b"hi")
    response = await communicator.get_response()
    assert response["status"] == 200 and response["body"] == b"hello, hi"

``get_response()`` sends the request and collects the whole response. A streamed one
(Server-Sent Events, long-poll) is read part by part with ``get_response_start()`` and
``get_body_part()``; ``disconnect()`` leaves as a client closing the connection would.
Every wait has a timeout (seconds) that raises ``CommunicatorTimeoutError``; an exception
raised by the application is re-raised by the next call.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TypedDict, overload

from fast_channels.consumer.base import AsyncConsumer
from fast_channels.exceptions import CommunicatorError
from fast_channels.testing._scope import Headers, application_of, connection_scope
from fast_channels.testing.application import ApplicationCommunicator
from fast_channels.types import ASGIApp, Message

__all__ = ["HttpCommunicator", "HttpResponse"]

_METHOD = re.compile(r"[A-Za-z]+", re.ASCII)


class HttpResponse(TypedDict):
    """A whole response, as ``get_response()`` returns it."""

    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes


class HttpCommunicator(ApplicationCommunicator):
    """A fake HTTP client making one request to ``application`` (an ASGI app or a
    consumer class).

    Two forms: fast-channels 1.x's ``HttpCommunicator(app, path, method="GET", body=b"",
    headers=None)`` and Django Channels' ``HttpCommunicator(app, method, path, body=b"",
    headers=None)``. ``path`` may carry a query string; ``headers`` are ``(bytes,
    bytes)`` pairs (tuples or lists); ``extra_scope`` adds or overrides scope keys.
    """

    @overload
    def __init__(
        self,
        application: ASGIApp | type[AsyncConsumer],
        path: str,
        /,
        *,
        method: str = "GET",
        body: bytes = b"",
        headers: Headers | None = None,
        spec_version: str | int | None = None,
        extra_scope: Mapping[str, object] | None = None,
    ) -> None: ...

    @overload
    def __init__(
        self,
        application: ASGIApp | type[AsyncConsumer],
        method: str,
        path: str,
        /,
        body: bytes = b"",
        headers: Headers | None = None,
        *,
        spec_version: str | int | None = None,
        extra_scope: Mapping[str, object] | None = None,
    ) -> None: ...

    def __init__(
        self,
        application: ASGIApp | type[AsyncConsumer],
        first: str,
        second: str | None = None,
        /,
        body: bytes = b"",
        headers: Headers | None = None,
        *,
        method: str | None = None,
        spec_version: str | int | None = None,
        extra_scope: Mapping[str, object] | None = None,
    ) -> None:
        if second is None:
            path, verb = first, method or "GET"
        elif method is not None:
            raise TypeError(
                "give the method once: HttpCommunicator(app, path, method='POST') or "
                "HttpCommunicator(app, 'POST', path)"
            )
        else:
            verb, path = first, second
        if not isinstance(verb, str) or not _METHOD.fullmatch(verb):
            raise ValueError(f"method must be an HTTP method such as 'GET', got {verb!r}")
        if not isinstance(body, bytes | bytearray):
            raise TypeError(f"body must be bytes, got {type(body).__name__}")
        scope = connection_scope("http", path, headers or [], spec_version)
        scope["method"] = verb.upper()
        scope.update(extra_scope or {})
        super().__init__(application_of(application), scope)
        self.body: bytes = bytes(body)
        self._request_sent = False

    async def send_request(self, *, more_body: bool = False) -> None:
        """Send the request body (``more_body=True``: more parts follow, sent with
        ``send_input``). ``get_response()`` and ``get_response_start()`` call it if needed."""
        if self._request_sent:
            raise CommunicatorError("the request was sent already")
        self._request_sent = True
        await self.send_input({"type": "http.request", "body": self.body, "more_body": more_body})

    async def get_response_start(self, timeout: float = 1) -> tuple[int, list[tuple[bytes, bytes]]]:
        """The response's status and headers (the request is sent first if it was not)."""
        if not self._request_sent:
            await self.send_request()
        event = await self._next_output(timeout, "the response start (get_response_start)")
        if event["type"] != "http.response.start":
            raise CommunicatorError(f"expected http.response.start, got {event!r}")
        status: int = event["status"]
        return status, [(name, value) for name, value in event.get("headers", [])]

    async def get_body_part(self, timeout: float = 1) -> tuple[bytes, bool]:
        """The next part of the response body, and whether more parts follow."""
        event: Message = await self._next_output(timeout, "a body part (get_body_part)")
        if event["type"] != "http.response.body":
            raise CommunicatorError(f"expected http.response.body, got {event!r}")
        body: bytes = event.get("body", b"")
        more: bool = event.get("more_body", False)
        return body, more

    async def get_response(self, timeout: float = 1) -> HttpResponse:
        """Send the request (if not sent yet) and return the whole response."""
        status, headers = await self.get_response_start(timeout)
        parts: list[bytes] = []
        more = True
        while more:
            part, more = await self.get_body_part(timeout)
            parts.append(part)
        return {"status": status, "headers": headers, "body": b"".join(parts)}

    async def disconnect(self, timeout: float = 1) -> None:
        """Leave as a client closing the connection would, and wait for the app to end."""
        if self._task is not None and not self.finished:
            await self.send_input({"type": "http.disconnect"})
        await self.wait(timeout)

    async def _close(self) -> None:
        if self._task is not None and not self.finished:
            await self.disconnect()
        else:
            await super()._close()

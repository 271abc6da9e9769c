"""Test a WebSocket application or consumer as a client would, with no server.

::

    async with WebsocketCommunicator(EchoConsumer, "/ws/echo/") as communicator:
        connected, subprotocol = await communicator.connect()
        await communicator.send_json_to({"message": "hi"})
        assert await communicator.receive_json_from() == {"message": "hi"}

Every wait has a timeout (seconds) that raises ``CommunicatorTimeoutError`` naming what
was awaited; an exception raised by the application is re-raised by the next call.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from fast_channels.consumer.base import AsyncConsumer
from fast_channels.exceptions import CommunicatorError, CommunicatorTimeoutError
from fast_channels.status import CloseCode
from fast_channels.testing._scope import Headers, application_of, connection_scope
from fast_channels.testing.application import ApplicationCommunicator
from fast_channels.types import ASGIApp, Scope

__all__ = ["WebsocketCommunicator"]


def _scope(
    path: str,
    headers: Headers,
    subprotocols: Sequence[str],
    spec_version: str | int | None,
    extra: Mapping[str, object],
) -> Scope:
    if isinstance(subprotocols, str) or not all(isinstance(p, str) for p in subprotocols):
        raise TypeError(f"subprotocols must be a list of str, got {subprotocols!r}")
    scope = connection_scope("websocket", path, headers, spec_version)
    scope["scheme"] = "ws"
    scope["subprotocols"] = list(subprotocols)
    scope.update(extra)
    return scope


class WebsocketCommunicator(ApplicationCommunicator):
    """A fake WebSocket client for ``application`` (an ASGI app or a consumer class).

    A consumer class is served through ``as_asgi()``. ``path`` may carry a query string
    (``"/ws/chat/?room=1"``); ``headers`` are ``(bytes, bytes)`` pairs (tuples or lists);
    ``spec_version`` is the ASGI spec version the scope announces (``"2.3"`` by default),
    in ``scope["asgi"]["spec_version"]``; ``extra_scope`` adds or overrides scope keys
    (``{"user": user}``, ``{"path_params": {...}}``).
    """

    def __init__(
        self,
        application: ASGIApp | type[AsyncConsumer],
        path: str,
        headers: Headers | None = None,
        subprotocols: Sequence[str] | None = None,
        spec_version: str | int | None = None,
        *,
        extra_scope: Mapping[str, object] | None = None,
    ) -> None:
        scope = _scope(path, headers or [], subprotocols or [], spec_version, extra_scope or {})
        super().__init__(application_of(application), scope)
        self.connected: bool = False
        self.response_headers: list[tuple[bytes, bytes]] | None = None
        """The headers the application accepted the handshake with (None before)."""

    async def connect(self, timeout: float = 1) -> tuple[bool, str | int | None]:
        """Open the socket: ``(True, subprotocol)`` if accepted, else ``(False, close code)``.

        ``CommunicatorTimeoutError`` if the application does not answer the handshake within
        ``timeout`` seconds (a consumer whose ``connect()`` forgot ``accept()``).
        """
        await self.send_input({"type": "websocket.connect"})
        try:
            answer = await self._next_output(timeout, "the handshake answer (connect)")
        except CommunicatorTimeoutError as exc:
            raise CommunicatorTimeoutError(
                f"{exc}. A consumer answers the handshake in its connect() with "
                "`await self.accept()` (or close() / raise DenyConnection to reject): "
                "does it call one of them?"
            ) from None
        if answer["type"] == "websocket.accept":
            self.connected = True
            self.response_headers = [(name, value) for name, value in answer.get("headers", [])]
            subprotocol: str | None = answer.get("subprotocol")
            return True, subprotocol
        if answer["type"] == "websocket.close":
            code: int = answer.get("code", CloseCode.NORMAL_CLOSURE)
            return False, code
        raise CommunicatorError(
            "expected websocket.accept or websocket.close in answer to the handshake, "
            f"got {answer!r}"
        )

    async def send_to(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """Send one frame to the application: exactly one of text or bytes."""
        if (text_data is None) == (bytes_data is None):
            raise ValueError("send_to() needs exactly one of text_data= or bytes_data=")
        if text_data is not None:
            if not isinstance(text_data, str):
                raise TypeError(f"text_data must be a str, got {type(text_data).__name__}")
            await self.send_input({"type": "websocket.receive", "text": text_data})
            return
        if not isinstance(bytes_data, bytes):
            raise TypeError(f"bytes_data must be bytes, got {type(bytes_data).__name__}")
        await self.send_input({"type": "websocket.receive", "bytes": bytes_data})

    async def send_json_to(self, data: object) -> None:
        """Send ``data`` as one JSON text frame."""
        await self.send_to(text_data=json.dumps(data))

    async def receive_from(self, timeout: float = 1) -> str | bytes:
        """The next frame the application sends (text as str, binary as bytes)."""
        event = await self._next_output(timeout, "a frame (receive_from)")
        if event["type"] != "websocket.send":
            raise CommunicatorError(f"expected a websocket.send frame, got {event!r}")
        text: str | None = event.get("text")
        if text is not None:
            return text
        data: bytes | None = event.get("bytes")
        if data is None:
            raise CommunicatorError(
                f"a websocket.send event carries neither text nor bytes: {event!r}"
            )
        return data

    async def receive_json_from(self, timeout: float = 1) -> Any:
        """The next frame, decoded from JSON (it must be a text frame)."""
        frame = await self.receive_from(timeout)
        if not isinstance(frame, str):
            raise CommunicatorError(f"expected a JSON text frame, got binary {frame!r}")
        return json.loads(frame)

    async def disconnect(self, code: int = CloseCode.NORMAL_CLOSURE, timeout: float = 1) -> None:
        """Close from the client side and wait for the application to finish."""
        if self._task is not None and not self.finished:
            await self.send_input({"type": "websocket.disconnect", "code": int(code)})
        self.connected = False
        await self.wait(timeout)

    async def _close(self) -> None:
        if self._task is not None and not self.finished:
            await self.disconnect()
        else:
            await super()._close()

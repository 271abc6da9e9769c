"""The client side of the compatibility matrix: what a conforming server does, checked.

Each check talks to a served matrix app (see :mod:`tests.matrix.probe`) through the
``websockets`` client and either returns what it observed, or raises :class:`Mismatch`
saying what it expected and what it got. A check never waits without a bound: every step
has the deadline of :data:`CHECK_SECONDS`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Subprotocol

CHECK_SECONDS = 20.0
"""The most one check may take (servers start slowly on a busy machine; none takes a second)."""
CLOSE_SECONDS = 10.0
"""The most a check waits for a socket the server should close (a bound, not a timing)."""
LARGE_FRAME_BYTES = 1024 * 1024
MANY_CLIENTS = 50
CLIENT_CLOSE_CODES = (1000, 1001, 4002)


class Mismatch(Exception):
    """The server did something other than what the check expects."""


@dataclass(frozen=True, slots=True)
class Check:
    """One behaviour of the server, as a client sees it."""

    name: str
    expects: str
    """What a conforming server does, in a sentence (shown on the compatibility page)."""
    run: Callable[[str], Awaitable[str]]
    """Given ``ws://host:port``, check it; return what was observed, or raise Mismatch."""


def _open(url: str, **options: Any) -> connect:
    return connect(url, proxy=None, open_timeout=CHECK_SECONDS, close_timeout=5, **options)


async def _text(ws: ClientConnection) -> str:
    frame = await ws.recv()
    if not isinstance(frame, str):
        raise Mismatch(f"expected a text frame, got {frame[:40]!r}")
    return frame


async def _json(ws: ClientConnection) -> Any:
    return json.loads(await _text(ws))


async def _closed(ws: ClientConnection) -> tuple[int, str]:
    """Wait for the server to close ``ws``: its close code and reason (1006: dropped)."""
    try:
        frame = await ws.recv()
    except ConnectionClosed as closed:
        if closed.rcvd is None:
            return 1006, "dropped without a close frame"
        return closed.rcvd.code, closed.rcvd.reason
    raise Mismatch(f"expected the server to close the socket, got a frame {frame!r}")


@contextlib.asynccontextmanager
async def _observer(base: str) -> AsyncGenerator[ClientConnection]:
    async with _open(f"{base}/probe/observe") as observer:
        if await _json(observer) != {"observing": True}:
            raise Mismatch("the observer socket did not greet")
        yield observer


async def _report(observer: ClientConnection, tag: str) -> dict[str, Any]:
    """The next report tagged ``tag`` (reports of earlier checks are skipped)."""
    while True:
        report = await _json(observer)
        if report.get("tag") == tag:
            result: dict[str, Any] = report
            return result


async def echo(base: str) -> str:
    async with _open(f"{base}/probe/echo") as ws:
        await _json(ws)
        await ws.send("héllo ✓")
        if (got := await ws.recv()) != "héllo ✓":
            raise Mismatch(f"text frame came back as {got!r}")
        await ws.send(b"\x00\xff binary")
        if (got := await ws.recv()) != b"\x00\xff binary":
            raise Mismatch(f"binary frame came back as {got!r}")
    return "text and binary frames echoed"


async def handshake_scope(base: str) -> str:
    url = f"{base}/probe/echo?a=1&b=%20x"
    offered = [Subprotocol("v0"), Subprotocol("probe")]
    async with _open(url, subprotocols=offered, additional_headers={"X-Probe": "42"}) as ws:
        hello = await _json(ws)
        wrong: list[str] = []
        if ws.subprotocol != "probe":
            wrong.append(f"client got subprotocol {ws.subprotocol!r}")
        if hello["offered"] != ["v0", "probe"]:
            wrong.append(f"scope subprotocols {hello['offered']!r}")
        if hello["query"] != {"a": "1", "b": " x"}:
            wrong.append(f"query {hello['query']!r}")
        if hello["x-probe"] != ["42"]:
            wrong.append(f"X-Probe header {hello['x-probe']!r}")
        if hello["scheme"] not in ("ws", None):
            wrong.append(f"scheme {hello['scheme']!r}")
        if not hello["has_client"]:
            wrong.append("no scope['client']")
        if wrong:
            raise Mismatch("; ".join(wrong))
    return "subprotocol, query string and headers as sent"


async def accept_headers(base: str) -> str:
    async with _open(f"{base}/probe/headers") as ws:
        await _text(ws)
        value = ws.response.headers.get("x-probe-accept") if ws.response else None
    if value != "yes":
        raise Mismatch("the handshake response lacks the header given to accept(headers=)")
    return "header present"


async def server_close(base: str) -> str:
    async with _open(f"{base}/probe/echo") as ws:
        await _json(ws)
        await ws.send("!close")
        code, reason = await _closed(ws)
    if (code, reason) != (4001, "probe bye"):
        raise Mismatch(f"client saw close {code} {reason!r}, not 4001 'probe bye'")
    return "4001 'probe bye'"


async def server_close_code(base: str) -> str:
    tag = uuid.uuid4().hex
    async with _observer(base) as observer:
        async with _open(f"{base}/probe/echo?tag={tag}") as ws:
            await _json(ws)
            await ws.send("!close")
            await _closed(ws)
        code = (await _report(observer, tag))["code"]
    if code != 4001:
        raise Mismatch(f"disconnect() got code {code} after the consumer closed with 4001")
    return f"disconnect({code})"


async def client_close_code(base: str) -> str:
    seen: list[str] = []
    wrong: list[str] = []
    async with _observer(base) as observer:
        for sent in CLIENT_CLOSE_CODES:
            tag = uuid.uuid4().hex
            async with _open(f"{base}/probe/echo?tag={tag}") as ws:
                await _json(ws)
                await ws.close(sent, "client bye")
            got = (await _report(observer, tag))["code"]
            seen.append(f"{sent}→{got}")
            if got != sent:
                wrong.append(f"{sent}→{got}")
    if wrong:
        raise Mismatch(f"disconnect() got other codes than the client sent: {', '.join(wrong)}")
    return ", ".join(seen)


async def abrupt_drop(base: str) -> str:
    tag = uuid.uuid4().hex
    async with _observer(base) as observer:
        ws = await _open(f"{base}/probe/echo?tag={tag}")
        await _json(ws)
        ws.transport.abort()
        await ws.wait_closed()
        code = (await _report(observer, tag))["code"]
    if code not in (1005, 1006):
        raise Mismatch(f"disconnect() got code {code} for a dropped connection")
    return f"disconnect({code})"


async def deny(base: str) -> str:
    try:
        async with _open(f"{base}/probe/echo?deny=1"):
            pass
    except InvalidStatus as refused:
        status = refused.response.status_code
        if status != 403:
            raise Mismatch(f"a denied handshake got HTTP {status}, not 403") from refused
        return "HTTP 403"
    raise Mismatch("a denied handshake was accepted")


async def json_errors(base: str) -> str:
    seen: list[str] = []
    wrong: list[str] = []
    for frame, expected in (("{not json", 1007), (b"\x00binary", 1003), ('"crash"', 1011)):
        async with _open(f"{base}/probe/room") as good, _open(f"{base}/probe/room") as bad:
            await _json(good)
            await _json(bad)
            await bad.send(frame)
            try:
                async with asyncio.timeout(CLOSE_SECONDS):
                    code, _ = await _closed(bad)
            except TimeoutError:
                seen.append("open")
                wrong.append(f"{frame!r} left the socket open")
            else:
                seen.append(str(code))
                if code != expected:
                    wrong.append(f"{frame!r} closed the socket with {code}, not {expected}")
            await good.send(json.dumps("still here"))
            if (got := await _json(good)) != "still here":
                raise Mismatch(f"the other socket got {got!r}")
    if wrong:
        raise Mismatch("; ".join(wrong))
    return " ".join(seen)


async def groups(base: str) -> str:
    async with _observer(base) as observer:
        async with _open(f"{base}/probe/room") as one, _open(f"{base}/probe/room") as two:
            await _json(one)
            await _json(two)
            await one.send(json.dumps({"n": 1}))
            if (await _json(one), await _json(two)) != ({"n": 1}, {"n": 1}):
                raise Mismatch("a group message did not reach both members")
        # Both sockets are closed; the consumers leave the group as they end.
        while True:
            await observer.send(json.dumps("stats"))
            stats = await _json(observer)
            while "stats" not in stats:
                stats = await _json(observer)
            if stats["stats"]["groups"] == 1:  # the observers' own group only
                return "broadcast, then both left the group"
            await asyncio.sleep(0.05)


async def many_clients(base: str) -> str:
    async with contextlib.AsyncExitStack() as stack:
        sockets = await asyncio.gather(
            *(stack.enter_async_context(_open(f"{base}/probe/room")) for _ in range(MANY_CLIENTS))
        )
        await asyncio.gather(*(_json(ws) for ws in sockets))
        await sockets[0].send(json.dumps("to everyone"))
        got = await asyncio.gather(*(_json(ws) for ws in sockets))
    if got != ["to everyone"] * MANY_CLIENTS:
        raise Mismatch(f"{sum(g != 'to everyone' for g in got)} clients missed the broadcast")
    return f"{MANY_CLIENTS} clients got the broadcast"


async def large_frame(base: str) -> str:
    payload = "x" * LARGE_FRAME_BYTES
    async with _open(f"{base}/probe/echo", max_size=None) as ws:
        await _json(ws)
        await ws.send(payload)
        try:
            got = await ws.recv()
        except ConnectionClosed as closed:
            code = closed.rcvd.code if closed.rcvd else 1006
            raise Mismatch(f"a 1 MiB frame closed the socket with {code}") from closed
    if got != payload:
        raise Mismatch("a 1 MiB frame came back changed")
    return "1 MiB echoed"


CHECKS: tuple[Check, ...] = (
    Check("echo", "Text and binary frames reach the consumer and come back unchanged.", echo),
    Check(
        "handshake-scope",
        "The consumer's scope has the query string, request headers and offered "
        "subprotocols; the chosen subprotocol reaches the client.",
        handshake_scope,
    ),
    Check(
        "accept-headers",
        "Headers given to `accept(headers=...)` are in the handshake response.",
        accept_headers,
    ),
    Check(
        "server-close",
        "`close(4001, reason)` reaches the client with that code and reason.",
        server_close,
    ),
    Check(
        "server-close-code",
        "After the consumer closed with 4001 (and the client answered), `disconnect()` "
        "receives 4001.",
        server_close_code,
    ),
    Check(
        "client-close-code",
        "A client closing with 1000, 1001 (a browser leaving the page) or 4002 makes "
        "`disconnect()` receive that code.",
        client_close_code,
    ),
    Check(
        "abrupt-drop",
        "A connection dropped without a close frame still runs `disconnect()`, with 1005 "
        "or 1006 (servers differ: the ASGI spec leaves it open).",
        abrupt_drop,
    ),
    Check("deny", "`DenyConnection` in `connect()` answers the handshake with HTTP 403.", deny),
    Check(
        "json-errors",
        "Malformed JSON closes with 1007, a binary frame to a JSON consumer with 1003, an "
        "exception in a handler with 1011; other sockets carry on.",
        json_errors,
    ),
    Check(
        "groups",
        "A group message reaches every member; closed sockets leave their groups.",
        groups,
    ),
    Check(
        "many-clients",
        f"{MANY_CLIENTS} simultaneous clients all receive one group message.",
        many_clients,
    ),
    Check("large-frame", "A 1 MiB text frame is received and echoed.", large_frame),
)
"""Every check, in the order they run and appear on the page."""


async def shutdown_close(process_stop: Callable[[], None], base: str) -> str:
    """What a connected client sees when the server is asked to stop (SIGTERM).

    Not a pass/fail check: servers differ (and may wait for the socket to close); the page
    shows the code each one sends.
    """
    async with _open(f"{base}/probe/echo") as ws:
        await _json(ws)
        process_stop()
        code, reason = await _closed(ws)
    return f"{code} {reason!r}".strip() if reason else str(code)

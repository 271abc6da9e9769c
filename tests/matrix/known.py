"""Known differences: what a server (or a framework under it) does otherwise, and how to
live with it.

A check that fails in a cell a difference covers, with the very observation the difference
describes, is reported as *differs* (documented), not as a failure; any other observation
fails. Each entry is shown on the compatibility page with its workaround. An entry whose
cell does not work (``works=False``: an incompatibility, or a known bug until its fix is
in) is marked ✗ there, with its number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Difference:
    """One way a server, or a framework under some servers, departs from the checks."""

    key: str
    check: str | None
    """The check it explains; None: every check (the combination does not serve)."""
    servers: tuple[str, ...]
    """The servers it happens under; empty: every server."""
    observed: str
    """A regular expression the check's observation matches in full."""
    title: str
    what: str
    workaround: str
    frameworks: tuple[str, ...] = ()
    """The frameworks it happens with; empty: every framework."""
    works: bool = True
    """False: the cell does not work (an incompatibility, or a bug whose fix is pending)."""

    def covers(self, check: str, server: str, framework: str, observed: str) -> bool:
        """Whether this explains ``check`` failing with ``observed`` in that cell."""
        return (
            self.check in (None, check)
            and (not self.servers or server in self.servers)
            and (not self.frameworks or framework in self.frameworks)
            and re.fullmatch(self.observed, observed) is not None
        )


_FALLBACK_1000 = (
    r"'\{not json' closed the socket with 1000, not 1007; "
    r"b'\\x00binary' closed the socket with 1000, not 1003"
)

DIFFERENCES: tuple[Difference, ...] = (
    Difference(
        key="hypercorn-close-codes",
        check="client-close-code",
        servers=("hypercorn",),
        observed=r"disconnect\(\) got other codes than the client sent: "
        r"1000→1006, 1001→1006, 4002→1006",
        title="Hypercorn does not pass the client's close code to `disconnect()`",
        what="Whatever code the client closes with (1000, 1001, 4002), `disconnect(code)` "
        "receives 1006; after the consumer itself closed, it receives 1000.",
        workaround="Do not branch on the code in `disconnect()` if you serve with Hypercorn. "
        "When the reason a client leaves matters (logging out, leaving a room), have the "
        "client say so in a last message before it closes.",
    ),
    Difference(
        key="quart-close-codes",
        check="client-close-code",
        servers=(),
        frameworks=("quart",),
        observed=r"disconnect\(\) got other codes than the client sent: "
        r"1000→1005, 1001→1005, 4002→1005",
        title="Quart does not pass the client's close code to `disconnect()`",
        what="Quart ends its WebSocket handler when the client leaves without saying with "
        "which code; fast-channels' Quart adapter then runs `disconnect()` with 1005 (no "
        "status received), whatever code the client sent, under every server.",
        workaround="As under Hypercorn: do not branch on the code in `disconnect()`; have the "
        "client say why it leaves in a last message.",
    ),
    Difference(
        key="server-close-codes",
        check="server-close-code",
        servers=("hypercorn", "granian"),
        observed=r"disconnect\(\) got code (1000|1005) after the consumer closed with 4001",
        title="Hypercorn and Granian report another code after the consumer closed",
        what="After `close(4001)` in the consumer, `disconnect(code)` receives 1000 under "
        "Hypercorn and 1005 under Granian (uvicorn and Daphne: 4001). With Quart, the "
        "adapter reports the consumer's own code under Hypercorn, and under Granian from "
        "Quart 0.23. The client sees 4001 on every server.",
        workaround="The consumer chose the code itself: keep it (`self.close_code = 4001` "
        "before `await self.close(4001)`) instead of reading it back in `disconnect()`.",
    ),
    Difference(
        key="accept-headers",
        check="accept-headers",
        servers=("granian", "daphne"),
        observed=r"the handshake response lacks the header given to accept\(headers=\)",
        title="Granian and Daphne drop the headers given to `accept(headers=...)`",
        what="The handshake response lacks them; no error is raised. The chosen subprotocol "
        "does reach the client on every server.",
        workaround="Set cookies and other headers on an ordinary HTTP response before the "
        "WebSocket opens, or send the data in the first message after `accept()`.",
    ),
    Difference(
        key="daphne-close-reason",
        check="server-close",
        servers=("daphne",),
        observed=r"client saw close 4001 '', not 4001 'probe bye'",
        title="Daphne drops the close reason",
        what='`close(4001, reason="probe bye")` reaches the client as 4001 with an empty reason.',
        workaround="Send what the client should show in a last message, then close: "
        '`await self.send_json({"error": "..."}); await self.close(4001)`.',
    ),
    Difference(
        key="daphne-protocol-codes",
        check="json-errors",
        servers=("daphne",),
        observed=_FALLBACK_1000,
        title="Daphne refuses the close codes 1003 and 1007: the client gets 1000",
        what="Daphne accepts only 1000 and 3000-4999 from an application and raises on any "
        "other code. A JSON consumer closes with 1007 on malformed JSON and with 1003 on a "
        "binary frame; when the server refuses the code, fast-channels closes with 1000 "
        "instead and logs why on `fast_channels.consumer`. `disconnect()` runs as "
        "everywhere, and an exception in a handler still reaches the client as 1011 "
        "(Daphne sends it when the error reaches it).",
        workaround="To tell a client why it was closed, close with your own code from "
        "4000-4999 (`await self.close(4400)` on bad input) or send the reason in a last "
        "message; under Daphne a client never sees 1003 or 1007.",
    ),
    Difference(
        key="quart-daphne-scheme",
        check=None,
        servers=("daphne",),
        frameworks=("quart",),
        observed=r".*HTTP 500.*",
        works=False,
        title="Quart does not serve WebSockets under Daphne (no `scheme` in the scope)",
        what="Daphne's WebSocket scope has no `scheme` (the ASGI spec makes it optional, "
        "`ws` by default); Quart reads it, and answers every WebSocket handshake with "
        "HTTP 500 (`KeyError: 'scheme'` in Daphne's log). Quart's HTTP routes work.",
        workaround="Serve Quart with Hypercorn, uvicorn or Granian; or, under Daphne, serve "
        "a wrapper that fills the scheme in: `async def daphne_app(scope, receive, send): "
        'await app({"scheme": "ws", **scope}, receive, send)`. With it, Quart under '
        "Daphne passes the checks as any framework does under Daphne (and with "
        "[Quart's close codes](#quart-close-codes)), but for an exception in a handler, "
        "which reaches the client as 1000 (checked by `tests/matrix/test_workarounds.py`).",
    ),
    Difference(
        key="litestar-daphne-crash",
        check="json-errors",
        servers=("daphne",),
        frameworks=("litestar",),
        observed=_FALLBACK_1000 + r"""; '"crash"' closed the socket with 4500, not 1011""",
        title="Litestar under Daphne: an exception in a handler reaches the client as 4500",
        what="A consumer routed with `consumer_route()` or `run_consumer()` whose handler "
        "raises closes with 1011, which Daphne refuses; the error then reaches Litestar, "
        "which closes the socket with its own internal-error code, 4500. Other sockets carry "
        "on; malformed input closes with 1000 as under Daphne with any framework.",
        workaround="Treat 4500 like 1011 in the client, or serve Litestar with uvicorn, "
        "Hypercorn or Granian.",
    ),
)


def difference_for(check: str, server: str, framework: str, observed: str) -> Difference | None:
    """The documented difference that explains ``check`` failing with ``observed`` in the
    cell of ``framework`` under ``server``, if any."""
    for difference in DIFFERENCES:
        if difference.covers(check, server, framework, observed):
            return difference
    return None

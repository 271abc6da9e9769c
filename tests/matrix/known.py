"""Known server differences: what a server does otherwise, and how to live with it.

A check that fails on a server listed here is reported as *differs* (documented), not as
a failure. Each entry is shown on the compatibility page with its workaround.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Difference:
    """One way a server departs from what the checks expect."""

    key: str
    check: str
    servers: tuple[str, ...]
    title: str
    what: str
    workaround: str


DIFFERENCES: tuple[Difference, ...] = (
    Difference(
        key="hypercorn-close-codes",
        check="client-close-code",
        servers=("hypercorn",),
        title="Hypercorn does not pass the client's close code to `disconnect()`",
        what="Whatever code the client closes with (1000, 1001, 4002), `disconnect(code)` "
        "receives 1006; after the consumer itself closed, it receives 1000.",
        workaround="Do not branch on the code in `disconnect()` if you serve with Hypercorn. "
        "When the reason a client leaves matters (logging out, leaving a room), have the "
        "client say so in a last message before it closes.",
    ),
    Difference(
        key="server-close-codes",
        check="server-close-code",
        servers=("hypercorn", "granian"),
        title="Hypercorn and Granian report another code after the consumer closed",
        what="After `close(4001)` in the consumer, `disconnect(code)` receives 1000 under "
        "Hypercorn and 1005 under Granian (uvicorn and Daphne: 4001). The client sees 4001 "
        "on every server.",
        workaround="The consumer chose the code itself: keep it (`self.close_code = 4001` "
        "before `await self.close(4001)`) instead of reading it back in `disconnect()`.",
    ),
    Difference(
        key="accept-headers",
        check="accept-headers",
        servers=("granian", "daphne"),
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
        title="Daphne drops the close reason",
        what='`close(4001, reason="probe bye")` reaches the client as 4001 with an empty reason.',
        workaround="Send what the client should show in a last message, then close: "
        '`await self.send_json({"error": "..."}); await self.close(4001)`.',
    ),
    Difference(
        key="daphne-protocol-codes",
        check="json-errors",
        servers=("daphne",),
        title="Daphne refuses server close codes other than 1000 and 3000-4999",
        what="Daphne's WebSocket library raises on any other code a server sends (1003, "
        "1007, 1008, 1011, ...). fast-channels closes a JSON consumer's socket with 1007 "
        "on malformed JSON and 1003 on a binary frame: under Daphne the close raises inside "
        "the consumer, which then ends with 1011 and logs the error. Other sockets carry on.",
        workaround="Under Daphne, close with your own codes from 4000-4999 (`close(4400)` "
        "for bad input) and expect 1011 where fast-channels would send 1003 or 1007.",
    ),
)


def difference_for(check: str, server: str) -> Difference | None:
    """The documented difference that explains ``check`` failing on ``server``, if any."""
    for difference in DIFFERENCES:
        if difference.check == check and server in difference.servers:
            return difference
    return None

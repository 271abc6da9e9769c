"""A documented difference excuses exactly the observation it describes, in its cells."""

from __future__ import annotations

from tests.matrix.known import DIFFERENCES, difference_for

FALLBACK = (
    "'{not json' closed the socket with 1000, not 1007; "
    "b'\\x00binary' closed the socket with 1000, not 1003"
)
LEFT_OPEN = FALLBACK + """; '"crash"' left the socket open"""
LITESTAR_CRASH = FALLBACK + """; '"crash"' closed the socket with 4500, not 1011"""
QUART_CODES = "disconnect() got other codes than the client sent: 1000→1005, 1001→1005, 4002→1005"
REFUSED = "InvalidStatus: server rejected WebSocket connection: HTTP 500"


def _key(check: str, server: str, framework: str, observed: str) -> str | None:
    found = difference_for(check, server, framework, observed)
    return None if found is None else found.key


def test_a_difference_covers_its_observation_under_its_servers_only() -> None:
    assert _key("json-errors", "daphne", "django", FALLBACK) == "daphne-protocol-codes"
    assert _key("json-errors", "uvicorn", "django", FALLBACK) is None


def test_another_failure_of_the_same_check_is_not_excused() -> None:
    """A socket left open under Daphne is a failure, not the documented 1000 fallback."""
    assert _key("json-errors", "daphne", "django", LEFT_OPEN) is None
    assert _key("json-errors", "daphne", "django", "no answer within 20 s") is None


def test_a_framework_scoped_difference_covers_that_framework_only() -> None:
    assert _key("json-errors", "daphne", "litestar", LITESTAR_CRASH) == "litestar-daphne-crash"
    assert _key("json-errors", "daphne", "litestar", LEFT_OPEN) is None  # a hang is a bug
    assert _key("client-close-code", "uvicorn", "quart", QUART_CODES) == "quart-close-codes"
    assert _key("client-close-code", "uvicorn", "fastapi", QUART_CODES) is None


def test_an_incompatibility_covers_every_check_of_its_cell() -> None:
    for check in ("echo", "groups", "accept-headers"):
        assert _key(check, "daphne", "quart", REFUSED) == "quart-daphne-scheme"
    assert _key("echo", "hypercorn", "quart", REFUSED) is None


def test_cells_that_do_not_work_are_the_incompatibilities() -> None:
    broken = {d.key for d in DIFFERENCES if not d.works}
    assert broken == {"quart-daphne-scheme"}

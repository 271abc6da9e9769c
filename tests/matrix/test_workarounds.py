"""The workarounds the compatibility page gives work: checked with real servers and clients.

Quart under Daphne: the app wrapped as the page says (``quart_app.daphne_app``) serves
WebSockets, with the behaviour of any framework under Daphne but for a handler's exception.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from tests.e2e.asgi_servers import running_server
from tests.matrix.checks import CHECK_SECONDS, CHECKS, Check, Mismatch
from tests.matrix.known import difference_for

pytest.importorskip("daphne")
pytest.importorskip("quart")


@pytest.fixture(scope="module")
def quart_under_daphne() -> Iterator[str]:
    with running_server("daphne", "tests.e2e.frameworks.quart_app:daphne_app") as base:
        yield base


@pytest.mark.parametrize("check", CHECKS, ids=[check.name for check in CHECKS])
async def test_quart_under_daphne_serves_once_the_scope_has_a_scheme(
    quart_under_daphne: str, check: Check
) -> None:
    try:
        async with asyncio.timeout(CHECK_SECONDS):
            await check.run(quart_under_daphne)
    except Mismatch as mismatch:
        observed = str(mismatch)
        if check.name == "json-errors":
            # Quart closes the socket itself when a handler raises: 1000, not 1011.
            assert observed.endswith("""'"crash"' closed the socket with 1000, not 1011""")
            observed = observed.removesuffix(
                """; '"crash"' closed the socket with 1000, not 1011"""
            )
        known = difference_for(check.name, "daphne", "quart", observed)
        assert known is not None, observed
        assert known.works, f"{observed}: {known.key}"

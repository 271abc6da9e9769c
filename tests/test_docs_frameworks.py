"""The samples of docs/frameworks.md run: the Litestar and Quart apps under uvicorn, the
Django Channels consumer chatting through each of their routes, with real clients."""

from __future__ import annotations

import importlib
import json
import re

import pytest

# Run by the main suite only: the oldest-framework run of scripts/test has neither.
pytest.importorskip("litestar")
pytest.importorskip("quart")

from websockets.asyncio.client import connect

from docs.examples.memory_layers import setup_channel_layers
from tests.e2e.asgi_servers import ROOT
from tests.e2e.client import recv_json
from tests.e2e.conftest import serve


async def chat_between(first_url: str, second_url: str) -> None:
    async with connect(first_url) as first, connect(second_url) as second:
        await first.send(json.dumps({"message": "hi"}))
        assert await recv_json(first) == {"message": "hi"}
        assert await recv_json(second) == {"message": "hi"}
        await second.send(json.dumps({"message": "back"}))
        assert await recv_json(first) == {"message": "back"}


async def test_litestar_sample_routes_share_rooms() -> None:
    module = importlib.import_module("docs.examples.litestar_app")
    setup_channel_layers()  # registered at import, which ran once, in whichever test
    async with serve(module.app) as base:
        await chat_between(f"{base}/ws/chat/lobby", f"{base}/ws/checked/lobby")
        await chat_between(f"{base}/channels/chat/lobby/", f"{base}/ws/chat/lobby")


async def test_quart_sample_chat() -> None:
    module = importlib.import_module("docs.examples.quart_app")
    setup_channel_layers()
    async with serve(module.app) as base:
        await chat_between(f"{base}/ws/chat/lobby", f"{base}/ws/chat/lobby")


def test_the_pages_code_is_the_tested_samples() -> None:
    """Every Python block of the page is a verbatim excerpt of a file in docs/examples."""
    page = (ROOT / "docs/frameworks.md").read_text()
    samples = [p.read_text() for p in sorted((ROOT / "docs/examples").glob("*.py"))]
    blocks = re.findall(r"```python\n(.*?)```", page, flags=re.DOTALL)
    assert blocks
    for block in blocks:
        assert any(block in sample for sample in samples), f"not in docs/examples:\n{block}"

"""Fixtures for the demo's browser tests: the demo server, and headless Debian chromium."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright, expect

from tests.demo.server import DemoServer

CHROMIUM = Path("/usr/bin/chromium")
EXPECT_TIMEOUT_MS = 20_000
JOB_STEP_SECONDS = 0.05
"""Demo jobs in tests take 20 steps of this (1 s); a test may parametrize its own."""

expect.set_options(timeout=EXPECT_TIMEOUT_MS)


LAYERS = [
    pytest.param("in-memory", id="in-memory"),
    pytest.param("redis", id="redis", marks=pytest.mark.redis),
]


@pytest.fixture(params=LAYERS)
def demo_layer(request: pytest.FixtureRequest) -> str:
    """The layer the demo runs on: "in-memory" or "redis"."""
    layer: str = request.param
    return layer


@pytest.fixture
def demo_job_step_seconds() -> float:
    """Seconds per step of the demo's jobs (``DEMO_JOB_STEP_SECONDS``)."""
    return JOB_STEP_SECONDS


@pytest.fixture
async def demo(
    demo_layer: str, demo_job_step_seconds: float, request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[DemoServer]:
    """The demo, served on a free port for one test (Redis: a throwaway redis-server)."""
    redis_url = None
    if demo_layer == "redis":
        redis_url = request.getfixturevalue("redis_server").url
    server = DemoServer(
        tmp_path / "demo.log", redis_url=redis_url, job_step_seconds=demo_job_step_seconds
    )
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
def chromium() -> Path:
    """Debian's chromium binary (Playwright's own browser download does not work here)."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: scripts/test installs it (apt-get install chromium)")
    return CHROMIUM


@pytest.fixture
async def browser(chromium: Path) -> AsyncIterator[Browser]:
    """Headless chromium driven by Playwright."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium, args=["--headless", "--no-sandbox"]
        )
        try:
            yield browser
        finally:
            await browser.close()

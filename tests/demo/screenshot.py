"""Take the README's screenshot of the demo: ``python -m tests.demo.screenshot [PATH] [WIDTH]``.

It serves the demo, has two browser pages chat in ``#lobby``, sends a notification and
runs a job, then saves Ada's page (default: ``docs/images/demo-chat.png``). With a WIDTH
(e.g. 390), Ada's page is a phone screen that wide, saved whole (full page).
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

import httpx
from playwright.async_api import async_playwright, expect

from tests.demo.conftest import CHROMIUM
from tests.demo.pages import chat_line, open_demo, say
from tests.demo.server import ROOT, DemoServer

DEFAULT_PATH = ROOT / "docs" / "images" / "demo-chat.png"


async def take(path: Path, width: int | None = None) -> None:
    """Stage a short conversation and save a screenshot of it to ``path``."""
    with tempfile.TemporaryDirectory() as tmp:
        server = DemoServer(Path(tmp) / "demo.log")
        await server.start()
        try:
            async with async_playwright() as playwright:
                browser = await playwright.chromium.launch(
                    executable_path=CHROMIUM, args=["--headless", "--no-sandbox"]
                )
                ada = await open_demo(browser, server, name="Ada", room="lobby", width=width)
                bob = await open_demo(browser, server, name="Bob", room="lobby")
                await say(ada, "Hi Bob! Did the deploy go out?")
                await expect(chat_line(bob, "Did the deploy go out?")).to_be_visible()
                await say(bob, "Yes, and the job is crunching the report now.")
                await expect(chat_line(ada, "crunching the report")).to_be_visible()
                async with httpx.AsyncClient() as client:
                    await client.post(f"{server.url}/notify", json={"text": "Deploy finished"})
                await expect(ada.get_by_test_id("notifications")).to_contain_text("Deploy")
                await ada.get_by_test_id("start-job").click()
                job = ada.get_by_test_id("jobs").locator("li.job")
                await expect(job).to_have_attribute("data-percent", "100")
                await ada.locator(".toast").first.wait_for(state="detached")
                await ada.screenshot(path=path, full_page=width is not None)
                await browser.close()
        finally:
            await server.stop()


def main() -> None:
    """Entry point: the output path is the only (optional) argument."""
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_PATH
    width = int(sys.argv[2]) if len(sys.argv) > 2 else None
    path.parent.mkdir(parents=True, exist_ok=True)
    asyncio.run(take(path, width))
    print(f"saved {path}")


if __name__ == "__main__":
    main()

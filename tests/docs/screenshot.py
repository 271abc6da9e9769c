"""Screenshots of the built documentation site: ``python -m tests.docs.screenshot [DIR]``.

Builds the site (strict), serves it, and saves the home page, a guide (Getting started),
the compatibility matrix and an API reference page as PNGs in DIR (default
``docs/images/site/``), 1280 px wide, in headless Chromium.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

from playwright.async_api import async_playwright

from tests.demo.conftest import CHROMIUM
from tests.docs.pages import DOCS
from tests.docs.site import build, serving

DEFAULT_DIR = DOCS / "images" / "site"
PAGES = {
    "home.png": "",
    "getting-started.png": "getting-started/",
    "compatibility.png": "compatibility/",
    "reference-consumer.png": "reference/consumer/",
}


async def _photograph(base: str, directory: Path) -> list[Path]:
    saved: list[Path] = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--headless", "--no-sandbox"]
        )
        page = await browser.new_page(viewport={"width": 1280, "height": 900})
        for name, path in PAGES.items():
            await page.goto(f"{base}/{path}")
            await page.wait_for_load_state("networkidle")
            await page.screenshot(path=directory / name)
            saved.append(directory / name)
        await browser.close()
    return saved


def take(directory: Path) -> list[Path]:
    """Build, serve and photograph the pages of :data:`PAGES` into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        site = Path(tmp) / "site"
        build(site)
        with serving(site) as base:
            return asyncio.run(_photograph(base, directory))


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_DIR
    for saved in take(target):
        print(saved)

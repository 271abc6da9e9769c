"""The demo page on a phone (390 and 360 px wide, headless chromium): nothing wider than
the screen, every button on it, and a full-page screenshot exactly as wide as the screen."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from tests.demo.pages import chat_line, open_demo, say
from tests.demo.server import DemoServer

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

BUTTONS = ["Join room", "Send", "Broadcast", "Start a job"]


def png_size(path: Path) -> tuple[int, int]:
    """Width and height of a PNG image, from its IHDR chunk."""
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    width, height = struct.unpack(">II", header[16:24])
    return width, height


@pytest.mark.parametrize("demo_layer", ["in-memory"], indirect=True)
@pytest.mark.parametrize("width", [390, 360])
async def test_the_page_fits_a_phone_screen_with_every_button_on_it(
    browser: Browser, demo: DemoServer, width: int, tmp_path: Path
) -> None:
    page = await open_demo(browser, demo, name="Ada", room="lobby", width=width)
    await say(page, "hello from a phone")
    await expect(chat_line(page, "hello from a phone")).to_be_visible()
    await page.get_by_test_id("start-job").click()
    await expect(page.get_by_test_id("jobs").locator("li.job")).to_have_attribute(
        "data-percent", "100"
    )

    page_width = await page.evaluate("document.documentElement.scrollWidth")
    assert page_width <= width, f"the page is {page_width} px wide on a {width} px screen"
    for name in BUTTONS:
        button = page.get_by_role("button", name=name)
        await expect(button).to_be_visible()
        box = await button.bounding_box()
        assert box is not None, name
        assert box["x"] >= 0, f"{name!r} starts left of the screen: {box}"
        assert box["x"] + box["width"] <= width, f"{name!r} is cut off at {width} px: {box}"

    shot = tmp_path / f"demo-{width}px.png"
    await page.screenshot(path=shot, full_page=True)
    assert png_size(shot)[0] == width, "the full-page screenshot is wider than the screen"

"""Helpers that drive the demo page the way a person would."""

from __future__ import annotations

from urllib.parse import urlencode

from playwright.async_api import Browser, Locator, Page, ViewportSize, expect

from tests.demo.server import DemoServer

VIEWPORT: ViewportSize = {"width": 1280, "height": 720}


async def open_demo(
    browser: Browser, server: DemoServer, *, name: str, room: str, width: int | None = None
) -> Page:
    """A page in its own browser context (own storage), joined to ``room`` as ``name``;
    on a desktop screen, or on a phone screen ``width`` pixels wide."""
    if width is None:
        context = await browser.new_context(viewport=VIEWPORT)
    else:
        phone: ViewportSize = {"width": width, "height": 800}
        context = await browser.new_context(
            viewport=phone, device_scale_factor=1, is_mobile=True, has_touch=True
        )
    page = await context.new_page()
    await page.goto(f"{server.url}/?{urlencode({'room': room, 'name': name})}")
    await expect_connected(page)
    await expect(chat_line(page, f"{name} joined #{room}")).to_be_visible()
    return page


async def expect_connected(page: Page) -> None:
    """Wait until both of the page's sockets are open."""
    await expect(page.get_by_test_id("status")).to_have_attribute("data-state", "open")


async def say(page: Page, text: str) -> None:
    """Type ``text`` into the chat box and send it."""
    await page.get_by_test_id("text").fill(text)
    await page.get_by_test_id("send").click()


def chat_line(page: Page, text: str) -> Locator:
    """The line of the chat that shows ``text``."""
    return page.get_by_test_id("messages").locator("li", has_text=text)

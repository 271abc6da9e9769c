"""The demo's presence-and-history page in headless chromium, on the in-memory and Redis layers.

Two pages in a room see each other online by name, live. One goes offline, messages are
sent, it comes back: it shows every one of them once, in order, before new ones. When the
room's history no longer reaches back, the page says so.
"""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from playwright.async_api import Browser, Page, expect

from demo.rooms import ROOM_HISTORY_ENV
from tests.demo.pages import VIEWPORT
from tests.demo.server import DemoServer


async def open_room(browser: Browser, server: DemoServer, *, name: str, room: str) -> Page:
    """A page in its own browser context, in ``room`` as ``name``, connected."""
    context = await browser.new_context(viewport=VIEWPORT)
    page = await context.new_page()
    await page.goto(f"{server.url}/rooms?{urlencode({'room': room, 'name': name})}")
    await expect(page.get_by_test_id("status")).to_have_attribute("data-state", "open")
    return page


async def say(page: Page, text: str) -> None:
    await page.get_by_test_id("text").fill(text)
    await page.get_by_test_id("send").click()


async def shown(page: Page) -> list[str]:
    """The texts of the page's messages, in the order shown."""
    lines = await page.get_by_test_id("messages").locator("li").all_inner_texts()
    return [line.split(": ", 1)[1].removesuffix(" · caught up") for line in lines]


async def expect_online(page: Page, names: list[str]) -> None:
    online = page.get_by_test_id("online").locator("li")
    await expect(online).to_have_count(len(names))
    for name, item in zip(sorted(names), await online.all(), strict=True):
        await expect(item).to_have_attribute("data-name", name)


async def test_pages_see_who_is_online_by_name(browser: Browser, demo: DemoServer) -> None:
    ada = await open_room(browser, demo, name="ada", room="presence")
    await expect_online(ada, ["ada"])
    bob = await open_room(browser, demo, name="bob", room="presence")
    await expect_online(bob, ["ada", "bob"])
    await expect_online(ada, ["ada", "bob"])
    await bob.context.close()
    await expect_online(ada, ["ada"])
    await ada.context.close()


async def test_a_page_back_online_shows_what_it_missed_once_in_order(
    browser: Browser, demo: DemoServer
) -> None:
    ada = await open_room(browser, demo, name="ada", room="catchup")
    bob = await open_room(browser, demo, name="bob", room="catchup")
    await say(ada, "before")
    await expect(bob.get_by_test_id("messages").locator("li")).to_have_count(1)

    await bob.context.set_offline(True)
    await expect(bob.get_by_test_id("status")).to_have_attribute("data-state", "reconnecting")
    missed = [f"missed {i}" for i in range(1, 6)]
    for text in missed:
        await say(ada, text)
    await expect(ada.get_by_test_id("messages").locator("li")).to_have_count(6)

    await bob.context.set_offline(False)
    await expect(bob.get_by_test_id("status")).to_have_attribute("data-state", "open")
    await say(ada, "after")
    await expect(bob.get_by_test_id("messages").locator("li")).to_have_count(7)
    assert await shown(bob) == ["before", *missed, "after"]
    recovered = bob.get_by_test_id("messages").locator("li.recovered")
    await expect(recovered).to_have_count(5)
    await expect(bob.get_by_test_id("notice")).to_be_hidden()
    positions = (
        await bob.get_by_test_id("messages")
        .locator("li")
        .evaluate_all("items => items.map(item => item.dataset.position)")
    )
    assert [int(p.rsplit(":", 1)[1]) for p in positions] == list(range(1, 8))
    await ada.context.close()
    await bob.context.close()


@pytest.fixture
def short_history(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rooms keep only their last 3 messages (the demo server reads it at start-up)."""
    monkeypatch.setenv(ROOM_HISTORY_ENV, "3")


async def test_a_page_is_told_when_the_history_cannot_reach_back(
    short_history: None, browser: Browser, demo: DemoServer
) -> None:
    ada = await open_room(browser, demo, name="ada", room="lost")
    bob = await open_room(browser, demo, name="bob", room="lost")
    await say(ada, "seen")
    await expect(bob.get_by_test_id("messages").locator("li")).to_have_count(1)
    await bob.context.set_offline(True)
    await expect(bob.get_by_test_id("status")).to_have_attribute("data-state", "reconnecting")
    for i in range(5):  # more than the room keeps
        await say(ada, f"gone {i}")
    await expect(ada.get_by_test_id("messages").locator("li")).to_have_count(6)
    await bob.context.set_offline(False)
    await expect(bob.get_by_test_id("notice")).to_contain_text("could not be recovered")
    await expect(bob.get_by_test_id("status")).to_have_attribute("data-state", "open")
    assert await shown(bob) == ["seen"]  # nothing replayed from a history with a gap
    await say(ada, "new")
    await expect(bob.get_by_test_id("messages").locator("li")).to_have_count(2)
    assert await shown(bob) == ["seen", "new"]
    await ada.context.close()
    await bob.context.close()

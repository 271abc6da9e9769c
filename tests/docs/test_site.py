"""The built site, checked as a reader would: every page of the nav opens in headless
Chromium without a console error or a broken image, every link on it leads somewhere that
exists (anchors included), search finds things, and the API reference documents every
public name.
"""

from __future__ import annotations

import importlib
import re
import zlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlsplit

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from tests.docs.site import build, serving
from tests.test_exported_members import PUBLIC_MODULES

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site, built once for this module with ``mkdocs build --strict``."""
    site_dir = tmp_path_factory.mktemp("site")
    build(site_dir)
    return site_dir


@pytest.fixture(scope="module")
def base(site: Path) -> Iterator[str]:
    with serving(site) as url:
        yield url


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    yield page
    await context.close()


def _inventory(site: Path) -> set[str]:
    """The objects mkdocstrings documented (``objects.inv``, Sphinx's format)."""
    raw = (site / "objects.inv").read_bytes()
    body = zlib.decompress(raw.split(b"\n", 4)[4]).decode()
    return {line.split(" ", 1)[0] for line in body.splitlines()}


def test_the_api_reference_documents_every_exported_name(site: Path) -> None:
    documented = _inventory(site)
    missing: list[str] = []
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            target = getattr(module, name)
            paths = {
                f"{other}.{name}"
                for other in PUBLIC_MODULES
                if getattr(importlib.import_module(other), name, None) is target
            }
            if not paths & documented:
                missing.append(f"{module_name}.{name}")
    assert not missing, f"not in the API reference (docs/reference/): {missing}"


async def _nav_pages(page: Page, base: str) -> list[str]:
    await page.goto(f"{base}/")
    hrefs: list[str] = await page.eval_on_selector_all(
        "nav.md-nav--primary a.md-nav__link[href]", "links => links.map(a => a.href)"
    )
    urls = {urldefrag(href)[0] for href in hrefs if href.startswith(base)}
    return sorted(urls)


async def test_every_nav_page_opens_cleanly_and_links_only_to_what_exists(
    page: Page, base: str
) -> None:
    errors: list[str] = []
    page.on(
        "console",
        lambda m: errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None,
    )
    page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
    page.on(
        "requestfailed",
        lambda r: (
            None
            if r.failure == "net::ERR_ABORTED"  # a load the next navigation cancelled
            else errors.append(f"request failed: {r.url} ({r.failure})")
        ),
    )

    urls = await _nav_pages(page, base)
    assert len(urls) >= 25, urls
    links: dict[str, set[str]] = {}
    for url in urls:
        response = await page.goto(url)
        assert response is not None, url
        assert response.status == 200, url
        await expect(page.locator("article h1").first).to_be_visible()
        broken_images: list[str] = await page.evaluate(
            "Array.from(document.images)"
            ".filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src)"
        )
        assert not broken_images, f"{url}: images that did not load: {broken_images}"
        hrefs: list[str] = await page.eval_on_selector_all(
            "article a[href]", "links => links.map(a => a.href)"
        )
        for href in hrefs:
            if href.startswith(base):
                links.setdefault(href, set()).add(url)
    assert not errors, errors

    broken: list[str] = []
    async with httpx.AsyncClient() as client:
        fetched: dict[str, httpx.Response] = {}
        for href, pages in sorted(links.items()):
            target, fragment = urldefrag(href)
            if target not in fetched:
                fetched[target] = await client.get(target)
            answer = fetched[target]
            if answer.status_code != 200:
                broken.append(f"{href} ({answer.status_code}) on {sorted(pages)}")
            elif fragment and not re.search(rf'id="{re.escape(fragment)}"', answer.text):
                broken.append(f"{href}: no such anchor, on {sorted(pages)}")
    assert not broken, "\n".join(broken)


async def test_search_finds_group_send(page: Page, base: str) -> None:
    await page.goto(f"{base}/")
    search = page.locator("input.md-search__input")
    await search.click()
    await search.press_sequentially("group_send", delay=20)  # as typed: search reacts to keys
    await expect(page.locator(".md-search-result__meta")).to_contain_text("matching documents")
    assert await page.locator(".md-search-result__item").count() >= 3


async def test_the_home_page_shows_the_quickstart_and_the_nav(page: Page, base: str) -> None:
    await page.goto(f"{base}/")
    await expect(page.locator("article h1")).to_contain_text("fast-channels")
    await expect(page.locator("article pre code").first).to_contain_text("class ChatConsumer")
    for section in ("Getting started", "Guides", "API reference"):
        await expect(
            page.locator("nav.md-nav--primary").get_by_text(section).first
        ).to_be_attached()
    split = urlsplit(base)
    assert split.hostname == "127.0.0.1"
    assert urljoin(base, "reference/") in await _nav_pages(page, base)

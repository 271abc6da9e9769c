"""The demo in headless chromium: chat rooms, notifications, job progress, reconnecting.

Each test runs against the demo served by ``python -m demo`` (uvicorn), once on the
in-memory layer and once on the Redis layer (where jobs run in a separate worker process).
"""

from __future__ import annotations

import json
import os
import re
import signal
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager

import httpx
import pytest
from playwright.async_api import Browser, Locator, Page, expect
from websockets.asyncio.client import connect

from tests.demo.pages import chat_line, expect_connected, open_demo, say
from tests.demo.server import DemoServer

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


async def test_two_pages_in_a_room_see_each_others_messages(
    browser: Browser, demo: DemoServer
) -> None:
    ada = await open_demo(browser, demo, name="Ada", room="lobby")
    bob = await open_demo(browser, demo, name="Bob", room="lobby")
    await expect(chat_line(ada, "Bob joined #lobby")).to_be_visible()

    await say(ada, "Hello Bob, the layer carried this.")
    await expect(chat_line(bob, "Hello Bob, the layer carried this.")).to_contain_text("Ada")
    await say(bob, "Hi Ada! Got it.")
    await expect(chat_line(ada, "Hi Ada! Got it.")).to_contain_text("Bob")
    await expect(chat_line(ada, "Hello Bob, the layer carried this.")).to_have_class(
        "msg chat mine"
    )
    await expect(chat_line(ada, "Hi Ada! Got it.")).to_have_class("msg chat")


async def test_rooms_are_separate_groups(browser: Browser, demo: DemoServer) -> None:
    ada = await open_demo(browser, demo, name="Ada", room="lobby")
    bob = await open_demo(browser, demo, name="Bob", room="lobby")
    cy = await open_demo(browser, demo, name="Cy", room="kitchen")

    await say(cy, "only for the kitchen")
    await expect(chat_line(cy, "only for the kitchen")).to_be_visible()
    await say(ada, "only for the lobby")
    # Bob's channel is FIFO: had the kitchen message reached it, it would be there by now.
    await expect(chat_line(bob, "only for the lobby")).to_be_visible()
    await expect(chat_line(bob, "only for the kitchen")).to_have_count(0)
    await expect(chat_line(cy, "only for the lobby")).to_have_count(0)


async def test_a_notify_post_reaches_every_page(browser: Browser, demo: DemoServer) -> None:
    ada = await open_demo(browser, demo, name="Ada", room="lobby")
    bob = await open_demo(browser, demo, name="Bob", room="elsewhere")

    async with httpx.AsyncClient() as client:
        response = await client.post(f"{demo.url}/notify", json={"text": "Deploy finished"})
    assert response.status_code == 202

    for page in (ada, bob):
        await expect(page.get_by_test_id("notifications")).to_contain_text("Deploy finished")


async def test_job_progress_reaches_the_page_up_to_100_percent(
    browser: Browser, demo: DemoServer, demo_layer: str
) -> None:
    page = await open_demo(browser, demo, name="Ada", room="lobby")
    await page.evaluate(
        """() => {
            window.seenPercents = [];
            new MutationObserver((records) => {
                for (const r of records) {
                    if (r.type === "attributes") window.seenPercents.push(r.target.dataset.percent);
                }
            }).observe(document.getElementById("jobs"), {
                subtree: true, attributes: true, attributeFilter: ["data-percent"],
            });
        }"""
    )

    await page.get_by_test_id("start-job").click()

    job = page.get_by_test_id("jobs").locator("li.job")
    await expect(job).to_have_attribute("data-percent", "100")
    await expect(job).to_have_class("job done")
    await expect(job.locator(".percent")).to_have_text("100%")
    runner = "worker pid" if demo_layer == "redis" else "web pid"
    await expect(job.locator(".worker")).to_contain_text(runner)
    seen = [int(p) for p in await page.evaluate("window.seenPercents")]
    assert seen == sorted(seen), "progress went backwards"
    assert sorted(set(seen)) == list(range(0, 101, 5)), "every step is shown as it happens"


# Long enough a job (4 s) that the page's first reconnect (about 0.5 s of backoff) is mid-job.
@pytest.mark.parametrize("demo_job_step_seconds", [0.2])
async def test_job_progress_carries_on_after_the_page_reconnects_mid_job(
    browser: Browser, demo: DemoServer
) -> None:
    page = await open_demo(browser, demo, name="Ada", room="lobby")
    first_channel = await page.evaluate("ui.eventsChannel")
    await page.get_by_test_id("start-job").click()
    job = page.get_by_test_id("jobs").locator("li.job")
    await expect(job).to_have_attribute("data-percent", re.compile(r"[1-9]\d?"))

    await page.evaluate("ui.events.ws.close()")  # as a network blip would; the page retries
    # (the "reconnecting" state lasts only the backoff, ~0.5 s: wait for the new connection)
    await page.wait_for_function("(first) => ui.eventsChannel !== first", arg=first_channel)
    await expect_connected(page)

    await expect(job).to_have_attribute("data-percent", "100")
    await expect(job).to_have_class("job done")
    await expect(job.locator(".percent")).to_have_text("100%")
    assert await page.evaluate("ui.following.size") == 0, "the page forgets a finished job"


@asynccontextmanager
async def following(server: DemoServer, job: str) -> AsyncGenerator[None]:
    """A socket of the test's own that follows ``job`` until it reports done: the block
    ends once the job is over. Enter it while the job runs."""
    ws_url = server.url.replace("http://", "ws://") + "/ws/events"
    async with connect(ws_url) as events:
        assert json.loads(await events.recv())["kind"] == "hello"
        await events.send(json.dumps({"kind": "follow", "jobs": [job]}))
        yield
        while True:
            event = json.loads(await events.recv())
            if event.get("kind") == "job" and event["done"]:
                return


# A 4 s job, so that the page goes offline mid-job.
@pytest.mark.parametrize("demo_job_step_seconds", [0.2])
async def test_a_job_that_ends_while_the_page_is_offline_shows_done_after_it_reconnects(
    browser: Browser, demo: DemoServer
) -> None:
    page = await open_demo(browser, demo, name="Ada", room="lobby")
    await page.get_by_test_id("start-job").click()
    job = page.get_by_test_id("jobs").locator("li.job")
    await expect(job).to_have_attribute("data-percent", re.compile(r"[1-9]\d?"))
    job_id = await job.get_attribute("data-job")
    assert job_id is not None

    async with following(demo, job_id):
        await page.context.set_offline(True)
        await page.evaluate("ui.events.ws.close()")
        await expect(page.get_by_test_id("status")).to_have_attribute("data-state", "reconnecting")
        # Offline, the page waits for the network instead of retrying: the job ends unheard.
        await expect(page.get_by_test_id("status")).to_contain_text("offline")
    assert await job.get_attribute("data-percent") != "100", "the page heard the end"

    await page.context.set_offline(False)
    await expect_connected(page)
    await expect(job).to_have_attribute("data-percent", "100")
    await expect(job).to_have_class("job done")
    await expect(job.locator(".percent")).to_have_text("100%")
    assert await page.evaluate("ui.following.size") == 0, "the page forgets a finished job"


@pytest.mark.parametrize("demo_layer", ["in-memory"], indirect=True)
async def test_the_page_reconnects_after_a_server_restart(
    browser: Browser, demo: DemoServer
) -> None:
    page = await open_demo(browser, demo, name="Ada", room="lobby")

    await demo.stop()
    await expect(page.get_by_test_id("status")).to_have_attribute("data-state", "reconnecting")
    await expect(page.get_by_test_id("status")).to_contain_text("reconnecting")

    await demo.start()
    await expect_connected(page)
    await say(page, "back after the restart")
    await expect(chat_line(page, "back after the restart")).to_be_visible()


async def start_a_job_and_let_it_run(page: Page) -> Locator:
    """Start a job from the page and wait until its bar has moved; the job's row."""
    await page.get_by_test_id("start-job").click()
    job = page.get_by_test_id("jobs").locator("li.job")
    await expect(job).to_have_attribute("data-percent", re.compile(r"[1-9]\d?"))
    return job


# 4 s jobs: the server restarts mid-job.
@pytest.mark.parametrize("demo_job_step_seconds", [0.2])
async def test_a_server_restart_mid_job_never_leaves_a_frozen_bar(
    browser: Browser, demo: DemoServer, demo_layer: str
) -> None:
    """On Redis the stopping worker finishes the job in hand, and the page shows it done;
    the in-memory layer's jobs go with the server, and the page says the job is lost."""
    page = await open_demo(browser, demo, name="Ada", room="lobby")
    job = await start_a_job_and_let_it_run(page)

    await demo.stop()
    await expect(page.get_by_test_id("status")).to_have_attribute("data-state", "reconnecting")
    await demo.start()
    await expect_connected(page)

    if demo_layer == "redis":
        await expect(job).to_have_attribute("data-state", "done")
        await expect(job).to_have_class("job done")
        await expect(job.locator(".percent")).to_have_text("100%")
    else:
        await expect(job).to_have_attribute("data-state", "lost")
        await expect(job).to_have_class("job lost")
        await expect(job.locator(".percent")).to_contain_text("lost at")
        await expect(job.locator(".worker")).to_contain_text("no record of this job")
    assert await page.evaluate("ui.following.size") == 0, "the page stops following the job"


@pytest.mark.parametrize("demo_layer", ["redis"], indirect=True)
@pytest.mark.parametrize("demo_job_step_seconds", [0.2])
async def test_a_job_whose_worker_was_killed_shows_as_stalled(
    browser: Browser, demo: DemoServer
) -> None:
    page = await open_demo(browser, demo, name="Ada", room="lobby")
    job = await start_a_job_and_let_it_run(page)
    runner = await job.locator(".worker").text_content()
    match = re.fullmatch(r"run by worker pid (\d+)", runner or "")
    assert match, runner
    os.kill(int(match[1]), signal.SIGKILL)  # no chance to report anything

    await expect(job).to_have_class(re.compile(r"\bstalled\b"))  # after 5 s of silence
    await expect(job.locator(".percent")).to_contain_text("stalled at")
    await expect(job.locator(".worker")).to_contain_text("its worker may have stopped")

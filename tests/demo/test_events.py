"""The demo's ``/ws/events`` protocol, with no server: a job's progress goes to its group,
a reconnected page follows its jobs again, and malformed client input closes that socket."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from demo.app import create_app
from demo.consumers import MAX_FOLLOWED, MAY_HAVE_MISSED, followed_jobs
from demo.jobs import (
    job_group,
    job_request,
    queued_report,
    run_job,
    stale_seconds,
    step_seconds,
)
from demo.progress import MemoryProgress
from fast_channels.layers import InMemoryChannelLayer, register_channel_layer
from fast_channels.layers.base import RESYNC_MESSAGE_TYPE
from fast_channels.status import CloseCode
from fast_channels.testing import WebsocketCommunicator


@pytest.fixture
async def layer() -> AsyncIterator[InMemoryChannelLayer]:
    layer = InMemoryChannelLayer()
    register_channel_layer("default", layer)
    try:
        yield layer
    finally:
        await layer.aclose()


@pytest.fixture
def store() -> MemoryProgress:
    return MemoryProgress()


@pytest.fixture
def app(layer: InMemoryChannelLayer, store: MemoryProgress) -> FastAPI:
    # Its lifespan (and job runner) does not run: tests play the job.
    return create_app(progress=store)


def progress(job: str, percent: int) -> dict[str, Any]:
    return {"type": "job.progress", "job": job, "percent": percent, "worker": "test"}


async def hello(page: WebsocketCommunicator) -> str:
    connected, _ = await page.connect()
    assert connected
    message = await page.receive_json_from()
    assert message["kind"] == "hello"
    channel: str = message["channel"]
    return channel


async def start_job(app: FastAPI, channel: str) -> str:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        response = await http.post("/jobs", json={"channel": channel})
    assert response.status_code == 202
    job: str = response.json()["job"]
    return job


async def test_a_reconnected_page_follows_its_job_to_the_end(
    app: FastAPI, layer: InMemoryChannelLayer
) -> None:
    async with WebsocketCommunicator(app, "/ws/events") as first:
        job = await start_job(app, await hello(first))
        await layer.group_send(job_group(job), {**progress(job, 10), "done": False})
        assert (await first.receive_json_from())["percent"] == 10

    async with WebsocketCommunicator(app, "/ws/events") as second:
        await hello(second)
        await second.send_json_to({"kind": "follow", "jobs": [job]})
        queued = await second.receive_json_from()  # what POST /jobs saved: no worker yet
        assert (queued["state"], queued["percent"], queued["done"]) == ("queued", 0, False)
        await layer.group_send(job_group(job), {**progress(job, 50), "done": False})
        assert await second.receive_json_from() == {
            "kind": "job",
            "job": job,
            "percent": 50,
            "worker": "test",
            "done": False,
            "state": "running",
            "age": 0.0,
        }
        await layer.group_send(job_group(job), {**progress(job, 100), "done": True})
        assert (await second.receive_json_from())["done"] is True
        await layer.group_send(job_group(job), {**progress(job, 100), "done": True})
        assert await second.receive_nothing(), "a done job's group is left"


RESYNC = {"type": RESYNC_MESSAGE_TYPE, "reason": "Redis lost this layer's data", "lost": None}
"""The notice a layer puts on a channel whose messages may have been lost."""


async def test_a_page_told_messages_were_lost_gets_its_jobs_latest_progress_again(
    app: FastAPI, layer: InMemoryChannelLayer
) -> None:
    async with WebsocketCommunicator(app, "/ws/events") as page:
        channel = await hello(page)
        job = await start_job(app, channel)  # saves the job as queued; the page follows it
        await layer.send(channel, RESYNC)
        again = await page.receive_json_from()
        assert (again["kind"], again["job"], again["state"]) == ("job", job, "queued")
        assert await page.receive_nothing()


async def test_a_chat_page_told_messages_were_lost_says_so(
    app: FastAPI, layer: InMemoryChannelLayer
) -> None:
    async with WebsocketCommunicator(app, "/ws/chat/lobby?name=ada") as page:
        connected, _ = await page.connect()
        assert connected
        welcome = await page.receive_json_from()
        assert welcome["kind"] == "welcome"
        assert (await page.receive_json_from())["kind"] == "presence"  # ada joined
        await layer.send(welcome["you"], RESYNC)
        assert await page.receive_json_from() == {"kind": "presence", "text": MAY_HAVE_MISSED}


async def test_a_page_that_follows_a_job_that_ended_meanwhile_hears_it_is_done(
    app: FastAPI, layer: InMemoryChannelLayer, store: MemoryProgress
) -> None:
    async with WebsocketCommunicator(app, "/ws/events") as first:
        job = await start_job(app, await hello(first))
    await run_job(layer, job_request(job), progress=store, worker="test", step=0.001)

    async with WebsocketCommunicator(app, "/ws/events") as second:
        await hello(second)
        await second.send_json_to({"kind": "follow", "jobs": [job]})
        update = await second.receive_json_from()
        assert update.pop("age") >= 0
        assert update == {
            "kind": "job",
            "job": job,
            "percent": 100,
            "worker": "test",
            "done": True,
            "state": "done",
        }
        await layer.group_send(job_group(job), {**progress(job, 100), "done": True})
        assert await second.receive_nothing(), "a done job's group is left"


@pytest.mark.parametrize(
    "content",
    [
        [],
        "follow",
        {"kind": "follow"},
        {"kind": "unfollow", "jobs": []},
        {"kind": "follow", "jobs": "0123abcd"},
        {"kind": "follow", "jobs": ["../x"]},
        {"kind": "follow", "jobs": [12345678]},
        {"kind": "follow", "jobs": [], "also": 1},
        {"kind": "follow", "jobs": [f"{n:08x}" for n in range(MAX_FOLLOWED + 1)]},
    ],
)
async def test_anything_but_a_follow_message_closes_only_that_socket(
    app: FastAPI, layer: InMemoryChannelLayer, content: object
) -> None:
    assert followed_jobs(content) is None
    async with (
        WebsocketCommunicator(app, "/ws/events") as rude,
        WebsocketCommunicator(app, "/ws/events") as other,
    ):
        await hello(rude)
        await hello(other)
        await rude.send_json_to(content)
        closed = await rude.receive_output()
        assert closed["type"] == "websocket.close"
        assert closed["code"] == CloseCode.INVALID_PAYLOAD

        await layer.group_send("notifications", {"type": "notify.message", "text": "still here"})
        assert await other.receive_json_from() == {"kind": "notification", "text": "still here"}


async def test_a_page_cannot_follow_more_than_the_limit_in_total(
    app: FastAPI, store: MemoryProgress
) -> None:
    half = MAX_FOLLOWED // 2 + 1
    for n in range(2 * half):
        await store.save(queued_report(f"{n:08x}"))
    async with WebsocketCommunicator(app, "/ws/events") as page:
        await hello(page)
        await page.send_json_to({"kind": "follow", "jobs": [f"{n:08x}" for n in range(half)]})
        for _ in range(half):
            assert (await page.receive_json_from())["state"] == "queued"
        more = [f"{n:08x}" for n in range(half, 2 * half)]
        await page.send_json_to({"kind": "follow", "jobs": more})
        closed = await page.receive_output()
        assert closed["type"] == "websocket.close"
        assert closed["code"] == CloseCode.INVALID_PAYLOAD


async def test_a_page_that_follows_a_job_nobody_knows_hears_it_is_lost(
    app: FastAPI, layer: InMemoryChannelLayer
) -> None:
    """What a page hears after the in-memory demo restarted: its job went with the server."""
    async with WebsocketCommunicator(app, "/ws/events") as page:
        await hello(page)
        await page.send_json_to({"kind": "follow", "jobs": ["0123abcd"]})
        update = await page.receive_json_from()
        assert (update["state"], update["done"]) == ("lost", False)
        assert "no record of this job" in update["reason"]
        await layer.group_send(job_group("0123abcd"), {**progress("0123abcd", 5), "done": False})
        assert await page.receive_nothing(), "a lost job's group is left"


async def test_hello_tells_the_page_when_a_silent_job_has_stalled(app: FastAPI) -> None:
    async with WebsocketCommunicator(app, "/ws/events") as page:
        connected, _ = await page.connect()
        assert connected
        assert (await page.receive_json_from())["stale_after"] == stale_seconds(step_seconds())

"""The demo's job, with no server: it reports every step to its group, the last one done,
and keeps the latest in its progress store."""

from __future__ import annotations

import asyncio

import pytest

from demo.jobs import (
    JOBS_CHANNEL,
    STEP_SECONDS,
    STEP_SECONDS_ENV,
    job_group,
    job_request,
    run_job,
    serve_jobs,
    step_seconds,
)
from demo.progress import KEEP_JOBS, MemoryProgress, RedisProgress
from fast_channels.layers import InMemoryChannelLayer
from fast_channels.types import Message
from tests.servers import RedisProcess


async def test_a_job_reports_each_step_to_its_group_and_says_when_it_is_done() -> None:
    layer = InMemoryChannelLayer()
    progress = MemoryProgress()
    try:
        watchers = [await layer.new_channel(), await layer.new_channel()]
        for channel in watchers:
            await layer.group_add(job_group("0123abcd"), channel)
        job = job_request("0123abcd")
        await run_job(layer, job, progress=progress, worker="here", step=0.001)
        seen: list[Message] = []
        for channel in watchers:
            seen = [await layer.receive(channel) for _ in range(21)]
            assert [m["percent"] for m in seen] == list(range(0, 101, 5))
            assert [m["done"] for m in seen] == [False] * 20 + [True]
            assert [m["state"] for m in seen] == ["running"] * 20 + ["done"]
            assert {m["job"] for m in seen} == {"0123abcd"}
        latest = await progress.latest("0123abcd")
        assert latest is not None
        assert latest == {**seen[-1], "at": latest["at"]}
        assert latest["done"] is True
        assert await progress.latest("89abcdef") is None
    finally:
        await layer.aclose()


async def test_the_memory_store_keeps_the_latest_jobs_only() -> None:
    progress = MemoryProgress()
    for n in range(KEEP_JOBS + 1):
        await progress.save({"type": "job.progress", "job": f"{n:08x}", "percent": 5})
    assert await progress.latest(f"{0:08x}") is None
    assert await progress.latest(f"{KEEP_JOBS:08x}") is not None


@pytest.mark.redis
async def test_the_redis_store_is_shared_by_processes(redis_server: RedisProcess) -> None:
    writer, reader = RedisProgress(redis_server.url), RedisProgress(redis_server.url)
    try:
        report = {"type": "job.progress", "job": "0123abcd", "percent": 100, "done": True}
        await writer.save(report)
        assert await reader.latest("0123abcd") == report
        assert await reader.latest("89abcdef") is None
    finally:
        await writer.aclose()
        await reader.aclose()


async def test_a_malformed_job_request_is_ignored(caplog: pytest.LogCaptureFixture) -> None:
    layer = InMemoryChannelLayer()
    try:
        request = {"type": "job.run", "job": "not a job id"}
        await run_job(layer, request, progress=MemoryProgress(), worker="here")
    finally:
        await layer.aclose()
    assert "ignored a malformed job request" in caplog.text


def test_the_step_duration_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(STEP_SECONDS_ENV, raising=False)
    assert step_seconds() == STEP_SECONDS
    monkeypatch.setenv(STEP_SECONDS_ENV, "0.05")
    assert step_seconds() == 0.05
    for bad in ("fast", "0", "-1", "nan", "11"):
        monkeypatch.setenv(STEP_SECONDS_ENV, bad)
        with pytest.raises(ValueError, match=STEP_SECONDS_ENV):
            step_seconds()


async def serve_one_job(step: float, grace: float) -> tuple[list[Message], Message | None]:
    """Serve one job, ask the worker to stop once it has started, and return what its group
    heard and what the store kept."""
    layer = InMemoryChannelLayer()
    progress = MemoryProgress()
    stop = asyncio.Event()
    try:
        watcher = await layer.new_channel()
        await layer.group_add(job_group("0123abcd"), watcher)
        await layer.send(JOBS_CHANNEL, job_request("0123abcd"))
        serving = asyncio.create_task(
            serve_jobs(layer, progress=progress, worker="here", stop=stop, step=step, grace=grace)
        )
        heard = [await layer.receive(watcher)]  # the job has started
        stop.set()
        await serving
        while layer.statistics().buffered:
            heard.append(await layer.receive(watcher))
        return heard, await progress.latest("0123abcd")
    finally:
        await layer.aclose()


async def test_a_stopping_worker_finishes_the_job_in_hand_within_its_grace() -> None:
    heard, latest = await serve_one_job(step=0.001, grace=30)
    assert [m["percent"] for m in heard] == list(range(0, 101, 5))
    assert latest is not None
    assert (latest["state"], latest["done"]) == ("done", True)


async def test_a_job_still_running_after_the_grace_is_reported_lost() -> None:
    heard, latest = await serve_one_job(step=30, grace=0.01)
    assert [m["state"] for m in heard] == ["running", "lost"]
    assert heard[-1]["reason"] == "here stopped before this job finished"
    assert latest is not None
    assert (latest["state"], latest["percent"], latest["done"]) == ("lost", 0, False)

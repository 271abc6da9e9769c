"""The demo's job, with no server: it reports every step to its group, the last one done."""

from __future__ import annotations

import pytest

from demo.jobs import STEP_SECONDS, STEP_SECONDS_ENV, job_group, job_request, run_job, step_seconds
from fast_channels.layers import InMemoryChannelLayer


async def test_a_job_reports_each_step_to_its_group_and_says_when_it_is_done() -> None:
    layer = InMemoryChannelLayer()
    try:
        watchers = [await layer.new_channel(), await layer.new_channel()]
        for channel in watchers:
            await layer.group_add(job_group("0123abcd"), channel)
        await run_job(layer, job_request("0123abcd"), worker="here", step=0.001)
        for channel in watchers:
            seen = [await layer.receive(channel) for _ in range(21)]
            assert [m["percent"] for m in seen] == list(range(0, 101, 5))
            assert [m["done"] for m in seen] == [False] * 20 + [True]
            assert {m["job"] for m in seen} == {"0123abcd"}
    finally:
        await layer.aclose()


async def test_a_malformed_job_request_is_ignored(caplog: pytest.LogCaptureFixture) -> None:
    layer = InMemoryChannelLayer()
    try:
        await run_job(layer, {"type": "job.run", "job": "not a job id"}, worker="here")
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

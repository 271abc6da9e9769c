"""The Worker in-process, on the in-memory layer: dispatch, concurrency, failures, stopping."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import pytest

from fast_channels.consumer import AsyncConsumer
from fast_channels.exceptions import (
    ConfigurationError,
    ConsumerError,
    LayerConnectionError,
    LayerNotRegisteredError,
)
from fast_channels.layers import InMemoryChannelLayer, register_channel_layer
from fast_channels.layers._local import Payload
from fast_channels.types import Message
from fast_channels.worker import Worker, as_worker_app
from tests.worker.apps import (
    PROGRESS_GROUP,
    ChatSocket,
    MissingLayerConsumer,
    ThumbnailConsumer,
    job,
)


@pytest.fixture
async def layer() -> AsyncIterator[InMemoryChannelLayer]:
    layer = InMemoryChannelLayer()
    register_channel_layer("default", layer)
    yield layer
    await layer.aclose()


@pytest.fixture
async def progress(layer: InMemoryChannelLayer) -> str:
    """A channel in the progress group: what a WebSocket client of the jobs would see."""
    channel = await layer.new_channel()
    await layer.group_add(PROGRESS_GROUP, channel)
    return channel


@contextlib.asynccontextmanager
async def running(worker: Worker) -> AsyncGenerator[asyncio.Task[None]]:
    task = asyncio.create_task(worker.run())
    try:
        yield task
    finally:
        worker.stop()
        await task


async def next_event(layer: InMemoryChannelLayer, channel: str) -> tuple[object, object]:
    event = await layer.receive(channel)
    return event["job"], event["state"]


async def test_dispatches_by_type_with_a_channel_scope(
    layer: InMemoryChannelLayer, progress: str
) -> None:
    worker = Worker(ThumbnailConsumer, ["thumbnails"])
    async with running(worker):
        await layer.send("thumbnails", job(7))
        started = await layer.receive(progress)
        assert started["scope"] == {"type": "channel", "channel": "thumbnails"}
        assert await next_event(layer, progress) == (7, "done")
    assert worker.statistics().handled == 1
    assert worker.statistics().received == 1


async def test_a_failing_handler_is_logged_with_its_type_and_the_worker_goes_on(
    layer: InMemoryChannelLayer, progress: str, caplog: pytest.LogCaptureFixture
) -> None:
    worker = Worker(ThumbnailConsumer.as_asgi(), ["thumbnails"])
    async with running(worker):
        await layer.send("thumbnails", job(1, fail=True))
        await layer.send("thumbnails", {"type": "no.such.handler"})
        await layer.send("thumbnails", job(2))
        assert await next_event(layer, progress) == (1, "started")
        assert await next_event(layer, progress) == (2, "started")
        assert await next_event(layer, progress) == (2, "done")
    failures = [r for r in caplog.records if r.name == "fast_channels.worker"]
    assert [r.getMessage() for r in failures] == [
        "handler for message type 'thumbnail.create' on channel 'thumbnails' failed",
        "handler for message type 'no.such.handler' on channel 'thumbnails' failed",
    ]
    assert all(r.levelno == logging.ERROR and r.exc_info for r in failures)
    stats = worker.statistics()
    assert (stats.handled, stats.failed, stats.in_hand) == (1, 2, 0)


async def test_concurrency_one_handles_in_order(layer: InMemoryChannelLayer, progress: str) -> None:
    async with running(Worker(ThumbnailConsumer, ["thumbnails"])):
        for n in range(5):
            await layer.send("thumbnails", job(n))
        events = [await next_event(layer, progress) for _ in range(10)]
    assert events == [(n, state) for n in range(5) for state in ("started", "done")]


async def test_concurrency_n_runs_n_at_once_and_leaves_the_rest_in_the_layer(
    layer: InMemoryChannelLayer, progress: str
) -> None:
    worker = Worker(ThumbnailConsumer, ["thumbnails"], concurrency=3)
    async with running(worker):
        for n in range(5):
            await layer.send("thumbnails", job(n, hold=True))
        started = {await next_event(layer, progress) for _ in range(3)}
        assert started == {(0, "started"), (1, "started"), (2, "started")}
        assert worker.statistics().in_hand == 3
        assert layer.statistics().buffered == 2  # jobs 3 and 4 were not taken
        for n in range(5):
            await layer.send(f"release.{n}", {"type": "release"})
        events = {await next_event(layer, progress) for _ in range(7)}
    assert events == {(n, "done") for n in range(5)} | {(3, "started"), (4, "started")}
    assert worker.statistics().handled == 5


async def test_stop_finishes_the_message_in_hand_and_leaves_the_next_in_the_layer(
    layer: InMemoryChannelLayer, progress: str
) -> None:
    worker = Worker(ThumbnailConsumer, ["thumbnails"])
    run = asyncio.create_task(worker.run())
    await layer.send("thumbnails", job(1, hold=True))
    assert await next_event(layer, progress) == (1, "started")
    worker.stop()
    await layer.send("thumbnails", job(2))
    for _ in range(20):
        await asyncio.sleep(0)
    assert not run.done()  # still finishing job 1
    await layer.send("release.1", {"type": "release"})
    await run
    assert await next_event(layer, progress) == (1, "done")
    assert not worker.forced
    assert worker.statistics().handled == 1
    assert await layer.receive("thumbnails") == job(2)


async def test_a_second_stop_cancels_the_handlers_and_counts_them_as_cancelled(
    layer: InMemoryChannelLayer, progress: str, caplog: pytest.LogCaptureFixture
) -> None:
    worker = Worker(ThumbnailConsumer, ["thumbnails"])
    run = asyncio.create_task(worker.run())
    await layer.send("thumbnails", job(1, hold=True))
    assert await next_event(layer, progress) == (1, "started")
    worker.stop()
    worker.stop()
    await run
    assert worker.forced
    stats = worker.statistics()
    assert (stats.received, stats.handled, stats.failed, stats.cancelled) == (1, 0, 0, 1)
    assert stats.in_hand == 0
    assert layer.statistics().buffered == 0  # no "done" was sent
    assert (
        "handler for message type 'thumbnail.create' on channel 'thumbnails' was cancelled "
        "by a second stop; the message is lost"
    ) in caplog.messages


async def test_several_channels_share_the_slots(layer: InMemoryChannelLayer, progress: str) -> None:
    worker = Worker(ThumbnailConsumer, ["thumbnails", "previews"])
    async with running(worker):
        await layer.send("previews", job(1))
        await layer.send("thumbnails", job(2))
        await layer.send("previews", job(3))
        events = [await layer.receive(progress) for _ in range(6)]
    seen = {(e["job"], e["scope"]["channel"]) for e in events if e["state"] == "started"}
    assert seen == {(1, "previews"), (2, "thumbnails"), (3, "previews")}
    assert worker.statistics().handled == 3


async def test_a_consumer_that_cannot_start_is_logged_and_the_worker_goes_on(
    layer: InMemoryChannelLayer, caplog: pytest.LogCaptureFixture
) -> None:
    two_failures = asyncio.Event()

    class Counter(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if worker.statistics().failed == 2:
                two_failures.set()

    counter = Counter()
    logging.getLogger("fast_channels.worker").addHandler(counter)
    worker = Worker(MissingLayerConsumer, ["thumbnails"])
    try:
        async with running(worker):
            await layer.send("thumbnails", {"type": "anything"})
            await layer.send("thumbnails", {"type": "anything"})
            await two_failures.wait()
    finally:
        logging.getLogger("fast_channels.worker").removeHandler(counter)
    assert "could not start MissingLayerConsumer for a 'anything' message" in caplog.text
    assert "'missing'" in caplog.text


class FlakyLayer(InMemoryChannelLayer):
    """Fails its first receive, as a layer whose Redis restarts would."""

    failures = 1

    async def _receive(self, channel: str) -> Payload:
        if channel == "thumbnails" and self.failures:
            self.failures -= 1
            raise LayerConnectionError("Redis is restarting")
        return await super()._receive(channel)


async def test_a_failed_receive_is_logged_and_retried(caplog: pytest.LogCaptureFixture) -> None:
    layer = FlakyLayer()
    register_channel_layer("default", layer)
    progress = await layer.new_channel()
    await layer.group_add(PROGRESS_GROUP, progress)
    worker = Worker(ThumbnailConsumer, ["thumbnails"], retry_delay=0.01)
    async with running(worker):
        await layer.send("thumbnails", job(1))
        assert (await layer.receive(progress))["state"] == "started"
    assert worker.statistics().receive_errors == 1
    assert "receiving from 'thumbnails' failed" in caplog.text
    await layer.aclose()


async def test_the_worker_stops_when_its_layer_is_closed(layer: InMemoryChannelLayer) -> None:
    worker = Worker(ThumbnailConsumer, ["thumbnails"])
    run = asyncio.create_task(worker.run())
    await asyncio.sleep(0)
    await layer.aclose()
    await run
    assert worker.stop_requested
    with pytest.raises(ConsumerError, match="runs once"):
        await worker.run()


async def test_stop_before_run_returns_at_once(layer: InMemoryChannelLayer) -> None:
    worker = Worker(ThumbnailConsumer, ["thumbnails"])
    worker.stop()
    await worker.run()
    await layer.send("thumbnails", job(1))
    assert layer.statistics().buffered == 1


@pytest.mark.parametrize(
    ("channels", "options", "error"),
    [
        (["thumbnails"], {"concurrency": 0}, "concurrency must be a positive int"),
        (["thumbnails"], {"concurrency": True}, "concurrency must be a positive int"),
        (["thumbnails"], {"retry_delay": 0}, "retry_delay must be positive"),
        (["thumbnails"], {"retry_delay": "1"}, "retry_delay must be a number"),
        ([], {}, "non-empty list"),
        ("thumbnails", {}, "non-empty list"),
        (["a", "a"], {}, "duplicates"),
        (["specific.x!abc"], {}, "process-local"),
        (["bad name"], {}, "invalid channel name"),
    ],
)
def test_bad_configuration_is_refused(
    channels: list[str], options: dict[str, Any], error: str
) -> None:
    register_channel_layer("default", InMemoryChannelLayer())
    with pytest.raises(ValueError, match=error):
        Worker(ThumbnailConsumer, channels, **options)


def test_a_websocket_consumer_or_other_object_is_refused() -> None:
    register_channel_layer("default", InMemoryChannelLayer())
    with pytest.raises(ConfigurationError, match="'websocket' connections"):
        Worker(ChatSocket, ["thumbnails"])
    with pytest.raises(ConfigurationError, match="AsyncConsumer subclass"):
        as_worker_app(print)
    with pytest.raises(LayerNotRegisteredError):
        Worker(ThumbnailConsumer, ["thumbnails"], layer_alias="nope")


async def test_the_consumer_has_no_client_to_send_to(layer: InMemoryChannelLayer) -> None:
    outcome: list[BaseException] = []
    tried = asyncio.Event()

    class Sender(ThumbnailConsumer):
        async def job_send(self, message: Message) -> None:
            try:
                await self._send_event({"type": "websocket.send", "text": "x"})
            except ConsumerError as exc:
                outcome.append(exc)
            tried.set()

    async with running(Worker(Sender, ["thumbnails"])) as _:
        await layer.send("thumbnails", {"type": "job.send"})
        await tried.wait()
    assert "no client" in str(outcome[0])


class TakesTurns(AsyncConsumer):
    """A worker consumer in a group too: its group messages come through its own layer
    source while the worker hands it named-channel messages."""

    groups = ["takes-turns"]
    inside = 0
    most_inside = 0
    in_group_handler = asyncio.Event()
    gate = asyncio.Event()
    changed = asyncio.Event()
    handled: list[str] = []

    @classmethod
    async def until_handled(cls, count: int) -> None:
        while len(cls.handled) < count:
            cls.changed.clear()
            await cls.changed.wait()

    async def _section(self, name: str) -> None:
        cls = type(self)
        cls.inside += 1
        cls.most_inside = max(cls.most_inside, cls.inside)
        try:
            if name == "group":
                cls.in_group_handler.set()
                await cls.gate.wait()
            await asyncio.sleep(0)
        finally:
            cls.inside -= 1
            cls.handled.append(name)
            cls.changed.set()

    async def work_item(self, message: Message) -> None:
        await self._section("work")

    async def group_ping(self, message: Message) -> None:
        await self._section("group")


async def test_a_named_channel_message_waits_for_the_consumers_own_group_handler(
    layer: InMemoryChannelLayer,
) -> None:
    TakesTurns.gate.set()
    worker = Worker(TakesTurns, ["turns"])
    async with running(worker):
        await layer.send("turns", {"type": "work.item"})  # starts the consumer instance
        await TakesTurns.until_handled(1)
        TakesTurns.gate.clear()
        await layer.group_send("takes-turns", {"type": "group.ping"})
        await TakesTurns.in_group_handler.wait()
        await layer.send("turns", {"type": "work.item"})
        await asyncio.sleep(0.1)  # the worker has it: it must wait for the group handler
        assert TakesTurns.handled == ["work"]
        TakesTurns.gate.set()
        await TakesTurns.until_handled(3)
    assert TakesTurns.handled == ["work", "group", "work"]
    assert TakesTurns.most_inside == 1

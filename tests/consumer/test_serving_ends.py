"""How serving a connection ends when a handler is running: a failing source waits for the
running handler, a second cancellation still leaves the groups, and a handler that fails
while the connection ends is logged, not lost (review of the one-hop consumer, 3dcb3ad)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator

import pytest

from fast_channels.consumer import AsyncConsumer, AsyncWebsocketConsumer
from fast_channels.exceptions import ConsumerError, LayerClosedError, StopConsumer
from fast_channels.layers import (
    InMemoryChannelLayer,
    register_channel_layer,
    unregister_channel_layer,
)
from fast_channels.testing import WebsocketCommunicator
from fast_channels.types import ASGIEvent, Message


class Slow(AsyncWebsocketConsumer):
    """A client-frame handler that waits for the test's go-ahead (a DB write, say)."""

    groups = ["room"]
    started: asyncio.Event
    release: asyncio.Event
    log: list[str]

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        self.log.append("start")
        self.started.set()
        try:
            await self.release.wait()
            self.log.append("done")
        finally:
            await asyncio.sleep(0)  # cleanup that awaits


@pytest.fixture
def layer() -> Iterator[InMemoryChannelLayer]:
    layer = InMemoryChannelLayer()
    register_channel_layer("default", layer)
    yield layer
    unregister_channel_layer("default")


def _app_task(communicator: WebsocketCommunicator) -> asyncio.Task[None]:
    """The task running the application under test (what a server would cancel)."""
    task = communicator._task  # pyright: ignore[reportPrivateUsage]
    assert task is not None
    return task


def _slow() -> type[Slow]:
    class Consumer(Slow):
        started = asyncio.Event()
        release = asyncio.Event()
        log: list[str] = []

    return Consumer


async def test_a_closed_layer_ends_the_connection_after_the_running_handler(
    layer: InMemoryChannelLayer,
) -> None:
    consumer = _slow()
    communicator = WebsocketCommunicator(consumer, "/")
    await communicator.connect()
    await communicator.send_to(text_data="x")
    await consumer.started.wait()
    await layer.aclose()  # the layer source fails now (e.g. lifespan shutdown)
    await asyncio.sleep(0.05)
    assert consumer.log == ["start"]  # not cancelled in the middle
    consumer.release.set()
    with pytest.raises(LayerClosedError):
        await communicator.wait(2)
    assert consumer.log == ["start", "done"]


async def test_cancelled_twice_while_a_handler_cleans_up_still_leaves_its_groups(
    layer: InMemoryChannelLayer,
) -> None:
    class Consumer(AsyncWebsocketConsumer):
        groups = ["room"]
        cleaning = asyncio.Event()

        async def receive(
            self, text_data: str | None = None, bytes_data: bytes | None = None
        ) -> None:
            try:
                await asyncio.sleep(30)
            finally:
                self.cleaning.set()
                await asyncio.sleep(0.2)  # saving state on the way out

    communicator = WebsocketCommunicator(Consumer, "/")
    await communicator.connect()
    assert len(layer.local.group_channels("room")) == 1
    await communicator.send_to(text_data="x")
    await asyncio.sleep(0.05)
    task = _app_task(communicator)
    task.cancel()  # a server's shutdown ...
    await Consumer.cleaning.wait()
    task.cancel()  # ... and its timeout, while the handler still cleans up
    await asyncio.gather(task, return_exceptions=True)
    assert layer.local.group_channels("room") == []


async def test_a_handler_failing_as_the_connection_is_cancelled_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Consumer(AsyncWebsocketConsumer):
        channel_layer_alias = None
        waiting = asyncio.Event()

        async def receive(
            self, text_data: str | None = None, bytes_data: bytes | None = None
        ) -> None:
            try:
                self.waiting.set()
                await asyncio.sleep(30)
            finally:
                raise RuntimeError("cleanup failed")

    communicator = WebsocketCommunicator(Consumer, "/")
    await communicator.connect()
    await communicator.send_to(text_data="x")
    await Consumer.waiting.wait()
    task = _app_task(communicator)
    with caplog.at_level(logging.ERROR, logger="fast_channels"):
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert any("cleanup failed" in repr(r.exc_info) for r in caplog.records if r.exc_info)


async def _serve_channel(
    consumer: AsyncConsumer, inbox: asyncio.Queue[Message]
) -> asyncio.Task[None]:
    """Run ``consumer`` on a ``channel`` scope fed from ``inbox`` (what a worker does)."""

    async def receive() -> Message:
        return await inbox.get()

    async def send(event: ASGIEvent) -> None:
        pass

    task = asyncio.create_task(consumer({"type": "channel"}, receive, send))
    await asyncio.sleep(0)
    return task


async def test_a_second_cancel_reaches_a_handler_still_cleaning_up() -> None:
    class Stubborn(AsyncConsumer):
        channel_layer_alias = None
        cleaning = asyncio.Event()
        interrupted = False

        async def app_work(self, message: Message) -> None:
            try:
                await asyncio.sleep(30)
            except asyncio.CancelledError:
                Stubborn.cleaning.set()
                try:
                    await asyncio.Event().wait()  # a cleanup that would never end
                except asyncio.CancelledError:
                    Stubborn.interrupted = True
                raise

    inbox: asyncio.Queue[Message] = asyncio.Queue()
    task = await _serve_channel(Stubborn(), inbox)
    await inbox.put({"type": "app.work"})
    await asyncio.sleep(0.05)
    task.cancel()
    await Stubborn.cleaning.wait()
    task.cancel()
    await asyncio.wait_for(asyncio.gather(task, return_exceptions=True), 5)
    assert Stubborn.interrupted


async def test_a_message_dispatched_in_turn_after_the_end_is_refused(
    layer: InMemoryChannelLayer,
) -> None:
    class Ending(AsyncConsumer):
        holding = asyncio.Event()
        release = asyncio.Event()

        async def app_fail(self, message: Message) -> None:
            Ending.holding.set()
            await Ending.release.wait()
            raise StopConsumer

        async def job_run(self, message: Message) -> None:
            await self.join_group("late")

    consumer = Ending()
    inbox: asyncio.Queue[Message] = asyncio.Queue()
    task = await _serve_channel(consumer, inbox)
    await inbox.put({"type": "app.fail"})
    await Ending.holding.wait()
    job = asyncio.create_task(consumer.dispatch_in_turn({"type": "job.run"}))
    await asyncio.sleep(0)  # it waits for the turn
    Ending.release.set()
    await task
    with pytest.raises(ConsumerError, match="not serving"):
        await job
    assert layer.local.group_channels("late") == []


async def test_a_source_failing_after_the_end_is_no_handler_error(
    layer: InMemoryChannelLayer, caplog: pytest.LogCaptureFixture
) -> None:
    class Bye(AsyncConsumer):
        saying_bye = asyncio.Event()
        release = asyncio.Event()

        async def app_bye(self, message: Message) -> None:
            Bye.saying_bye.set()
            await Bye.release.wait()
            raise StopConsumer

    inbox: asyncio.Queue[Message] = asyncio.Queue()
    task = await _serve_channel(Bye(), inbox)
    await inbox.put({"type": "app.bye"})
    await Bye.saying_bye.wait()
    with caplog.at_level(logging.ERROR, logger="fast_channels"):
        await layer.aclose()  # the layer source fails while the last handler runs
        Bye.release.set()
        await task
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


async def test_dispatch_in_turn_from_its_own_handler_is_an_error_not_a_hang() -> None:
    class Nested(AsyncConsumer):
        channel_layer_alias = None
        outcome: asyncio.Future[str]

        async def app_outer(self, message: Message) -> None:
            try:
                await self.dispatch_in_turn({"type": "app.inner"})
            except ConsumerError as exc:
                Nested.outcome.set_result(str(exc))
            raise StopConsumer

        async def app_inner(self, message: Message) -> None:
            Nested.outcome.set_result("inner ran")

    Nested.outcome = asyncio.get_running_loop().create_future()
    inbox: asyncio.Queue[Message] = asyncio.Queue()
    task = await _serve_channel(Nested(), inbox)
    await inbox.put({"type": "app.outer"})
    assert "call dispatch() there" in await asyncio.wait_for(Nested.outcome, 5)
    await asyncio.wait_for(task, 5)

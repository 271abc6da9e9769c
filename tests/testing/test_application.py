"""ApplicationCommunicator: event exchange, timeouts, and the application's own errors."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from fast_channels.exceptions import CommunicatorError, CommunicatorTimeoutError
from fast_channels.testing import ApplicationCommunicator
from fast_channels.types import Receive, Scope, Send


async def echo_app(scope: Scope, receive: Receive, send: Send) -> None:
    """Answers each input with {"type": "echo", "n": ...} until it gets "stop"."""
    while True:
        event = await receive()
        if event["type"] == "stop":
            return
        if event["type"] == "crash":
            raise ValueError("the app crashed")
        if event["type"] == "echo":
            await send({"type": "echo", "n": event["n"]})


async def silent_app(scope: Scope, receive: Receive, send: Send) -> None:
    await asyncio.Event().wait()


async def test_events_go_in_and_come_out_in_order() -> None:
    async with ApplicationCommunicator(echo_app, {"type": "test"}) as communicator:
        for n in range(3):
            await communicator.send_input({"type": "echo", "n": n})
        assert [(await communicator.receive_output())["n"] for _ in range(3)] == [0, 1, 2]
        await communicator.send_input({"type": "stop"})
        await communicator.wait()
        assert communicator.finished


def test_can_be_built_outside_a_running_loop() -> None:
    communicator = ApplicationCommunicator(echo_app, {"type": "test"})
    assert not communicator.finished


def test_refuses_what_is_not_an_app() -> None:
    not_an_app: Any = "app"
    with pytest.raises(TypeError, match="must be an ASGI app"):
        ApplicationCommunicator(not_an_app, {"type": "test"})


async def test_send_input_refuses_non_events() -> None:
    communicator = ApplicationCommunicator(echo_app, {"type": "test"})
    bad: Any = ["not", "a", "dict"]
    with pytest.raises(TypeError, match="ASGI event is a dict"):
        await communicator.send_input(bad)
    await communicator.stop()


async def test_receive_output_times_out_naming_the_wait_and_cancels_the_app() -> None:
    communicator = ApplicationCommunicator(silent_app, {"type": "test"})
    with pytest.raises(CommunicatorTimeoutError, match=r"within 0.05s.*receive_output"):
        await communicator.receive_output(timeout=0.05)
    assert communicator.finished


async def test_the_apps_exception_is_re_raised_once() -> None:
    communicator = ApplicationCommunicator(echo_app, {"type": "test"})
    await communicator.send_input({"type": "crash"})
    with pytest.raises(ValueError, match="the app crashed"):
        await communicator.receive_output()
    with pytest.raises(CommunicatorError, match="finished while an event"):
        await communicator.receive_output()
    await communicator.wait()


async def test_send_input_reports_a_crash_that_already_happened() -> None:
    communicator = ApplicationCommunicator(echo_app, {"type": "test"})
    await communicator.send_input({"type": "crash"})
    await asyncio.sleep(0)
    with pytest.raises(ValueError, match="the app crashed"):
        await communicator.send_input({"type": "echo", "n": 1})


async def test_wait_re_raises_and_times_out() -> None:
    crashing = ApplicationCommunicator(echo_app, {"type": "test"})
    await crashing.send_input({"type": "crash"})
    with pytest.raises(ValueError, match="the app crashed"):
        await crashing.wait()

    stuck = ApplicationCommunicator(silent_app, {"type": "test"})
    with pytest.raises(CommunicatorTimeoutError, match=r"did not finish within 0.05s \(wait\)"):
        await stuck.wait(timeout=0.05)
    assert stuck.finished


async def test_receive_nothing_leaves_a_pending_event_queued() -> None:
    async with ApplicationCommunicator(echo_app, {"type": "test"}) as communicator:
        assert await communicator.receive_nothing(timeout=0.01)
        await communicator.send_input({"type": "echo", "n": 7})
        await asyncio.sleep(0)
        assert not await communicator.receive_nothing()
        assert (await communicator.receive_output())["n"] == 7


async def test_receive_nothing_takes_django_channels_keywords() -> None:
    """``receive_nothing(timeout=, interval=)``, as Channels' and 1.x's tests call it."""
    async with ApplicationCommunicator(echo_app, {"type": "test"}) as communicator:
        assert await communicator.receive_nothing(timeout=0.01, interval=0.001)
        await communicator.send_input({"type": "echo", "n": 1})
        assert not await communicator.receive_nothing(timeout=5, interval=0.5)


async def test_receive_nothing_reports_a_crash() -> None:
    communicator = ApplicationCommunicator(echo_app, {"type": "test"})
    await communicator.send_input({"type": "crash"})
    with pytest.raises(ValueError, match="the app crashed"):
        await communicator.receive_nothing()


async def test_async_with_stops_a_running_app() -> None:
    async with ApplicationCommunicator(silent_app, {"type": "test"}) as communicator:
        assert await communicator.receive_nothing(timeout=0.01)
    assert communicator.finished


async def test_async_with_re_raises_an_unreported_crash() -> None:
    async def crash_inside() -> None:
        async with ApplicationCommunicator(echo_app, {"type": "test"}) as communicator:
            await communicator.send_input({"type": "crash"})
            await asyncio.sleep(0)

    with pytest.raises(ValueError, match="the app crashed"):
        await crash_inside()


async def test_async_with_does_not_mask_the_tests_own_error() -> None:
    communicator = ApplicationCommunicator(silent_app, {"type": "test"})

    async def fail_inside() -> None:
        async with communicator:
            await communicator.send_input({"type": "anything"})
            raise KeyError("the test failed")

    with pytest.raises(KeyError):
        await fail_inside()
    assert communicator.finished

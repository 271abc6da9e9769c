"""A ``connect()`` that neither accepts nor closes leaves the client waiting: the server
side says so (a warning naming the consumer), and so does the communicator's timeout."""

from __future__ import annotations

import asyncio
import logging

import pytest
from websockets.asyncio.client import connect

from fast_channels.consumer import AsyncWebsocketConsumer
from fast_channels.exceptions import CommunicatorTimeoutError
from fast_channels.testing import WebsocketCommunicator
from tests.e2e.conftest import serve


class Forgetful(AsyncWebsocketConsumer):
    channel_layer_alias = None

    async def connect(self) -> None:
        pass  # no accept()


class Answers(AsyncWebsocketConsumer):
    channel_layer_alias = None

    async def connect(self) -> None:
        await self.accept()


def no_answer_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING and "without accept() or close()" in r.getMessage()
    ]


async def test_the_communicator_timeout_mentions_accept(caplog: pytest.LogCaptureFixture) -> None:
    class ForgetfulInATest(Forgetful):
        pass

    caplog.set_level(logging.WARNING, logger="fast_channels.consumer")
    client = WebsocketCommunicator(ForgetfulInATest, "/ws/forgot")
    with pytest.raises(CommunicatorTimeoutError, match=r"await self\.accept\(\)"):
        await client.connect(timeout=0.2)
    (warning,) = no_answer_warnings(caplog)
    assert warning.startswith("test_the_communicator_timeout_mentions_accept.<locals>.")
    assert "ForgetfulInATest.connect() returned without accept() or close() on /ws/forgot" in (
        warning
    )


async def test_a_consumer_that_answers_is_not_warned_about(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="fast_channels.consumer")
    async with WebsocketCommunicator(Answers, "/") as client:
        assert await client.connect() == (True, None)
    assert no_answer_warnings(caplog) == []


async def test_under_uvicorn_the_server_log_names_the_consumer_once_per_class(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="fast_channels.consumer")
    async with serve(Forgetful.as_asgi()) as url:
        for _ in range(2):
            with pytest.raises(TimeoutError):
                async with connect(f"{url}/ws/forgot", open_timeout=0.5):
                    pass
            deadline = asyncio.get_running_loop().time() + 10
            while not no_answer_warnings(caplog):
                if asyncio.get_running_loop().time() > deadline:
                    break
                await asyncio.sleep(0.01)
    (warning,) = no_answer_warnings(caplog)
    assert "Forgetful.connect() returned without accept() or close() on /ws/forgot" in warning
    assert "await self.accept()" in warning

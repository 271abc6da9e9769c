"""JSON consumers: input that is not JSON is the client's error (1007, one log line); NaN
and Infinity are not JSON in either direction."""

from __future__ import annotations

import logging
import math
from typing import Any

import pytest

from fast_channels.consumer import AsyncJsonWebsocketConsumer
from fast_channels.status import CloseCode
from fast_channels.testing import WebsocketCommunicator


class JsonEcho(AsyncJsonWebsocketConsumer):
    channel_layer_alias = None

    async def receive_json(self, content: Any) -> None:
        if content == "send nan":
            await self.send_json({"value": math.nan})
        await self.send_json(content)


DEEP = "[" * 100_000 + "]" * 100_000


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (DEEP, "nested too deeply"),
        ('{"a": ' * 100_000 + "1" + "}" * 100_000, "nested too deeply"),
        ("NaN", "NaN is not JSON"),
        ('{"x": Infinity}', "Infinity is not JSON"),
        ("[-Infinity]", "-Infinity is not JSON"),
    ],
    ids=["deep-arrays", "deep-objects", "nan", "infinity", "minus-infinity"],
)
async def test_input_that_is_not_json_closes_with_1007_and_one_log_line(
    text: str, reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="fast_channels")
    async with (
        WebsocketCommunicator(JsonEcho, "/ws/json") as bad,
        WebsocketCommunicator(JsonEcho, "/ws/json") as good,
    ):
        await bad.connect()
        await good.connect()
        await bad.send_to(text_data=text)
        closed = await bad.receive_output()
        assert (closed["type"], closed["code"]) == ("websocket.close", CloseCode.INVALID_PAYLOAD)
        assert reason in closed["reason"]
        await bad.disconnect(code=CloseCode.INVALID_PAYLOAD)
        await good.send_json_to([1.5])
        assert await good.receive_json_from() == [1.5]
    records = [r for r in caplog.records if r.name.startswith("fast_channels")]
    assert len(records) == 1, [r.getMessage() for r in records]
    assert records[0].levelno == logging.INFO
    assert records[0].exc_info is None
    assert "JsonEcho closed /ws/json with 1007" in records[0].getMessage()


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_encode_json_refuses_nan_and_infinity(value: float) -> None:
    with pytest.raises(ValueError, match="not JSON compliant"):
        JsonEcho.encode_json({"value": [value]})


def test_decode_json_keeps_ordinary_numbers() -> None:
    assert JsonEcho.decode_json('[1, -2.5e3, 1e308, "NaN"]') == [1, -2500.0, 1e308, "NaN"]


async def test_send_json_of_nan_is_a_consumer_error_not_a_bad_frame() -> None:
    client = WebsocketCommunicator(JsonEcho, "/")
    await client.connect()
    await client.send_json_to("send nan")
    with pytest.raises(ValueError, match="not JSON compliant"):
        await client.receive_from()
    assert (await client.receive_output())["code"] == CloseCode.INTERNAL_ERROR

"""``encode_json`` / ``decode_json`` overrides: plain or ``async def`` (Django Channels' and
fast-channels 1.x's form), told apart once per class."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fast_channels.consumer import AsyncJsonWebsocketConsumer
from fast_channels.status import CloseCode
from fast_channels.testing import WebsocketCommunicator


class Echo(AsyncJsonWebsocketConsumer):
    channel_layer_alias = None

    async def receive_json(self, content: Any) -> None:
        await self.send_json(content)


class AsyncCodec(Echo):
    """The 1.x / Channels form: both codecs are ``async`` classmethods."""

    @classmethod
    async def decode_json(cls, text_data: str) -> Any:
        decoded: Any = json.loads(text_data)
        return {"decoded": decoded}

    @classmethod
    async def encode_json(cls, content: object) -> str:
        return json.dumps({"encoded": content})


class AsyncDecodeOnly(Echo):
    @classmethod
    async def decode_json(cls, text_data: str) -> Any:
        return json.loads(text_data.upper())


class SyncEncodeOnly(Echo):
    @classmethod
    def encode_json(cls, content: object) -> str:
        return json.dumps(content, separators=(",", ":"))


class InheritsAsyncCodec(AsyncCodec):
    """The choice is made per class, and inherited."""


@pytest.mark.parametrize(
    ("consumer", "frame", "answer"),
    [
        (AsyncCodec, '"hi"', '{"encoded": {"decoded": "hi"}}'),
        (InheritsAsyncCodec, "[1]", '{"encoded": {"decoded": [1]}}'),
        (AsyncDecodeOnly, '"hi"', '"HI"'),
        (SyncEncodeOnly, '{"a": [1, 2]}', '{"a":[1,2]}'),
        (Echo, '{"a": 1}', '{"a": 1}'),
    ],
)
async def test_plain_and_async_codec_overrides(
    consumer: type[Echo], frame: str, answer: str
) -> None:
    async with WebsocketCommunicator(consumer, "/json") as client:
        assert (await client.connect())[0]
        await client.send_to(text_data=frame)
        assert await client.receive_from() == answer


async def test_an_async_decoder_rejecting_text_closes_with_invalid_payload() -> None:
    class Strict(Echo):
        @classmethod
        async def decode_json(cls, text_data: str) -> Any:
            if not text_data.startswith("{"):
                raise ValueError("objects only")
            return json.loads(text_data)

    async with WebsocketCommunicator(Strict, "/json") as client:
        assert (await client.connect())[0]
        await client.send_to(text_data="[1]")
        close = await client.receive_output()
        assert (close["type"], close["code"]) == ("websocket.close", CloseCode.INVALID_PAYLOAD)
        assert "objects only" in close["reason"]


async def test_send_json_with_an_async_encoder_can_close() -> None:
    class Goodbye(AsyncCodec):
        async def connect(self) -> None:
            await self.accept()
            await self.send_json("bye", close=True)

    async with WebsocketCommunicator(Goodbye, "/json") as client:
        assert (await client.connect())[0]
        assert await client.receive_from() == '{"encoded": "bye"}'
        assert (await client.receive_output())["type"] == "websocket.close"


async def test_an_encoder_returning_something_else_than_a_str_is_a_type_error() -> None:
    class BytesEncoder(Echo):
        @classmethod
        def encode_json(cls, content: object) -> Any:
            return json.dumps(content).encode()  # e.g. orjson.dumps, without .decode()

    client = WebsocketCommunicator(BytesEncoder, "/json")
    assert (await client.connect())[0]
    await client.send_to(text_data="1")
    with pytest.raises(TypeError, match=r"BytesEncoder.encode_json\(\) must return a str"):
        await client.receive_output()

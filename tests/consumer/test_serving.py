"""How a consumer serves its two sources (client and layer): one handler at a time, in
order per source, stopped cleanly from either side, pushing back on a slow handler."""

from __future__ import annotations

import asyncio
import contextvars
import logging

import pytest

from fast_channels.consumer import AsyncWebsocketConsumer
from fast_channels.exceptions import StopConsumer, UnknownMessageTypeError
from fast_channels.layers import InMemoryChannelLayer, register_channel_layer
from fast_channels.testing import WebsocketCommunicator
from fast_channels.types import Message

ROUNDS = 30


class Interleaved(AsyncWebsocketConsumer):
    """Records when each handler starts and ends; every handler yields to the loop."""

    groups = ["mix"]
    log: list[tuple[str, str, int]] = []

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        await self._handle("client", int(text_data or 0))

    async def mix_item(self, message: Message) -> None:
        await self._handle("layer", int(message["i"]))

    async def _handle(self, source: str, i: int) -> None:
        Interleaved.log.append(("start", source, i))
        for _ in range(3):
            await asyncio.sleep(0)
        Interleaved.log.append(("end", source, i))


async def test_handlers_never_overlap_and_keep_each_sources_order(
    memory_layer: InMemoryChannelLayer,
) -> None:
    Interleaved.log.clear()
    async with WebsocketCommunicator(Interleaved, "/") as client:
        await client.connect()
        for i in range(ROUNDS):
            await client.send_to(text_data=str(i))
            await memory_layer.group_send("mix", {"type": "mix.item", "i": i})
        for _ in range(100):
            if len(Interleaved.log) == 4 * ROUNDS:
                break
            await asyncio.sleep(0.01)
    log = Interleaved.log
    assert len(log) == 4 * ROUNDS
    assert [entry[0] for entry in log] == ["start", "end"] * (2 * ROUNDS)  # never nested
    assert all(log[k][1:] == log[k + 1][1:] for k in range(0, len(log), 2))
    for source in ("client", "layer"):
        assert [i for kind, s, i in log if kind == "start" and s == source] == list(range(ROUNDS))


class Stopping(AsyncWebsocketConsumer):
    """Layer handlers that stop, fail, close, or wait for ``gate``; client frames logged."""

    groups = ["stop"]
    frames: list[str] = []
    handled: list[int] = []
    gate: asyncio.Event | None = None

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        Stopping.frames.append(text_data or "")
        if text_data == "stop":
            raise StopConsumer

    async def stop_now(self, message: Message) -> None:
        if Stopping.gate is not None:
            await Stopping.gate.wait()
        raise StopConsumer

    async def stop_fail(self, message: Message) -> None:
        raise RuntimeError("layer handler failed")

    async def stop_close(self, message: Message) -> None:
        await self.close(4000)

    async def stop_item(self, message: Message) -> None:
        Stopping.handled.append(int(message["i"]))
        if Stopping.gate is not None:
            await Stopping.gate.wait()


@pytest.fixture(autouse=True)
def reset_stopping() -> None:
    Stopping.frames.clear()
    Stopping.handled.clear()
    Stopping.gate = None


async def test_stop_consumer_from_a_layer_handler_closes_normally_and_leaves_groups(
    memory_layer: InMemoryChannelLayer,
) -> None:
    before = asyncio.all_tasks()
    client = WebsocketCommunicator(Stopping, "/")
    await client.connect()
    await memory_layer.group_send("stop", {"type": "stop.now"})
    assert await client.receive_output() == {"type": "websocket.close", "code": 1000}
    await client.wait()
    assert memory_layer.statistics().groups == 0
    assert asyncio.all_tasks() == before


async def test_an_error_in_a_layer_handler_closes_with_1011_is_logged_and_re_raised(
    memory_layer: InMemoryChannelLayer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="fast_channels.consumer")
    client = WebsocketCommunicator(Stopping, "/ws")
    await client.connect()
    await memory_layer.group_send("stop", {"type": "stop.fail"})
    with pytest.raises(RuntimeError, match="layer handler failed"):
        await client.receive_output()
    assert await client.receive_output() == {"type": "websocket.close", "code": 1011}
    assert memory_layer.statistics().groups == 0
    assert [r.getMessage() for r in caplog.records] == [
        "Stopping failed on /ws: RuntimeError('layer handler failed')"
    ]


async def test_an_unknown_layer_message_type_ends_the_consumer_with_the_dispatch_error(
    memory_layer: InMemoryChannelLayer,
) -> None:
    client = WebsocketCommunicator(Stopping, "/")
    await client.connect()
    await memory_layer.group_send("stop", {"type": "stop.missing"})
    with pytest.raises(UnknownMessageTypeError, match=r"async def stop_missing\(self"):
        await client.receive_output()
    assert (await client.receive_output())["code"] == 1011
    assert memory_layer.statistics().groups == 0


async def test_a_close_from_a_layer_handler_waits_for_the_peer_then_ends(
    memory_layer: InMemoryChannelLayer,
) -> None:
    client = WebsocketCommunicator(Stopping, "/")
    await client.connect()
    await memory_layer.group_send("stop", {"type": "stop.close"})
    assert await client.receive_output() == {"type": "websocket.close", "code": 4000}
    await memory_layer.group_send("stop", {"type": "stop.item", "i": 1})
    await client.disconnect(code=4000)
    assert Stopping.handled == []  # closed: layer messages are no longer dispatched
    assert memory_layer.statistics().groups == 0


async def test_no_client_handler_starts_once_a_layer_handler_stopped_the_consumer(
    memory_layer: InMemoryChannelLayer,
) -> None:
    Stopping.gate = asyncio.Event()
    client = WebsocketCommunicator(Stopping, "/")
    await client.connect()
    await memory_layer.group_send("stop", {"type": "stop.now"})
    await asyncio.sleep(0.01)  # the layer handler now waits for the gate
    await client.send_to(text_data="too late")
    await asyncio.sleep(0.01)
    Stopping.gate.set()
    assert await client.receive_output() == {"type": "websocket.close", "code": 1000}
    await client.wait()
    assert Stopping.frames == []


async def test_no_layer_handler_starts_once_a_client_handler_stopped_the_consumer(
    memory_layer: InMemoryChannelLayer,
) -> None:
    client = WebsocketCommunicator(Stopping, "/")
    await client.connect()
    await client.send_to(text_data="stop")
    await memory_layer.group_send("stop", {"type": "stop.item", "i": 1})
    assert await client.receive_output() == {"type": "websocket.close", "code": 1000}
    await client.wait()
    assert Stopping.frames == ["stop"]
    assert Stopping.handled == []


async def test_a_slow_handler_pushes_back_on_its_layer_channel_at_once() -> None:
    """While a handler runs, the consumer takes no more from its layer: the channel fills
    to its capacity and ``group_send`` skips it; nothing piles up in the consumer."""
    layer = InMemoryChannelLayer(capacity=5)
    register_channel_layer("default", layer)
    Stopping.gate = asyncio.Event()
    client = WebsocketCommunicator(Stopping, "/")
    await client.connect()
    await layer.group_send("stop", {"type": "stop.item", "i": 0})
    await asyncio.sleep(0.01)
    assert Stopping.handled == [0]  # and it waits in its handler
    sent = 300
    for i in range(1, sent):
        await layer.group_send("stop", {"type": "stop.item", "i": i})
        await asyncio.sleep(0)
    taken = sent - layer.statistics().group_skipped_full
    assert taken <= layer.capacity + 2  # the channel's capacity, in the handler, in hand
    Stopping.gate.set()
    await asyncio.sleep(0.05)
    assert Stopping.handled == list(range(taken))
    await client.disconnect()
    await layer.aclose()


async def test_a_consumer_cancelled_mid_handler_leaves_no_task_group_or_taken_message(
    memory_layer: InMemoryChannelLayer,
) -> None:
    """Messages still in the layer channel stay there: the consumer took only the one its
    handler was running when it was cancelled."""
    before = asyncio.all_tasks()
    Stopping.gate = asyncio.Event()
    client = WebsocketCommunicator(Stopping, "/")
    await client.connect()
    for i in range(10):
        await memory_layer.group_send("stop", {"type": "stop.item", "i": i})
    await asyncio.sleep(0.01)
    assert Stopping.handled == [0]
    assert memory_layer.statistics().buffered == 9
    await client.stop()
    assert asyncio.all_tasks() == before
    stats = memory_layer.statistics()
    assert (stats.groups, stats.waiting_receivers) == (0, 0)


request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


class ContextUser(AsyncWebsocketConsumer):
    """Binds a context variable in ``connect`` and reports it from later handlers."""

    groups = ["ctx"]

    async def connect(self) -> None:
        request_id.set(f"{request_id.get()}+connect")
        await self.accept()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        await self.send(f"client:{request_id.get()}")

    async def ctx_probe(self, message: Message) -> None:
        await self.send(f"layer:{request_id.get()}")


async def test_handlers_share_one_context_that_starts_as_the_callers(
    memory_layer: InMemoryChannelLayer,
) -> None:
    request_id.set("caller")
    async with WebsocketCommunicator(ContextUser, "/") as client:
        await client.connect()
        await memory_layer.group_send("ctx", {"type": "ctx.probe"})
        assert await client.receive_from() == "layer:caller+connect"
        await client.send_to(text_data="?")
        assert await client.receive_from() == "client:caller+connect"


class SelfCancelling(AsyncWebsocketConsumer):
    groups = ["gone"]

    async def gone_now(self, message: Message) -> None:
        raise asyncio.CancelledError  # e.g. an awaited task that was cancelled elsewhere


async def test_a_handler_cancelled_on_its_own_ends_the_consumer_cancelled(
    memory_layer: InMemoryChannelLayer,
) -> None:
    before = asyncio.all_tasks()
    client = WebsocketCommunicator(SelfCancelling, "/")
    await client.connect()
    await memory_layer.group_send("gone", {"type": "gone.now"})
    await client.wait()
    assert client.finished
    assert memory_layer.statistics().groups == 0
    assert asyncio.all_tasks() == before

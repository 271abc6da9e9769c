"""A Channels test, ported: the communicator drives the whole ``application``, routing
included, with an in-memory layer registered instead of ``CHANNEL_LAYERS``."""

import pytest

from fast_channels.layers import InMemoryChannelLayer, register_channel_layer
from fast_channels.testing import WebsocketCommunicator

from .channels_routing import application


@pytest.mark.asyncio
async def test_members_of_a_room_chat() -> None:
    register_channel_layer("default", InMemoryChannelLayer())
    alice = WebsocketCommunicator(application, "/ws/chat/lobby/")
    bob = WebsocketCommunicator(application, "/ws/rooms/lobby/")
    connected, _ = await alice.connect()
    assert connected
    connected, _ = await bob.connect()
    assert connected
    await alice.send_json_to({"message": "hello"})
    assert await alice.receive_json_from() == {"message": "hello"}
    assert await bob.receive_json_from() == {"message": "hello"}
    await alice.disconnect()
    await bob.disconnect()


@pytest.mark.asyncio
async def test_unknown_paths_are_refused() -> None:
    communicator = WebsocketCommunicator(application, "/ws/nowhere/")
    connected, _ = await communicator.connect()
    assert not connected

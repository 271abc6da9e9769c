"""Testing a consumer with the communicator: the README's sample, against ``EchoConsumer``.

Needs ``pip install pytest pytest-asyncio`` and ``asyncio_mode = "auto"`` in the project's
pytest configuration (or the ``@pytest.mark.asyncio`` marker used here).
"""

import pytest

from fast_channels.testing import WebsocketCommunicator

from .echo import EchoConsumer


@pytest.mark.asyncio
async def test_echo() -> None:
    communicator = WebsocketCommunicator(EchoConsumer, "/ws/chat/")
    connected, subprotocol = await communicator.connect()
    assert connected
    assert subprotocol is None  # EchoConsumer chooses no subprotocol
    await communicator.send_json_to({"message": "hello world"})
    response = await communicator.receive_json_from()
    assert response == {"message": "hello world"}
    await communicator.disconnect()

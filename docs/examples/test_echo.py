"""The README's testing sample, run against :class:`EchoConsumer`.

(The README's sample names ``ChatConsumer``, but expects its JSON message echoed back:
that is what ``EchoConsumer`` does.)
"""

import pytest

from fast_channels.testing import WebsocketCommunicator

from .echo import EchoConsumer


@pytest.mark.asyncio
async def test_chat_consumer() -> None:
    communicator = WebsocketCommunicator(EchoConsumer, "/ws/chat/")
    connected, subprotocol = await communicator.connect()
    assert connected
    assert subprotocol is None  # (added: EchoConsumer chooses no subprotocol)
    # Test sending a message
    await communicator.send_json_to({"message": "hello world"})
    response = await communicator.receive_json_from()
    assert response == {"message": "hello world"}
    await communicator.disconnect()

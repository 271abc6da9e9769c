"""The testing guide's first sample: a communicator as a context manager."""

# --8<-- [start:sample]
from fast_channels.testing import WebsocketCommunicator

from .echo import EchoConsumer


async def test_echo() -> None:
    async with WebsocketCommunicator(EchoConsumer, "/ws/echo/") as communicator:
        connected, _ = await communicator.connect()
        assert connected
        await communicator.send_json_to({"message": "hello world"})
        assert await communicator.receive_json_from() == {"message": "hello world"}


# --8<-- [end:sample]

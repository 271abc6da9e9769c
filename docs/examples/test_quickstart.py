"""A test of the quickstart's chat (``quickstart.py``), as a user would write it.

``pytest`` with ``pytest-asyncio`` in auto mode (or mark the test with
``@pytest.mark.asyncio``). No server and no network: the communicators drive the app.
"""

from fast_channels.testing import WebsocketCommunicator

from .quickstart import app


async def test_a_message_reaches_everyone_in_the_room() -> None:
    async with (
        WebsocketCommunicator(app, "/ws/chat/lobby") as ada,
        WebsocketCommunicator(app, "/ws/chat/lobby") as bob,
        WebsocketCommunicator(app, "/ws/chat/kitchen") as cy,
    ):
        for client in (ada, bob, cy):
            connected, _ = await client.connect()
            assert connected
        await ada.send_json_to({"text": "hello"})
        assert await ada.receive_json_from() == {"text": "hello"}
        assert await bob.receive_json_from() == {"text": "hello"}
        assert await cy.receive_nothing()  # another room, another group

"""The README's first screen: its example is ``docs/examples/quickstart.py``, and it works."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import httpx

from fast_channels.testing import WebsocketCommunicator

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "docs" / "examples" / "quickstart.py"
END_OF_FIRST_SCREEN = "<!-- end of first screen -->"


def first_screen() -> str:
    readme = (ROOT / "README.md").read_text()
    head, marker, _ = readme.partition(END_OF_FIRST_SCREEN)
    assert marker, f"README.md lost its {END_OF_FIRST_SCREEN!r} line"
    return head


def load_example() -> ModuleType:
    """A fresh copy of the example module (it registers its layer on import)."""
    spec = importlib.util.spec_from_file_location("readme_quickstart", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_first_screen_shows_the_example_file_verbatim() -> None:
    source = EXAMPLE.read_text()
    code = re.sub(r'\A""".*?"""\n\n', "", source, flags=re.DOTALL)
    assert f"```python\n{code}```" in first_screen()


def test_the_first_screen_has_the_two_commands_and_the_screenshot() -> None:
    screen = first_screen()
    assert "./demo/run" in screen
    assert "scripts/test" in screen
    assert "docs/images/demo-chat.png" in screen
    assert (ROOT / "docs" / "images" / "demo-chat.png").stat().st_size > 10_000
    assert (ROOT / "demo" / "run").stat().st_mode & 0o111, "demo/run must be executable"


async def test_the_example_chats_in_a_room_and_announces_from_http() -> None:
    app = load_example().app
    async with (
        WebsocketCommunicator(app, "/ws/chat/lobby") as ada,
        WebsocketCommunicator(app, "/ws/chat/lobby") as bob,
        WebsocketCommunicator(app, "/ws/chat/kitchen") as cy,
    ):
        for client in (ada, bob, cy):
            connected, _ = await client.connect()
            assert connected
        await ada.send_json_to({"text": "hello"})
        assert await bob.receive_json_from() == {"text": "hello"}
        assert await ada.receive_json_from() == {"text": "hello"}

        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            response = await http.post("/rooms/lobby/announce", params={"text": "hi all"})
        assert response.status_code == 200
        assert await bob.receive_json_from() == {"text": "hi all"}
        assert await ada.receive_json_from() == {"text": "hi all"}
        assert await cy.receive_nothing()

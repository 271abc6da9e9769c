"""Which message types belong to the ASGI protocol (only the server sends those)."""

from __future__ import annotations

import pytest

from fast_channels.layers import names


@pytest.mark.parametrize(
    "kind", ["websocket.connect", "websocket.receive", "http.request", "lifespan.startup"]
)
def test_asgi_event_types_are_recognised(kind: str) -> None:
    assert names.is_server_event_type(kind)
    assert kind not in names.APP_MESSAGE_TYPES


@pytest.mark.parametrize(
    "kind",
    ["chat.message", "websocket", "websockets.x", "app.websocket.receive", "layer.reconnected"],
)
def test_app_types_are_not_and_are_remembered(kind: str) -> None:
    assert not names.is_server_event_type(kind)
    assert kind in names.APP_MESSAGE_TYPES


def test_the_memory_of_app_types_is_bounded() -> None:
    for i in range(10_000):
        names.is_server_event_type(f"app.kind{i}")
    assert 0 < len(names.APP_MESSAGE_TYPES) <= 4_096

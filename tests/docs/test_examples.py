"""The samples the documentation site shows (``docs/examples/``) do what the pages say."""

from __future__ import annotations

import contextlib
import importlib
import json
from collections.abc import AsyncGenerator, AsyncIterator
from typing import cast

import pytest
from starlette.responses import JSONResponse

from fast_channels.layers import (
    InMemoryChannelLayer,
    get_channel_layer,
    register_channel_layer,
    registered_aliases,
)
from fast_channels.layers.redis import RedisChannelLayer, RedisPubSubChannelLayer
from fast_channels.testing import WebsocketCommunicator
from tests.layers.redis.queue_helpers import keys, raw
from tests.servers import RedisProcess, free_port


@pytest.fixture
async def memory_layer() -> AsyncIterator[InMemoryChannelLayer]:
    layer = InMemoryChannelLayer()
    register_channel_layer("default", layer)
    yield layer
    await layer.aclose()


async def test_the_concepts_sample_prints_what_its_comments_say(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from docs.examples import concepts

    await concepts.main()
    assert capsys.readouterr().out.splitlines() == [
        "{'type': 'chat.message', 'text': 'only for Alice'}",
        "for the room / for the room",
        "refused: ChannelFull",
        "skipped: 1",
        "[1, 2]",
    ]


async def test_the_quickstart_test_passes() -> None:
    from docs.examples import test_quickstart  # quickstart registers its layer when imported

    if "default" not in registered_aliases():  # imported (and reset) by an earlier test
        register_channel_layer("default", InMemoryChannelLayer())
    await test_quickstart.test_a_message_reaches_everyone_in_the_room()
    layer = get_channel_layer()
    assert layer.statistics().groups == 0
    await layer.aclose()


async def test_the_testing_guide_sample_passes() -> None:
    from docs.examples import test_echo_context

    await test_echo_context.test_echo()


async def test_the_layer_guides_samples_build_their_layers_without_connecting() -> None:
    from docs.examples import layer_queue, layer_setup

    layer_setup.setup_channel_layers()
    layer_setup.setup_channel_layers()  # idempotent
    assert isinstance(get_channel_layer(), InMemoryChannelLayer)
    assert isinstance(layer_queue.layer, RedisChannelLayer)
    assert (layer_queue.layer.prefix, layer_queue.layer.capacity) == ("app_queue", 1500)
    # The module registers its layer when it runs (once per process when imported).
    module = importlib.import_module("docs.examples.layer_pubsub")
    if "chat" not in registered_aliases():
        importlib.reload(module)
    chat = get_channel_layer("chat")
    assert isinstance(chat, RedisPubSubChannelLayer)
    assert sorted(registered_aliases()) == ["chat", "default"]
    for alias in ("default", "chat"):
        await get_channel_layer(alias).aclose()
    await layer_queue.layer.aclose()


# -- security.py --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("origin", "admitted"),
    [
        ("https://app.example.com", True),
        ("http://app.example.com", False),  # that pattern names its scheme
        ("https://shop.example.org", True),
        ("http://localhost:8000", True),
        ("http://localhost:9000", False),
        ("https://evil.example", False),
        (None, False),
    ],
)
async def test_only_allowed_origins_reach_the_consumer(origin: str | None, admitted: bool) -> None:
    from docs.examples.security import app

    headers = [(b"origin", origin.encode())] if origin else []
    async with WebsocketCommunicator(app, "/ws/whoami?token=secret-token", headers) as client:
        connected, _ = await client.connect()
        assert connected is admitted
        if admitted:
            assert await client.receive_json_from() == {"user": "alice"}


async def test_an_allowed_origin_without_a_valid_user_is_still_refused() -> None:
    from docs.examples.security import app

    headers = [(b"origin", b"https://app.example.com")]
    async with WebsocketCommunicator(app, "/ws/whoami", headers) as client:
        connected, _ = await client.connect()
        assert not connected


@pytest.mark.redis
async def test_the_encrypted_layer_rotates_keys_and_keeps_redis_unreadable(
    redis_server: RedisProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    from docs.examples.security import encrypted_layer

    monkeypatch.setenv("REDIS_URL", redis_server.url)
    monkeypatch.setenv("CHANNEL_KEYS", "old-key")
    old = encrypted_layer()
    monkeypatch.setenv("CHANNEL_KEYS", "new-key,old-key")
    rotated = encrypted_layer()
    try:
        await old.send("secrets", {"type": "note", "text": "plain words"})
        stored = b""
        for key in await keys(redis_server.url, "*"):
            if await raw(redis_server.url, "TYPE", key) == b"list":
                stored += b"".join(
                    cast(list[bytes], await raw(redis_server.url, "LRANGE", key, 0, -1))
                )
        assert stored
        assert b"plain words" not in stored
        assert (await rotated.receive("secrets"))["text"] == "plain words"  # old key decrypts
        await rotated.send("secrets", {"type": "note", "text": "new"})
        assert (await rotated.receive("secrets"))["text"] == "new"
    finally:
        await old.aclose()
        await rotated.aclose()


# -- deploy_app.py ------------------------------------------------------------------------


def _status(response: JSONResponse) -> tuple[int, str]:
    return response.status_code, json.loads(bytes(response.body))["status"]


@contextlib.asynccontextmanager
async def _registered(layer: object) -> AsyncGenerator[None]:
    from fast_channels.layers import BaseChannelLayer, unregister_channel_layer

    if not isinstance(layer, BaseChannelLayer):
        raise TypeError(layer)
    register_channel_layer("default", layer)
    try:
        yield
    finally:
        unregister_channel_layer("default")
        await layer.aclose()


@pytest.mark.redis
async def test_readyz_answers_ready_through_redis_and_503_without_it(
    redis_server: RedisProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    from docs.examples import deploy_app

    monkeypatch.delenv("REDIS_SENTINELS", raising=False)
    monkeypatch.setenv("REDIS_URL", redis_server.url)
    async with _registered(deploy_app.layer_from_environment()):
        assert _status(await deploy_app.readyz()) == (200, "ready")
        assert _status(await deploy_app.readyz()) == (200, "ready")  # and again
        assert await deploy_app.healthz() == {"status": "alive"}
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{free_port()}")  # nothing there
    async with _registered(deploy_app.layer_from_environment()):
        assert _status(await deploy_app.readyz()) == (503, "unready")
        assert await deploy_app.healthz() == {"status": "alive"}  # liveness does not care


@pytest.mark.redis
async def test_the_layer_follows_redis_sentinel_from_the_environment(
    redis_sentinel: RedisProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    from docs.examples import deploy_app

    monkeypatch.setenv("REDIS_SENTINELS", f"127.0.0.1:{redis_sentinel.port}")
    monkeypatch.setenv("REDIS_SERVICE_NAME", "mymaster")
    layer = deploy_app.layer_from_environment()
    assert isinstance(layer, RedisChannelLayer)
    async with _registered(layer):
        assert _status(await deploy_app.readyz()) == (200, "ready")


def test_without_redis_settings_the_app_uses_the_in_memory_layer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from docs.examples import deploy_app

    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.delenv("REDIS_SENTINELS", raising=False)
    assert isinstance(deploy_app.layer_from_environment(), InMemoryChannelLayer)
    deploy_app.register_layer()
    assert isinstance(get_channel_layer(), InMemoryChannelLayer)

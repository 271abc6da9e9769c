"""Every way Redis can fail a Redis layer reaches the caller as a typed fast-channels error
that says what went wrong, never as a raw redis-py exception, and an outage is logged at a
bounded rate. Real redis-servers, each configured to fail one way."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator

import pytest

from fast_channels.exceptions import (
    BackendAuthenticationError,
    BackendConfigurationError,
    BackendRefusedError,
    ConfigurationError,
    FastChannelsError,
    LayerConnectionError,
)
from fast_channels.layers.redis import RedisChannelLayer, RedisLayerOptions, RedisPubSubChannelLayer
from fast_channels.layers.redis._connection import OutageLog
from tests.layers.redis.queue_helpers import prefix_for, raw
from tests.servers import RedisProcess, free_port, running_redis, start_redis

pytestmark = pytest.mark.redis

RedisLayer = type[RedisChannelLayer] | type[RedisPubSubChannelLayer]
BOTH = pytest.mark.parametrize("layer_class", [RedisChannelLayer, RedisPubSubChannelLayer])


@pytest.fixture(scope="module")
def password_redis() -> Iterator[RedisProcess]:
    """A redis-server whose default user's password is "right"."""
    with running_redis() as server:
        asyncio.run(raw(server.url, "CONFIG", "SET", "requirepass", "right"))
        yield server


@BOTH
@pytest.mark.parametrize("password", [None, "wrong"])
async def test_refused_credentials_are_an_authentication_error(
    layer_class: RedisLayer, password_redis: RedisProcess, password: str | None
) -> None:
    auth = f":{password}@" if password else ""
    url = f"redis://{auth}127.0.0.1:{password_redis.port}"
    async with layer_class(hosts=[url], socket_timeout=2) as layer:
        with pytest.raises(BackendAuthenticationError) as caught:
            await layer.new_channel()
        message = str(caught.value)
        assert "refused the layer's credentials" in message
        assert "unreachable" not in message
        assert "reconnects by itself" not in message
        with pytest.raises(BackendAuthenticationError):
            await layer.send("somewhere", {"type": "x"})
        with pytest.raises(BackendAuthenticationError):
            await layer.group_add("room", "somewhere")
        with pytest.raises(BackendAuthenticationError):
            await layer.group_send("room", {"type": "x"})


async def test_a_subscription_the_acl_forbids_is_refused_at_once(
    password_redis: RedisProcess,
) -> None:
    """An ACL user without pub/sub channel permissions: Redis answers SUBSCRIBE with
    -NOPERM, which fails the subscribing call with a typed error (not a timeout)."""
    admin = f"redis://:right@127.0.0.1:{password_redis.port}"
    await raw(admin, "ACL", "SETUSER", "nochannels", "on", ">pw", "~*", "+@all", "resetchannels")
    url = f"redis://nochannels:pw@127.0.0.1:{password_redis.port}"
    async with RedisPubSubChannelLayer(hosts=[url], socket_timeout=10) as layer:
        with pytest.raises(BackendAuthenticationError, match="NoPermissionError"):
            await asyncio.wait_for(layer.new_channel(), 5)


@BOTH
async def test_a_database_the_server_lacks_is_a_configuration_error(
    layer_class: RedisLayer, redis_server: RedisProcess
) -> None:
    async with layer_class(hosts=[f"{redis_server.url}/99"], socket_timeout=2) as layer:
        with pytest.raises(BackendConfigurationError, match="no such database") as caught:
            await layer.send("somewhere", {"type": "x"})
        assert "unreachable" not in str(caught.value)
        assert isinstance(caught.value, ConfigurationError)
        with pytest.raises(BackendConfigurationError):
            await layer.new_channel()


@pytest.fixture
def full_redis() -> Iterator[RedisProcess]:
    """A redis-server at its maxmemory with the noeviction policy: writes are refused."""
    with running_redis("--maxmemory-policy", "noeviction") as server:
        yield server


async def test_the_queue_layer_reports_redis_out_of_memory(
    full_redis: RedisProcess, request: pytest.FixtureRequest
) -> None:
    async with RedisChannelLayer(hosts=[full_redis.url], prefix=prefix_for(request)) as layer:
        channel = await layer.new_channel()
        await layer.group_add("room", channel)
        await raw(full_redis.url, "CONFIG", "SET", "maxmemory", "1")
        try:
            calls = [
                layer.send(channel, {"type": "x"}),
                layer.send("named", {"type": "x"}),
                layer.group_add("other", channel),
                layer.group_send("room", {"type": "x"}),
            ]
            for call in calls:
                with pytest.raises(BackendRefusedError, match="out of memory") as caught:
                    await call
                assert "maxmemory" in str(caught.value)
        finally:
            await raw(full_redis.url, "CONFIG", "SET", "maxmemory", "0")
        await layer.send(channel, {"type": "after"})
        assert (await asyncio.wait_for(layer.receive(channel), 5))["type"] == "after"


async def test_the_pubsub_layer_works_while_redis_is_out_of_memory(
    full_redis: RedisProcess, request: pytest.FixtureRequest
) -> None:
    """PUBLISH and SUBSCRIBE store nothing, so Redis allows them at maxmemory."""
    await raw(full_redis.url, "CONFIG", "SET", "maxmemory", "1")
    async with RedisPubSubChannelLayer(hosts=[full_redis.url], prefix=prefix_for(request)) as layer:
        channel = await layer.new_channel()
        await layer.group_add("room", channel)
        await layer.group_send("room", {"type": "x"})
        assert (await asyncio.wait_for(layer.receive(channel), 5))["type"] == "x"


@BOTH
async def test_an_outage_is_logged_once_then_its_end(
    layer_class: RedisLayer, caplog: pytest.LogCaptureFixture, request: pytest.FixtureRequest
) -> None:
    """Redis down: one error line naming the server and what to check, however many calls
    fail; one line when it answers again."""
    port = free_port()
    options: RedisLayerOptions = {
        "hosts": [f"redis://127.0.0.1:{port}"],
        "prefix": prefix_for(request),
        "socket_timeout": 2,
    }
    caplog.set_level(logging.WARNING, logger="fast_channels.layers.redis")
    async with layer_class(**options) as layer:
        for _ in range(20):
            with pytest.raises(LayerConnectionError):
                await layer.send("somewhere", {"type": "x"})
        errors = [r for r in caplog.records if r.levelno == logging.ERROR]
        assert len(errors) == 1
        assert f"127.0.0.1:{port}" in errors[0].getMessage()
        assert "Check that Redis runs there" in errors[0].getMessage()
        server = start_redis(port=port)
        try:
            await layer.send("somewhere", {"type": "x"})
        finally:
            server.stop()
        assert "answers again" in caplog.records[-1].getMessage()


def test_an_outage_that_goes_on_is_logged_at_a_bounded_rate(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="fast_channels.layers.redis")
    error = LayerConnectionError("could not send: Redis is unreachable")
    outages = OutageLog("127.0.0.1:1", every=3600)
    for _ in range(1000):
        outages.failed(error)
    assert len(caplog.records) == 1
    outages.recovered()
    assert "answers again" in caplog.records[-1].getMessage()
    assert outages.failures == 0

    caplog.clear()
    every_time = OutageLog("127.0.0.1:1", every=0)
    for _ in range(3):
        every_time.failed(error)
    assert len(caplog.records) == 3
    assert "still fails" in caplog.records[-1].getMessage()
    assert "3 failed attempts" in caplog.records[-1].getMessage()


def test_every_error_of_the_redis_layers_is_a_fast_channels_error() -> None:
    for error in (
        BackendAuthenticationError,
        BackendConfigurationError,
        BackendRefusedError,
        LayerConnectionError,
    ):
        assert issubclass(error, FastChannelsError)
    assert issubclass(BackendConfigurationError, LayerConnectionError)

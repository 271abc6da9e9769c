"""The forms of ``hosts=`` both Redis layers take, channels_redis's included: URLs, tuples,
dicts with an ``address``, Sentinel dicts (several shard, mixed with plain servers) and
``redis+sentinel://`` URLs. Each reaches real Redis; each mistake is a
``ConfigurationError`` at construction, never a connection error later."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

import pytest

from fast_channels.exceptions import ConfigurationError
from fast_channels.layers.redis import RedisChannelLayer, RedisPubSubChannelLayer
from fast_channels.layers.redis._hosts import RedisShard, SentinelShard, read_hosts
from tests.layers.redis.queue_helpers import keys, prefix_for, raw
from tests.servers import RedisProcess, running_redis, running_sentinel

pytestmark = pytest.mark.redis

RedisLayer = type[RedisChannelLayer] | type[RedisPubSubChannelLayer]
BOTH = pytest.mark.parametrize("layer_class", [RedisChannelLayer, RedisPubSubChannelLayer])


@pytest.fixture(scope="module")
def second_sentinel() -> Iterator[tuple[RedisProcess, RedisProcess]]:
    """A second master, watched by its own sentinel as service "othermaster"."""
    with running_redis() as master, running_sentinel(master, name="othermaster") as sentinel:
        yield master, sentinel


async def master_of(sentinel: RedisProcess, name: str) -> str:
    host, port = cast(
        list[bytes], await raw(sentinel.url, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", name)
    )
    return f"redis://{host.decode()}:{int(port)}"


def sentinel_entry(sentinel: RedisProcess, name: str, **more: Any) -> dict[str, Any]:
    """The channels_redis form of a Sentinel-watched master in ``hosts=``."""
    return {
        "sentinels": [("127.0.0.1", sentinel.port)],
        "master_name": name,
        "sentinel_kwargs": {"socket_timeout": 2},
        **more,
    }


async def test_a_host_dict_with_an_address_and_a_database(
    redis_server: RedisProcess, request: pytest.FixtureRequest
) -> None:
    prefix = prefix_for(request)
    hosts = [{"address": redis_server.url, "db": 3, "client_name": "fc-dict-host"}]
    async with RedisChannelLayer(hosts=hosts, prefix=prefix) as layer:
        await layer.send("jobs", {"type": "job"})
        assert await keys(f"{redis_server.url}/3", f"{prefix}:*") != []
        assert await keys(redis_server.url, f"{prefix}:*") == []
        assert await layer.receive("jobs") == {"type": "job"}
        await layer.flush()


@BOTH
async def test_sentinel_dicts_in_hosts_shard_over_their_masters(
    layer_class: RedisLayer,
    redis_sentinel: RedisProcess,
    second_sentinel: tuple[RedisProcess, RedisProcess],
    request: pytest.FixtureRequest,
) -> None:
    """As channels_redis reads them: each Sentinel dict is one shard."""
    hosts = [
        sentinel_entry(redis_sentinel, "mymaster"),
        sentinel_entry(second_sentinel[1], "othermaster", client_name="fc-sentinel-dict"),
    ]
    async with layer_class(hosts=hosts, prefix=prefix_for(request)) as layer:
        assert [type(s) for s in layer.connection.shards] == [SentinelShard, SentinelShard]
        channel = await layer.new_channel()
        groups = [f"room{i}" for i in range(12)]
        for group in groups:
            await layer.group_add(group, channel)
        for group in groups:
            await layer.group_send(group, {"type": "hello", "group": group})
        received = [(await layer.receive(channel))["group"] for _ in groups]
        assert sorted(received) == sorted(groups)
        assert {layer.connection.shard_for(group) for group in groups} == {0, 1}
        await layer.flush()


async def test_a_sentinel_dict_and_a_plain_server_shard_together(
    redis_server: RedisProcess, redis_sentinel: RedisProcess, request: pytest.FixtureRequest
) -> None:
    prefix = prefix_for(request)
    hosts: list[Any] = [redis_server.url, sentinel_entry(redis_sentinel, "mymaster")]
    async with RedisChannelLayer(hosts=hosts, prefix=prefix) as layer:
        names = [f"work.{i}" for i in range(16)]
        for name in names:
            await layer.send(name, {"type": "job", "name": name})
        master = await master_of(redis_sentinel, "mymaster")
        on_plain = await keys(redis_server.url, f"{prefix}:q:*")
        on_sentinel = await keys(master, f"{prefix}:q:*")
        assert on_plain
        assert on_sentinel
        assert len(on_plain) + len(on_sentinel) == len(names)
        for name in names:
            assert (await layer.receive(name))["name"] == name
        await layer.flush()


@BOTH
async def test_a_redis_sentinel_url_reaches_the_master(
    layer_class: RedisLayer, redis_sentinel: RedisProcess, request: pytest.FixtureRequest
) -> None:
    url = f"redis+sentinel://127.0.0.1:{redis_sentinel.port}/mymaster/2?client_name=fc-url"
    async with layer_class(hosts=[url], prefix=prefix_for(request)) as layer:
        (shard,) = layer.connection.shards
        assert isinstance(shard, SentinelShard)
        assert layer.connection.database() == 2
        channel = await layer.new_channel()
        await layer.group_add("room", channel)
        await layer.group_send("room", {"type": "hello"})
        assert await layer.receive(channel) == {"type": "hello"}
        await layer.flush()


def test_a_redis_sentinel_url_is_read_as_the_common_form() -> None:
    (shard,) = read_hosts(
        hosts=[
            "redis+sentinel://user:secret@s1:26380,s2,[::1]:26381/my%20master/4"
            "?socket_keepalive=true&sentinel_password=watchers&sentinel_username=w"
        ]
    )
    assert isinstance(shard, SentinelShard)
    assert shard.sentinels == (("s1", 26380), ("s2", 26379), ("::1", 26381))
    assert shard.service_name == "my master"
    assert shard.kwargs == {
        "username": "user",
        "password": "secret",
        "db": 4,
        "socket_keepalive": True,
    }
    assert shard.sentinel_kwargs == {"password": "watchers", "username": "w"}
    (tls,) = read_hosts(hosts=["rediss+sentinel://s1/mymaster?ssl_cert_reqs=none"])
    assert isinstance(tls, SentinelShard)
    assert tls.kwargs == {"ssl": True, "ssl_cert_reqs": "none"}
    assert tls.sentinel_kwargs == {"ssl": True, "ssl_cert_reqs": "none"}
    assert "secret" not in tls.describe() + shard.describe()


def test_the_plain_forms_are_read_as_redis_py_keywords() -> None:
    shards = read_hosts(
        hosts=[
            "redis://:pw@h1:6380/1",
            ("h2", 6381),
            {"address": ("h3", 6382), "db": 2},
            {"address": "rediss://h4", "ssl_cert_reqs": None},
            {"host": "h5", "port": 6383, "ssl": True},
        ],
        connection_kwargs={"client_name": "x"},
    )
    assert [s.describe() for s in shards] == ["h1:6380", "h2:6381", "h3:6382", "h4:6379", "h5:6383"]
    assert all(isinstance(s, RedisShard) for s in shards)
    assert shards[0].kwargs == {
        "password": "pw",
        "host": "h1",
        "port": 6380,
        "db": 1,
        "client_name": "x",
    }
    assert shards[2].kwargs["db"] == 2
    assert shards[3].kwargs["ssl_cert_reqs"] is None
    assert shards[3].kwargs["connection_class"] is shards[4].kwargs["connection_class"]
    assert "ssl" not in shards[4].kwargs


@BOTH
@pytest.mark.parametrize(
    ("hosts", "match"),
    [
        ([{"sentinels": [("h", 26379)]}], "needs 'master_name'"),
        ([{"master_name": "m"}], "needs 'sentinels'"),
        ([{"sentinels": "h:26379", "master_name": "m"}], "must be a list of"),
        ([{"sentinels": list[object](), "master_name": "m"}], "at least one sentinel"),
        ([{"sentinels": [("h", "26379")], "master_name": "m"}], r"\(host, port\) tuple"),
        ([{"sentinels": [("h", 1)], "master_name": "m", "address": "redis://h"}], "drop"),
        ([{"sentinels": [("h", 1)], "master_name": "m", "pasword": "x"}], "'pasword'"),
        (
            [{"sentinels": [("h", 1)], "master_name": "m", "sentinel_kwargs": {"pasword": 1}}],
            "'pasword'",
        ),
        ([{"sentinels": [("h", 1)], "master_name": "m", "sentinel_kwargs": 3}], "dict"),
        (
            [{"sentinels": [("h", 1)], "master_name": "m", "connection_class": object}],
            "connection_class",
        ),
        ([{"address": "redis+sentinel://h/m"}], "cannot be a Sentinel URL"),
        ([{"address": 6379}], "must be a URL or a"),
        ([{1: "x"}], "keys must be str"),
        (["redis+sentinel://h:26379"], "must name the sentinels and the service"),
        (["redis+sentinel://h:26379/m/0/extra"], "must name the sentinels and the service"),
        (["redis+sentinel://:pw@h:port/m"], "is not host"),
        (["redis+sentinel://h/m/x"], "a database is a number"),
        (["redis+sentinel://h/m?bogus=1"], "'bogus'"),
        (["sentinel://h:26379"], "redis\\+sentinel://"),
        ([3], "must be a URL"),
    ],
)
def test_a_bad_host_entry_is_refused_at_construction(
    layer_class: RedisLayer, hosts: list[Any], match: str
) -> None:
    with pytest.raises(ConfigurationError, match=match):
        layer_class(hosts=hosts)


def test_a_refused_sentinel_url_hides_its_password() -> None:
    with pytest.raises(ConfigurationError) as caught:
        read_hosts(hosts=["redis+sentinel://u:hunter2@h:26379"])
    assert "hunter2" not in str(caught.value)
    assert "u:***@" in str(caught.value)


def test_service_name_outside_sentinels_points_to_the_hosts_forms() -> None:
    with pytest.raises(ConfigurationError, match="redis\\+sentinel://"):
        RedisChannelLayer(hosts=["redis://h"], service_name="m")

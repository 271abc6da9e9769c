"""Where a Redis layer's servers are: every form ``hosts=`` takes, read once into shards.

:func:`read_hosts` turns the connection options of a layer into a list of
:data:`Shard` (one per Redis master the layer spreads its data over), refusing at
construction anything that would only fail when the layer first connects. The forms,
which channels_redis users write too:

* a URL: ``redis://[[user]:password@]host[:port][/db][?option=value...]``, ``rediss://``
  (TLS), ``unix:///path/to/redis.sock[?db=n]``; the query options are redis-py's URL
  options (``socket_keepalive``, ``ssl_cert_reqs``, ...);
* a Sentinel URL: ``redis+sentinel://[[user]:password@]host[:port][,host[:port]...]
  /service_name[/db][?option=value...]`` (``rediss+sentinel://`` for TLS): the master the
  sentinels name ``service_name``, found through them and followed after a failover.
  Sentinel ports default to 26379. The URL's credentials and options are the master's;
  ``sentinel_username``, ``sentinel_password`` and any other ``sentinel_``-prefixed
  option are for the connections to the sentinels. This is the form of the
  Redis-Sentinel-Url package, also read by Prefect and LangChain;
* a ``(host, port)`` tuple;
* a dict of redis-py connection keywords (``{"host": ..., "port": ..., "db": 1}``),
  optionally with an ``"address"`` (any of the above but a dict) that the other keys add
  to, as channels_redis reads it;
* a Sentinel dict: ``{"sentinels": [(host, port), ...], "master_name": "mymaster",
  "sentinel_kwargs": {...}, **master_keywords}``, as channels_redis reads it.

Several entries shard the layer, whatever their kinds: plain servers and Sentinel-watched
masters can be mixed, each entry being one shard. The older ``sentinels=[...]`` with
``service_name=`` (and ``sentinel_kwargs=``) is one Sentinel shard. ``connection_kwargs=``
adds redis-py keywords to the connections of every shard (winning over an entry's own).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

from redis.asyncio.connection import Connection, SSLConnection, parse_url

from fast_channels.exceptions import ConfigurationError

__all__ = [
    "DEFAULT_HOST",
    "HostSpec",
    "RedisShard",
    "SentinelShard",
    "Shard",
    "read_hosts",
]

HostSpec = str | tuple[str, int] | Mapping[str, Any]
"""One entry of ``hosts=``: a URL, a ``(host, port)`` tuple, or a dict (see the module)."""

DEFAULT_HOST = "redis://localhost:6379"
_URL_SCHEMES = ("redis://", "rediss://", "unix://")
_SENTINEL_SCHEMES = ("redis+sentinel://", "rediss+sentinel://")
_SENTINEL_PORT = 26379
_SENTINEL_DICT_KEYS = frozenset({"sentinels", "master_name", "sentinel_kwargs"})


@dataclass(frozen=True)
class RedisShard:
    """A Redis server reached directly, with these redis-py connection keywords."""

    kwargs: dict[str, Any]

    def describe(self) -> str:
        """Where it is, for messages (no password)."""
        path = self.kwargs.get("path")
        if path:
            return str(path)
        return f"{self.kwargs.get('host', 'localhost')}:{self.kwargs.get('port', 6379)}"


@dataclass(frozen=True)
class SentinelShard:
    """The master that ``sentinels`` name ``service_name``, with these redis-py connection
    keywords for the master and ``sentinel_kwargs`` for the sentinels."""

    sentinels: tuple[tuple[str, int], ...]
    service_name: str
    kwargs: dict[str, Any]
    sentinel_kwargs: dict[str, Any] = field(default_factory=dict[str, Any])

    def describe(self) -> str:
        """Where it is, for messages (no password)."""
        where = ", ".join(f"{host}:{port}" for host, port in self.sentinels)
        return f"Sentinel service {self.service_name!r} via {where}"


Shard = RedisShard | SentinelShard
"""One Redis master of a layer."""


def read_hosts(
    *,
    hosts: Sequence[HostSpec] | None = None,
    sentinels: Sequence[tuple[str, int]] | None = None,
    service_name: str | None = None,
    sentinel_kwargs: Mapping[str, Any] | None = None,
    connection_kwargs: Mapping[str, Any] | None = None,
    defaults: Mapping[str, Any] | None = None,
) -> list[Shard]:
    """The shards a layer's connection options name, checked: ``ConfigurationError``
    (saying what to write) for anything redis-py would refuse only when it connects.

    ``defaults`` are keywords every connection gets unless the entry or
    ``connection_kwargs`` set them (the layer's timeouts).
    """
    if hosts is not None and sentinels is not None:
        raise ConfigurationError("give either hosts= or sentinels= (with service_name=), not both")
    if isinstance(hosts, str | bytes) or isinstance(sentinels, str | bytes):
        raise ConfigurationError(
            "hosts= and sentinels= take a list, e.g. hosts=['redis://localhost:6379']"
        )
    extra = dict(connection_kwargs or {})
    if sentinels is not None:
        if not isinstance(service_name, str) or not service_name:
            raise ConfigurationError(
                "sentinels= needs service_name= naming the monitored master, e.g. 'mymaster'"
            )
        shards: list[Shard] = [
            SentinelShard(
                sentinels=_sentinel_addresses(sentinels, "sentinels="),
                service_name=service_name,
                kwargs={},
                sentinel_kwargs=_mapping(sentinel_kwargs or {}, "sentinel_kwargs="),
            )
        ]
    else:
        if service_name is not None or sentinel_kwargs is not None:
            raise ConfigurationError(
                "service_name= and sentinel_kwargs= only apply with sentinels=[...]; in "
                "hosts=, write a Sentinel entry: {'sentinels': [(host, port)], "
                "'master_name': name, 'sentinel_kwargs': {...}} or a "
                "'redis+sentinel://host:26379/name' URL"
            )
        entries = list(hosts) if hosts is not None else [DEFAULT_HOST]
        if not entries:
            raise ConfigurationError("hosts= must name at least one Redis server")
        shards = [_read_entry(entry) for entry in entries]
    checked = [_with_defaults(shard, dict(defaults or {}), extra) for shard in shards]
    for shard in checked:
        _check_connection_kwargs(shard.kwargs, "connection")
        if isinstance(shard, SentinelShard):
            _check_connection_kwargs(shard.sentinel_kwargs, "sentinel")
    return checked


def _with_defaults(shard: Shard, defaults: dict[str, Any], extra: dict[str, Any]) -> Shard:
    kwargs = {**defaults, **shard.kwargs, **extra}
    # TLS is a connection class for a server reached directly, a flag through Sentinel
    # (whose pool picks its own connection class): accept either spelling for both.
    tls = kwargs.pop("ssl", False) or kwargs.get("connection_class") is SSLConnection
    if isinstance(shard, RedisShard):
        if tls:
            kwargs["connection_class"] = SSLConnection
        return RedisShard(kwargs)
    if kwargs.pop("connection_class", SSLConnection) is not SSLConnection:
        raise ConfigurationError(
            "a master reached through Sentinel cannot take a connection_class (the "
            "Sentinel pool chooses it); for TLS write ssl=True or rediss+sentinel://"
        )
    if tls:
        kwargs["ssl"] = True
    return SentinelShard(
        sentinels=shard.sentinels,
        service_name=shard.service_name,
        kwargs=kwargs,
        sentinel_kwargs={**defaults, **shard.sentinel_kwargs},
    )


def _read_entry(entry: object) -> Shard:
    if isinstance(entry, str):
        if entry.startswith(_SENTINEL_SCHEMES):
            return _read_sentinel_url(entry)
        return RedisShard(_read_url(entry))
    if isinstance(entry, tuple):
        return RedisShard(_host_port(cast(tuple[object, ...], entry), "a Redis host tuple"))
    if isinstance(entry, Mapping):
        spec = dict(cast(Mapping[object, object], entry))
        for key in spec:
            if not isinstance(key, str):
                raise ConfigurationError(f"a Redis host dict's keys must be str, got {key!r}")
        options = cast(dict[str, Any], spec)
        if options.keys() & _SENTINEL_DICT_KEYS:
            return _read_sentinel_dict(options)
        return RedisShard(_read_address_dict(options))
    raise ConfigurationError(
        "a Redis host must be a URL (redis://, rediss://, unix://, redis+sentinel://), a "
        f"(host, port) tuple or a dict, got {entry!r}"
    )


def _read_address_dict(options: dict[str, Any]) -> dict[str, Any]:
    address = options.pop("address", None)
    if address is None:
        return options
    if isinstance(address, str) and address.startswith(_SENTINEL_SCHEMES):
        raise ConfigurationError(
            f"a host dict's 'address' cannot be a Sentinel URL ({address!r}): put the URL "
            "itself in hosts=, with its options in its query string"
        )
    if isinstance(address, str):
        return {**_read_url(address), **options}
    if isinstance(address, tuple | list):
        pair = tuple(cast(Sequence[object], address))
        return {**_host_port(pair, "a host dict's 'address'"), **options}
    raise ConfigurationError(
        f"a host dict's 'address' must be a URL or a (host, port) tuple, got {address!r}"
    )


def _read_sentinel_dict(options: dict[str, Any]) -> SentinelShard:
    if "address" in options or "host" in options or "port" in options:
        raise ConfigurationError(
            "a Sentinel host dict names the sentinels, not the master: drop 'address', "
            "'host' and 'port' (the sentinels tell where the master is), got "
            f"{sorted(options)}"
        )
    sentinels = options.pop("sentinels", None)
    master_name = options.pop("master_name", None)
    sentinel_kwargs = options.pop("sentinel_kwargs", None)
    if sentinels is None:
        raise ConfigurationError(
            "a Sentinel host dict needs 'sentinels': [(host, port), ...] beside 'master_name'"
        )
    if not isinstance(master_name, str) or not master_name:
        raise ConfigurationError(
            "a Sentinel host dict needs 'master_name' naming the monitored master, e.g. "
            f"{{'sentinels': [('localhost', 26379)], 'master_name': 'mymaster'}}; got "
            f"{master_name!r}"
        )
    if isinstance(sentinels, str | bytes) or not isinstance(sentinels, Sequence):
        raise ConfigurationError(
            f"a Sentinel host dict's 'sentinels' must be a list of (host, port), got {sentinels!r}"
        )
    return SentinelShard(
        sentinels=_sentinel_addresses(cast(Sequence[object], sentinels), "'sentinels'"),
        service_name=master_name,
        kwargs=options,
        sentinel_kwargs=_mapping(sentinel_kwargs or {}, "'sentinel_kwargs'"),
    )


def _mapping(value: object, what: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ConfigurationError(f"{what} must be a dict of redis-py keywords, got {value!r}")
    return dict(cast(Mapping[str, Any], value))


def _host_port(pair: tuple[object, ...], what: str) -> dict[str, Any]:
    if len(pair) != 2 or not isinstance(pair[0], str) or not isinstance(pair[1], int):
        raise ConfigurationError(f"{what} must be (host, port), got {pair!r}")
    return {"host": pair[0], "port": pair[1]}


def _sentinel_addresses(entries: Sequence[object], what: str) -> tuple[tuple[str, int], ...]:
    addresses: list[tuple[str, int]] = []
    for entry in entries:
        if isinstance(entry, tuple | list):
            pair = tuple(cast(Sequence[object], entry))
            if len(pair) == 2 and isinstance(pair[0], str) and isinstance(pair[1], int):
                addresses.append((pair[0], pair[1]))
                continue
        raise ConfigurationError(f"each sentinel must be a (host, port) tuple, got {entry!r}")
    if not addresses:
        raise ConfigurationError(f"{what} must name at least one sentinel")
    return tuple(addresses)


def _read_url(url: str) -> dict[str, Any]:
    if not url.startswith(_URL_SCHEMES):
        raise ConfigurationError(
            f"Redis host URL {url!r} must start with redis://, rediss://, unix:// or "
            "redis+sentinel:// (e.g. redis+sentinel://localhost:26379/mymaster/0)"
        )
    try:
        parsed = dict(parse_url(url))
    except ValueError as exc:
        raise ConfigurationError(f"Redis host URL {url!r} is not valid: {exc}") from None
    path = urlsplit(url).path.strip("/") if url.startswith(("redis://", "rediss://")) else ""
    if path and "db" not in parsed:
        raise ConfigurationError(
            f"Redis host URL {url!r} names database {path!r}; a database is a number, "
            "e.g. redis://localhost:6379/0"
        )
    return parsed


def _read_sentinel_url(url: str) -> SentinelShard:
    """``redis+sentinel://[[user]:password@]host[:port][,...]/service_name[/db][?...]``."""
    example = "e.g. redis+sentinel://:password@host1:26379,host2:26379/mymaster/0"
    scheme, rest = url.split("://", 1)
    location, _, query = rest.partition("?")
    netloc, _, path = location.partition("/")
    userinfo, at, hosts = netloc.rpartition("@")
    parts = [part for part in path.split("/") if part]
    if not hosts or not parts or len(parts) > 2:
        raise ConfigurationError(
            f"Sentinel URL {_hide_password(url)!r} must name the sentinels and the "
            f"service, with an optional database: {example}"
        )
    sentinels: list[tuple[str, int]] = []
    for address in hosts.split(","):
        host, colon, port = address.rpartition(":")
        if not colon:
            host, port = address, str(_SENTINEL_PORT)
        if not host or not port.isdigit():
            raise ConfigurationError(
                f"Sentinel URL {_hide_password(url)!r}: {address!r} is not host[:port]; {example}"
            )
        sentinels.append((host.strip("[]"), int(port)))
    master_options: list[tuple[str, str]] = []
    sentinel_options: list[tuple[str, str]] = []
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name.startswith("sentinel_"):
            sentinel_options.append((name.removeprefix("sentinel_"), value))
        else:
            master_options.append((name, value))
    if scheme == "rediss+sentinel":  # TLS to both; the ssl_* options serve both
        sentinel_options += [(n, v) for n, v in master_options if n.startswith("ssl_")]
    credentials = f"{userinfo}{at}"
    database = f"/{parts[1]}" if len(parts) == 2 else ""
    master = _read_url(f"redis://{credentials}localhost{database}?{urlencode(master_options)}")
    sentinel = _read_url(f"redis://localhost?{urlencode(sentinel_options)}")
    for kwargs in (master, sentinel):
        kwargs.pop("host", None)
        if scheme == "rediss+sentinel":
            kwargs["ssl"] = True
    return SentinelShard(
        sentinels=tuple(sentinels),
        service_name=unquote(parts[0]),
        kwargs=master,
        sentinel_kwargs=sentinel,
    )


def _hide_password(url: str) -> str:
    scheme, rest = url.split("://", 1)
    userinfo, at, after = rest.partition("@")
    if not at or ":" not in userinfo:
        return url
    return f"{scheme}://{userinfo.split(':', 1)[0]}:***@{after}"


def _check_connection_kwargs(kwargs: Mapping[str, Any], what: str) -> None:
    """Refuse now what redis-py would refuse only when it first connects: an unknown
    keyword, a database number that is not a number >= 0."""
    db = kwargs.get("db", 0)
    if isinstance(db, str) and db.isdigit():
        db = int(db)
    if isinstance(db, bool) or not isinstance(db, int) or db < 0:
        raise ConfigurationError(
            f"the Redis database number must be an int >= 0 (e.g. redis://host:6379/0 or "
            f"connection_kwargs={{'db': 0}}), got {db!r}"
        )
    options = dict(kwargs)
    tls = options.pop("ssl", False)
    connection_class = options.pop("connection_class", SSLConnection if tls else Connection)
    try:
        connection_class(**options)
    except TypeError as exc:
        raise ConfigurationError(
            f"a Redis {what} option is not one redis-py takes ({exc}); check the host "
            "dicts, the URL's query string and connection_kwargs/sentinel_kwargs"
        ) from None

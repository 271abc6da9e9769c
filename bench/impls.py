"""Every implementation the scenarios run: ours, the peers, and the raw ceiling.

Each is opened the same way (a Redis URL and a per-channel capacity) and used through the
channel-layer methods. An implementation that cannot be imported yet is reported as
unavailable with the reason, and the benchmark goes on without it.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["IMPLS", "Impl", "LayerLike", "by_key", "close_layer", "unavailable_reason"]

Message = dict[str, Any]


class LayerLike(Protocol):
    """The channel-layer surface the scenarios use."""

    async def send(self, channel: str, message: Message) -> None: ...
    async def receive(self, channel: str) -> Message: ...
    async def new_channel(self, prefix: str = ...) -> str: ...
    async def group_add(self, group: str, channel: str) -> None: ...
    async def group_discard(self, group: str, channel: str) -> None: ...
    async def group_send(self, group: str, message: Message) -> None: ...


@dataclass(frozen=True)
class Impl:
    """One implementation under test."""

    key: str
    label: str
    family: str
    """``memory``, ``queue`` or ``pubsub``: what it is compared with."""
    role: str
    """``ours``, ``peer`` or ``ceiling``."""
    module: str
    attr: str
    open: Callable[..., Awaitable[Any]]
    """``open(url, capacity, **options)``: options our layers take (see ``layer_options``)."""

    @property
    def cross_process(self) -> bool:
        return self.family != "memory"


def _kwargs_accepted(cls: Any, wanted: dict[str, Any]) -> dict[str, Any]:
    """The subset of ``wanted`` that ``cls`` takes (our layers refuse unknown options)."""
    try:
        params = inspect.signature(cls).parameters
    except (TypeError, ValueError):
        return wanted
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return wanted
    return {k: v for k, v in wanted.items() if k in params}


def _load(module: str, attr: str) -> Any:
    return getattr(importlib.import_module(module), attr)


def _opener(module: str, attr: str, *, redis: bool) -> Callable[..., Awaitable[Any]]:
    async def open_layer(url: str, capacity: int, **options: Any) -> Any:
        cls = _load(module, attr)
        wanted: dict[str, Any] = {"capacity": capacity, **options}
        if redis:
            wanted["hosts"] = [url]
        return cls(**_kwargs_accepted(cls, wanted))

    return open_layer


def _raw_opener(attr: str, *, pipelined: bool) -> Callable[..., Awaitable[Any]]:
    async def open_layer(url: str, capacity: int, **options: Any) -> Any:
        return _load("bench.raw", attr)(url, pipelined=pipelined)

    return open_layer


def _impl(key: str, label: str, family: str, role: str, module: str, attr: str) -> Impl:
    if module == "bench.raw":
        opener = _raw_opener(attr, pipelined=key.endswith("pipelined"))
    else:
        opener = _opener(module, attr, redis=family != "memory")
    return Impl(key, label, family, role, module, attr, opener)


IMPLS: tuple[Impl, ...] = (
    _impl("ours-memory", "ours InMemory", "memory", "ours",
          "fast_channels.layers", "InMemoryChannelLayer"),
    _impl("channels-memory", "channels InMemory", "memory", "peer",
          "channels.layers", "InMemoryChannelLayer"),
    _impl("ours-queue", "ours RedisChannelLayer", "queue", "ours",
          "fast_channels.layers.redis", "RedisChannelLayer"),
    _impl("cr-queue", "channels_redis RedisChannelLayer", "queue", "peer",
          "channels_redis.core", "RedisChannelLayer"),
    _impl("raw-list-awaited", "raw redis-py list (awaited)", "queue", "ceiling",
          "bench.raw", "RawListLayer"),
    _impl("raw-list-pipelined", "raw redis-py list (pipelined)", "queue", "ceiling",
          "bench.raw", "RawListLayer"),
    _impl("ours-pubsub", "ours RedisPubSubChannelLayer", "pubsub", "ours",
          "fast_channels.layers.redis", "RedisPubSubChannelLayer"),
    _impl("cr-pubsub", "channels_redis RedisPubSubChannelLayer", "pubsub", "peer",
          "channels_redis.pubsub", "RedisPubSubChannelLayer"),
    _impl("raw-pubsub-awaited", "raw redis-py PUBLISH (awaited)", "pubsub", "ceiling",
          "bench.raw", "RawPubSubLayer"),
    _impl("raw-pubsub-pipelined", "raw redis-py PUBLISH (pipelined)", "pubsub", "ceiling",
          "bench.raw", "RawPubSubLayer"),
)  # fmt: skip


def by_key(key: str) -> Impl:
    for impl in IMPLS:
        if impl.key == key:
            return impl
    raise KeyError(f"unknown implementation {key!r}; known: {[i.key for i in IMPLS]}")


def unavailable_reason(impl: Impl) -> str | None:
    """Why ``impl`` cannot run here, or None if it can be imported."""
    try:
        _load(impl.module, impl.attr)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


async def close_layer(layer: Any, seconds: float = 10) -> None:
    """Release a layer's connections, whichever closing method it has."""
    if type(layer).__module__.startswith("channels_redis.pubsub"):
        names: tuple[str, ...] = ("flush",)
    else:
        names = ("aclose", "close_pools", "close")
    for name in names:
        method = getattr(layer, name, None)
        if method is not None and callable(method):
            with contextlib.suppress(Exception):
                result = method()
                if inspect.isawaitable(result):
                    await asyncio.wait_for(result, seconds)
            return

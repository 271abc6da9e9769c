"""Which channel layer the demo runs on: Redis when ``REDIS_URL`` is set, else in-memory."""

from __future__ import annotations

import os

from demo.rooms import room_options
from fast_channels.exceptions import LayerConnectionError
from fast_channels.layers import ChannelLayer, InMemoryChannelLayer
from fast_channels.layers.redis import RedisChannelLayer

__all__ = [
    "RedisUnreachableError",
    "check_reachable",
    "layer_name",
    "make_layer",
    "probe",
    "redis_url",
]


def redis_url() -> str | None:
    """The ``REDIS_URL`` environment variable, or None when it is unset or empty."""
    return os.environ.get("REDIS_URL") or None


def make_layer(url: str | None) -> ChannelLayer:
    """A Redis queue layer on ``url`` (shared by every process), or an in-memory layer."""
    if url is None:
        return InMemoryChannelLayer(group_options=room_options())
    return RedisChannelLayer(hosts=[url], group_options=room_options())


def layer_name(url: str | None) -> str:
    """How the page names the layer in use."""
    return "in-memory" if url is None else "redis"


class RedisUnreachableError(RuntimeError):
    """``REDIS_URL`` is set, but no Redis answers there."""


async def check_reachable(layer: ChannelLayer, url: str | None) -> None:
    """Fail fast at start-up, saying what to do, when ``REDIS_URL`` points nowhere.

    One harmless round trip: leaving a group nobody ever joined.
    """
    if url is None:
        return
    try:
        await layer.group_discard("demo.startup-check", "demo.startup-check")
    except LayerConnectionError as exc:
        raise RedisUnreachableError(
            f"REDIS_URL={url} is set but Redis does not answer there ({exc}). Start "
            "redis-server, fix REDIS_URL, or unset it to run on the in-memory layer."
        ) from None


async def probe(url: str | None) -> None:
    """:func:`check_reachable` with a layer of its own, closed afterwards."""
    layer = make_layer(url)
    try:
        await check_reachable(layer, url)
    finally:
        await layer.aclose()

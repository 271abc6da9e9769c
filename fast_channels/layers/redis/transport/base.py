"""The contract between the Redis layers and where their data lives.

A :class:`Transport` is configuration only (no connection, no event loop): where the
Redis servers are, and how names are placed on them (:class:`Placement`). In each event
loop of each process a layer asks it for a :class:`Link` (through
:class:`~._runtime.Runtimes`), which holds that loop's connections and does all of the
layer's I/O: scripts and commands routed by *bucket*, a fan-out to every bucket in one
round trip per node, blocking pops, and pub/sub subscriptions that report their gaps.

Buckets are the one placement concept. A layer hashes a name (a channel's part before
``!``, a group, a process token) to a bucket with :meth:`Placement.bucket_of`, and builds
every key and pub/sub channel of that name under :meth:`Placement.key_prefix` of the
bucket. A script only touches keys of one bucket, so on a Redis Cluster (where a bucket's
prefix carries a hash tag) every script touches one slot, and on client-side shards the
bucket *is* the shard.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from fast_channels.layers.redis._pipe import Arg, Script

__all__ = ["Call", "Link", "Placement", "Pop", "Sink", "Subscriptions", "Transport"]


@dataclass(frozen=True)
class Placement:
    """How names are spread over a transport's buckets: the same in every process.

    ``buckets`` is how many there are; ``tags`` holds, per bucket, what goes between the
    layer's prefix and the rest of a key (``""`` everywhere but on a Redis Cluster, where
    it is a hash tag such as ``"{fc61}:"`` putting the bucket's keys in one slot).
    """

    buckets: int
    tags: tuple[str, ...]

    def bucket_of(self, name: str) -> int:
        """The bucket of ``name`` (its part before ``!``): CRC-32 modulo the bucket count,
        as client-side sharding has always placed names (a rolling upgrade keeps them)."""
        if self.buckets == 1:
            return 0
        head = name.split("!", 1)[0]
        return zlib.crc32(head.encode("utf-8")) % self.buckets

    def key_prefix(self, prefix: str, bucket: int) -> str:
        """What every key and pub/sub channel of ``bucket`` starts with, for a layer whose
        prefix is ``prefix`` (``"asgi:"``, or ``"asgi:{fc61}:"`` on a Redis Cluster)."""
        return f"{prefix}:{self.tags[bucket]}"


Call = tuple[int, Script, Sequence[Arg], Sequence[Arg]]
"""One script call of a fan-out: (bucket, script, keys, arguments)."""


class Pop(Protocol):
    """A blocking pop of one list, on a connection of its own (see ``_pop.BlockingPop``)."""

    async def pop(self, count: int) -> list[bytes]:
        """Up to ``count`` entries from the head of the list; [] if none came in time."""
        ...

    async def push_back(self, entries: list[bytes]) -> None:
        """Put ``entries`` back at the head of the list, in their order."""
        ...

    async def release(self) -> None:
        """Give the connection back (between calls: no reply is pending)."""
        ...


class Sink(Protocol):
    """Where subscriptions hand what they read: the receiving side of the pub/sub layer."""

    def deliver(self, channel: bytes, data: bytes) -> None:
        """A message published to ``channel`` arrived (in order, per channel)."""
        ...

    def resync(self, channels: frozenset[bytes], reason: str) -> None:
        """``channels`` are subscribed again after a gap: messages published meanwhile are lost."""
        ...


class Subscriptions(Protocol):
    """The pub/sub channels one layer receives in one event loop (see ``_subscriber``)."""

    async def subscribe(self, channel: bytes, bucket: int) -> None:
        """Subscribe to ``channel`` (placed in ``bucket``); returns once Redis confirmed it."""
        ...

    def unsubscribe(self, channel: bytes) -> None:
        """Stop receiving ``channel`` (sent in the background)."""
        ...

    def holds(self, channel: bytes) -> bool:
        """Whether Redis has confirmed ``channel`` on a live connection."""
        ...

    async def sync(self) -> None:
        """Wait until what Redis had sent to these subscriptions when called is delivered."""
        ...

    def statistics(self) -> dict[str, int]:
        """Subscriptions held, reconnections and moves so far."""
        ...

    async def aclose(self) -> None:
        """Stop reading, close the connections, fail callers still waiting."""
        ...


class Link(Protocol):
    """A transport's connections in one event loop of one process: all of a layer's I/O.

    Commands go through one pipelined connection per node: commands issued together share
    a round trip. Every failure is the typed error of
    :func:`~fast_channels.layers.redis._connection.redis_failure`; a command whose
    connection broke after it was written may still have run.
    """

    placement: Placement
    """The transport's placement (the same object)."""

    async def script(
        self, bucket: int, script: Script, keys: Sequence[Arg], args: Sequence[Arg]
    ) -> object:
        """Run ``script`` on the node serving ``bucket`` and return its reply."""
        ...

    def submit(
        self, bucket: int, script: Script, keys: Sequence[Arg], args: Sequence[Arg]
    ) -> asyncio.Future[object]:
        """Queue ``script`` for the node's next round trip, after what was queued before."""
        ...

    async def fan_out(self, calls: Sequence[Call]) -> list[object]:
        """Run each call on its bucket's node: one round trip per node; replies in order."""
        ...

    async def publish(self, bucket: int, channel: bytes, data: bytes) -> int:
        """Publish ``data`` to ``channel`` (sharded on a Cluster); how many subscribers got it."""
        ...

    async def ready(self, bucket: int) -> None:
        """Connect to the node serving ``bucket`` now (raises what connecting raises)."""
        ...

    def pop(self, bucket: int, key: str, *, block: float) -> Pop:
        """A blocking pop of list ``key`` of ``bucket``, waiting ``block`` seconds per call."""
        ...

    def subscriptions(self, sink: Sink) -> Subscriptions:
        """New pub/sub subscriptions delivering to ``sink``."""
        ...

    async def delete_matching(self, pattern: str) -> None:
        """Delete every key matching ``pattern`` on every node (SCAN + UNLINK)."""
        ...

    def where(self, bucket: int | None = None) -> str:
        """The node serving ``bucket`` (or every node), for messages; no passwords."""
        ...

    def statistics(self) -> dict[str, int]:
        """Round trips, commands, errors and redirects of this link so far."""
        ...

    async def aclose(self) -> None:
        """Close every connection of the link (on its loop); queued commands fail."""
        ...


class Transport(Protocol):
    """Where a Redis layer's data lives: configuration only, safe to share across loops
    and to keep across a fork."""

    placement: Placement
    """How names are spread over the buckets."""

    def describe(self) -> str:
        """Where the data lives, for messages and logs; no passwords."""
        ...

    def link(self, *, scripts: Sequence[Script] = (), limits: bool = False) -> Link:
        """This event loop's connections (no I/O until first used); ``scripts`` are loaded
        on every connection, ``limits`` reads each node's pub/sub output buffer limit."""
        ...

"""Where each job's latest progress is kept, for pages that join a job's group late.

A group only reaches its members of the moment: a page that reconnects joins the group
again, but what the job reported meanwhile (perhaps its end) is gone. So the job also
saves every step it reports, and the page's new connection sends it the latest one.

The store must be seen by the process that runs the job and by the web process: a dict
in the web process with the in-memory layer (jobs run there), and a Redis key per job
with ``REDIS_URL`` (jobs run in the worker process).
"""

from __future__ import annotations

import json
from typing import Final, Protocol, cast

from redis.asyncio import ConnectionPool, Redis
from redis.asyncio.connection import parse_url

from fast_channels.types import Message

__all__ = ["MemoryProgress", "ProgressStore", "RedisProgress", "make_progress"]

KEEP_SECONDS: Final = 3600
KEEP_JOBS: Final = 1000


class ProgressStore(Protocol):
    """The latest ``job.progress`` message of each job."""

    async def save(self, progress: Message) -> None:
        """Keep ``progress`` as its job's latest."""
        ...

    async def latest(self, job: str) -> Message | None:
        """The latest progress of ``job``, or None if none is kept."""
        ...

    async def aclose(self) -> None:
        """Release the connections it holds."""
        ...


class MemoryProgress:
    """In this process, for the last ``KEEP_JOBS`` jobs."""

    def __init__(self) -> None:
        self._latest: dict[str, Message] = {}

    async def save(self, progress: Message) -> None:
        job = str(progress["job"])
        self._latest.pop(job, None)  # re-inserted last: the dict is oldest job first
        self._latest[job] = progress
        if len(self._latest) > KEEP_JOBS:
            del self._latest[next(iter(self._latest))]

    async def latest(self, job: str) -> Message | None:
        return self._latest.get(job)

    async def aclose(self) -> None:
        self._latest.clear()


class RedisProgress:
    """In Redis at ``url``: key ``demo:job:<id>``, JSON, kept ``KEEP_SECONDS``."""

    def __init__(self, url: str) -> None:
        self._redis = Redis(connection_pool=ConnectionPool(**parse_url(url)))

    async def save(self, progress: Message) -> None:
        key = f"demo:job:{progress['job']}"
        await self._redis.set(key, json.dumps(progress), ex=KEEP_SECONDS)

    async def latest(self, job: str) -> Message | None:
        saved = cast(bytes | None, await self._redis.get(f"demo:job:{job}"))
        return None if saved is None else cast(Message, json.loads(saved))

    async def aclose(self) -> None:
        await self._redis.aclose(close_connection_pool=True)


def make_progress(url: str | None) -> ProgressStore:
    """A store in Redis at ``url`` (shared by every process), or in this process."""
    return MemoryProgress() if url is None else RedisProgress(url)

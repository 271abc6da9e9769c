"""The Redis keys of one group's history and presence: all under one hash tag.

``<prefix>:{<prefix>.<group>}:<kind>``: every key of a group shares the tag, so each
script touches one Redis Cluster slot (and, with client-side shards, lives on the host the
group's name hashes to, as its pub/sub channel does). They start with ``<prefix>:``, so a
layer's ``flush()`` deletes them with its other keys.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from fast_channels.layers.redis._pipe import CommandPipe

__all__ = ["delete_group_keys", "group_key"]


def group_key(prefix: str, group: str, kind: str) -> str:
    """The key of ``kind`` (``h`` history stream, ``hm`` its epoch and offset, ``p`` present
    members' info, ``pl`` their leases) for ``group`` under ``prefix``."""
    return f"{prefix}:{{{prefix}.{group}}}:{kind}"


async def delete_group_keys(pipes: Sequence[CommandPipe], prefix: str) -> None:
    """Delete the history and presence keys of every group under ``prefix`` on every host
    (``flush()``; the queue layer's own flush deleted them already)."""
    pattern = f"{prefix}:{{{prefix}.*"
    for pipe in pipes:
        cursor = 0
        while True:
            reply = cast(
                list[object], await pipe.command("SCAN", cursor, "MATCH", pattern, "COUNT", 1000)
            )
            cursor = int(cast(bytes, reply[0]))
            keys = cast(list[bytes], reply[1])
            if keys:
                await pipe.command("UNLINK", *keys)
            if cursor == 0:
                break

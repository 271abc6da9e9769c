"""The Redis keys of one group's history and presence: all under one hash tag.

``<prefix>:{<prefix>.<group>}:<kind>``: every key of a group shares the tag, so each
script touches one Redis Cluster slot (and, with client-side shards, lives on the host the
group's name hashes to, as its pub/sub channel does). They start with ``<prefix>:``, so a
layer's ``flush()`` deletes them with its other keys.
"""

from __future__ import annotations

__all__ = ["group_key"]


def group_key(prefix: str, group: str, kind: str) -> str:
    """The key of ``kind`` (``h`` history stream, ``hm`` its epoch and offset, ``p`` present
    members' info, ``pl`` their leases) for ``group`` under ``prefix``."""
    return f"{prefix}:{{{prefix}.{group}}}:{kind}"

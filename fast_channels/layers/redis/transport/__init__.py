"""Where the Redis layers' data lives: one transport interface, four transports.

The Redis layers (the queue layer and the pub/sub layer) differ in how they move
messages; where Redis is — one server, client-side shards, the master Sentinel names, a
Redis Cluster — is this package's business, behind one small contract (:mod:`.base`):

* :class:`~.base.Transport` — configuration only: the servers, and how names are placed
  on them (:class:`~.base.Placement`: buckets, and the hash tag of each on a Cluster).
* :class:`~.base.Link` — one event loop's connections: scripts and commands routed by
  bucket (concurrent ones share a round trip per node), a fan-out to many buckets in one
  round trip per node, blocking pops, publishing, and pub/sub subscriptions
  (:class:`~.base.Subscriptions`) that hand messages to a :class:`~.base.Sink` and report
  their gaps to it.
* :class:`~._runtime.Runtimes` — one runtime per (process, event loop): the link and the
  layer's per-loop part, made lazily, closed with its loop, renewed after a fork. Forks
  and loops are handled there and nowhere else.

Adding a transport is one file with a class that has a ``placement``, ``describe()``
and ``link()``; :mod:`.single`, :mod:`.shards`, :mod:`.sentinel` and :mod:`.cluster` are
the four. Key scheme (every key of one bucket under ``Placement.key_prefix``):

* ``<prefix>:<tag>in:<token>`` / ``n:<token>`` / ``live:<token>``: a process inbox, its
  per-channel counts, its marker, in the bucket of the token;
* ``<prefix>:<tag>q:<name>``: a named channel's list, in the bucket of the name;
* ``<prefix>:<tag>g:<group>`` (``gm:``, ``gc:``): a group's members placed in that bucket,
  so a group send runs one script per bucket, which is one round trip per node;
* pub/sub channels ``<prefix>:<tag>g:<group>`` / ``c:<head>`` in the bucket of the group
  or channel head (sharded pub/sub on a Cluster).

The tag is empty except on a Cluster, so on one server, shards and Sentinel the keys are
those the layers have always used.

How the layers sit on it (the next step): each keeps ``Runtimes`` whose part is its
receiving side in that loop. A message goes one way: the queue layer's inbox reader pops
through ``Link.pop``, decodes, puts into the local core, and reports what it handed out
through ``Link.submit`` itself (the capacity counts are an object the reader holds); the
pub/sub layer's subscriptions hand messages to its sink, which decodes into the local
core. No part calls back into the layer that owns it.
"""

from fast_channels.layers.redis.transport._link import PoolOptions
from fast_channels.layers.redis.transport.base import (
    Call,
    Link,
    Placement,
    Pop,
    Sink,
    Subscriptions,
    Transport,
)
from fast_channels.layers.redis.transport.cluster import ClusterTransport
from fast_channels.layers.redis.transport.sentinel import SentinelTransport
from fast_channels.layers.redis.transport.shards import ClientShards
from fast_channels.layers.redis.transport.single import SingleNode

__all__ = [
    "Call",
    "ClientShards",
    "ClusterTransport",
    "Link",
    "Placement",
    "PoolOptions",
    "Pop",
    "SentinelTransport",
    "SingleNode",
    "Sink",
    "Subscriptions",
    "Transport",
]

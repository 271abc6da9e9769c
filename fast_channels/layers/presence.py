"""Group presence: who is in a group now, across every process, with a little info each.

Opt-in per call: ``await layer.presence_join(group, channel, info={"user": "ada"})`` makes
``channel`` a member of ``group`` (as ``group_add``) and *present* in it with ``info`` (a
small dict of plain values, at most :data:`MAX_INFO_SIZE` bytes encoded). Members added with
plain ``group_add`` receive group messages as ever but are not present.

* ``await layer.presence(group)`` is a :class:`Presence`: a mapping of the present channels
  to their info, in no particular order, with ``count`` and ``users(key)`` (the distinct
  values of ``info[key]``: "who is online" when several tabs of one user are present).
* Presence ends with ``group_discard(group, channel)`` in the process that joined it
  (consumers leave their groups when their connection ends), with ``flush()``, or when its
  lease runs out.
* **Leases** (Redis layers): each process renews the presence of its members every
  ``presence_lease / 3`` seconds (default lease 10 s; one Lua call per group, pipelined).
  The members of a process that died (SIGKILL, OOM, power) end within about one lease;
  those of a live process never end by themselves: a renewal that finds one gone (a loop
  stalled past the lease, Redis restarted or flushed) records it again. On the in-memory
  layer presence lives in the layer object and ends with the channel's group membership
  (``group_expiry``).
* **Events**, when the group asks for them (``GroupOptions(presence_events=True)`` for its
  name in ``group_options``): its members receive ``{"type": "presence.joined", "group",
  "channel", "info"}`` when a channel joins (not when it renews) and ``"presence.left"``
  when it leaves or its lease ran out. The joiner receives its own ``presence.joined``.
  They are plain group messages (never kept in history, no ``"position"``); a lapsed lease
  is noticed, and announced, by the next process that renews, queries or joins presence in
  that group: within about ``presence_lease * 4 / 3`` seconds while another process holds
  present members there.

On Redis a group's presence is a hash (channel -> info) and a sorted set (channel -> lease
deadline) under one hash tag, touched by one script per call
(:mod:`fast_channels.layers.redis._presence`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Hashable, Iterator, Mapping
from typing import Any, Literal, Protocol, TypedDict, cast, runtime_checkable

from fast_channels.exceptions import (
    DecryptionError,
    InvalidMessageError,
    LayerClosedError,
    PresenceInfoError,
)
from fast_channels.layers._parts import LayerParts
from fast_channels.layers.names import require_channel_name, require_group_name

__all__ = [
    "MAX_INFO_SIZE",
    "Change",
    "Presence",
    "PresenceInfo",
    "PresenceJoined",
    "PresenceLayer",
    "PresenceLeft",
    "PresenceMethods",
    "PresenceStore",
]

logger: logging.Logger = logging.getLogger("fast_channels.layers.presence")

MAX_INFO_SIZE = 4096
"""The largest presence info, in bytes once encoded: a user id and a name, not a profile."""

PresenceInfo = dict[str, Any]
"""What a member joined with: a dict of plain values (those a message may hold)."""

Change = tuple[bool, str, bytes]
"""A change a presence store saw: (joined, not left; the channel; its encoded info)."""


class PresenceJoined(TypedDict):
    """The message a group's members receive when a channel joins its presence."""

    type: Literal["presence.joined"]
    group: str
    channel: str
    info: PresenceInfo


class PresenceLeft(TypedDict):
    """The message a group's members receive when a present channel leaves (or its
    process's lease ran out)."""

    type: Literal["presence.left"]
    group: str
    channel: str
    info: PresenceInfo


class Presence(Mapping[str, PresenceInfo]):
    """The present members of ``group``: channel -> the info it joined with.

    A snapshot: it does not change when members come and go afterwards.
    """

    __slots__ = ("_members", "group")

    def __init__(self, group: str, members: Mapping[str, PresenceInfo]) -> None:
        self.group: str = group
        self._members: dict[str, PresenceInfo] = dict(members)

    def __getitem__(self, channel: str) -> PresenceInfo:
        return self._members[channel]

    def __iter__(self) -> Iterator[str]:
        return iter(self._members)

    def __len__(self) -> int:
        return len(self._members)

    def __repr__(self) -> str:
        return f"Presence({self.group!r}, {self._members!r})"

    @property
    def count(self) -> int:
        """How many channels are present (a user with two tabs open counts twice)."""
        return len(self._members)

    def users(self, key: str = "user") -> list[Hashable]:
        """The distinct values of ``info[key]`` among the members, in no particular order
        (members without ``key``, or with an unhashable value there, are left out)."""
        seen: dict[Hashable, None] = {}
        for info in self._members.values():
            value: object = info.get(key)
            if value is not None and isinstance(value, Hashable):
                seen[value] = None
        return list(seen)


class PresenceStore(Protocol):
    """Where a layer keeps presence (one implementation per backend)."""

    @property
    def heartbeat(self) -> float | None:
        """Seconds between renewals of this process's leases; None: nothing to renew."""
        ...

    async def join(self, group: str, channel: str, info: bytes) -> list[Change]:
        """Record ``channel`` as present in ``group``; the changes seen (its join if new,
        and leases found run out)."""
        ...

    async def leave(self, group: str, channel: str) -> list[Change]:
        """End ``channel``'s presence in ``group``; the changes seen."""
        ...

    async def members(self, group: str) -> tuple[dict[str, bytes], list[Change]]:
        """The present channels of ``group`` with their encoded info; the changes seen."""
        ...

    async def renew(self) -> list[tuple[str, Change]]:
        """Renew the leases of this process's members; (group, change) for each change seen."""
        ...

    def holds(self, group: str, channel: str) -> bool:
        """Whether ``channel`` joined ``group``'s presence through this layer object."""
        ...

    async def clear(self) -> None:
        """Delete every group's presence (``flush()``)."""
        ...


@runtime_checkable
class PresenceLayer(Protocol):
    """A channel layer that keeps presence (every layer of fast-channels does)."""

    async def presence_join(
        self, group: str, channel: str, info: Mapping[str, object] | None = None
    ) -> None:
        """Make ``channel`` a member of ``group`` and present in it with ``info``."""
        ...

    async def presence(self, group: str) -> Presence:
        """The present members of ``group`` in every process, with their info."""
        ...


class PresenceMethods(LayerParts):
    """The presence part of every layer (``BaseChannelLayer`` inherits it)."""

    _presence: PresenceStore | None
    _heartbeat: asyncio.Task[None] | None

    def _new_presence_store(self) -> PresenceStore:
        raise NotImplementedError(
            f"{type(self).__name__} keeps no presence: use a fast-channels layer (in-memory, "
            "Redis queue or Redis pub/sub) for presence_join"
        )

    def _presence_store(self) -> PresenceStore:
        store = self._presence
        if store is None:
            store = self._presence = self._new_presence_store()
        return store

    def _encode_info(self, info: object) -> bytes:
        if info is None:
            info = {}
        if not isinstance(info, dict):
            raise PresenceInfoError(
                f"presence info must be a dict (e.g. {{'user': 'ada'}}), got {type(info).__name__}"
            )
        fields = cast(dict[str, object], info)
        for key in fields:
            if not isinstance(key, str):
                raise PresenceInfoError(f"presence info keys must be str; {key!r} is not")
        try:
            data = self.serializer.dumps(fields)
        except InvalidMessageError as exc:
            raise PresenceInfoError(
                f"presence info holds a value that cannot be encoded ({exc})"
            ) from None
        if len(data) > MAX_INFO_SIZE:
            raise PresenceInfoError(
                f"presence info is {len(data)} bytes encoded, over {MAX_INFO_SIZE}: keep it to "
                "what a member list shows (an id, a name) and look the rest up by id"
            )
        return data

    def _decode_info(self, data: bytes) -> PresenceInfo:
        try:
            return self.serializer.loads(data)
        except (DecryptionError, InvalidMessageError):
            self.local.counters.undecodable += 1
            return {}

    async def presence_join(
        self, group: str, channel: str, info: Mapping[str, object] | None = None
    ) -> None:
        """Make ``channel`` a member of ``group`` and present in it with ``info``.

        ``info`` (default ``{}``) is a dict of plain values, at most ``MAX_INFO_SIZE`` bytes
        encoded (``PresenceInfoError`` otherwise); joining again replaces it. The presence
        lasts until ``group_discard(group, channel)`` in this process, ``flush()``, or the
        end of this process (within ``presence_lease`` seconds; see the module).
        """
        self._check_open()
        require_group_name(group)
        require_channel_name(channel)
        data = self._encode_info(info)
        store = self._presence_store()  # a layer that cannot keep presence refuses first
        await self.group_add(group, channel)
        changes = await store.join(group, channel, data)
        self._keep_renewing(store)
        await self._announce(group, changes)

    async def presence(self, group: str) -> Presence:
        """The present members of ``group`` in every process, with their info.

        ``LayerConnectionError`` if Redis cannot be reached.
        """
        self._check_open()
        require_group_name(group)
        members, changes = await self._presence_store().members(group)
        await self._announce(group, changes)
        return Presence(group, {ch: self._decode_info(info) for ch, info in members.items()})

    async def _end_presence(self, group: str, channel: str) -> None:
        """``group_discard`` was called: end ``channel``'s presence there, if it is ours."""
        store = self._presence
        if store is not None and store.holds(group, channel):
            await self._announce(group, await store.leave(group, channel))

    async def _announce(self, group: str, changes: list[Change]) -> None:
        if not changes:
            return
        options = self._group_rules.get(group)
        if options is None or not options.presence_events:
            return
        for joined, channel, info in changes:
            decoded = self._decode_info(info)
            message: PresenceJoined | PresenceLeft
            if joined:
                message = PresenceJoined(
                    type="presence.joined", group=group, channel=channel, info=decoded
                )
            else:
                message = PresenceLeft(
                    type="presence.left", group=group, channel=channel, info=decoded
                )
            await self._group_send(group, self.encode(message))

    def _keep_renewing(self, store: PresenceStore) -> None:
        """Run the renewal task (on this loop) unless it runs: leases need one per process."""
        every = store.heartbeat
        task = self._heartbeat
        if every is None or (
            task is not None and not task.done() and not task.get_loop().is_closed()
        ):
            return
        self._heartbeat = asyncio.get_running_loop().create_task(
            self._renew_forever(store, every), name="fast-channels presence heartbeat"
        )

    async def _renew_forever(self, store: PresenceStore, every: float) -> None:
        failures = 0
        while True:
            await asyncio.sleep(every)
            try:
                for group, change in await store.renew():
                    await self._announce(group, [change])
            except LayerClosedError:
                return
            except Exception as exc:  # Redis away: the next renewal tries again
                failures += 1
                if failures == 1 or failures % 20 == 0:
                    logger.warning(
                        "presence: renewing this process's leases failed (%s: %s); retrying "
                        "every %.1fs",
                        type(exc).__name__,
                        exc,
                        every,
                    )
            else:
                failures = 0

    def _stop_renewing(self) -> None:
        task, self._heartbeat = self._heartbeat, None
        if task is None or task.done():
            return
        loop = task.get_loop()
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if loop is running:
            task.cancel()
        elif not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # closed in the meantime
                loop.call_soon_threadsafe(task.cancel)

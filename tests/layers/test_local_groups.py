"""Local group memberships (``_groups.py``): a group message looks its members up without
scanning them all for expired ones, and expiry still ends each membership on time."""

from __future__ import annotations

import asyncio

import pytest

from fast_channels.layers._groups import LocalGroups
from fast_channels.layers._local import LocalCore


def test_each_membership_ends_at_its_own_deadline() -> None:
    groups = LocalGroups(expiry=10)
    assert groups.add("g", "a", now=0)
    assert not groups.add("g", "b", now=4)
    assert list(groups.members("g", now=9.9)) == ["a", "b"]
    assert list(groups.members("g", now=10)) == ["b"]  # a's deadline (0 + 10) has come
    assert list(groups.members("g", now=13.9)) == ["b"]
    assert groups.members("g", now=14) == {}
    assert groups.names() == []  # an empty group is forgotten


def test_a_refreshed_membership_outlives_its_first_deadline() -> None:
    groups = LocalGroups(expiry=10)
    groups.add("g", "a", now=0)
    groups.add("g", "b", now=1)
    groups.add("g", "a", now=8)  # renewed: ends at 18 now
    assert list(groups.members("g", now=10.5)) == ["a", "b"]
    assert list(groups.members("g", now=11)) == ["a"]
    assert list(groups.members("g", now=17.9)) == ["a"]
    assert groups.members("g", now=18) == {}


def test_discarding_the_last_member_forgets_the_group_and_a_new_one_starts_afresh() -> None:
    groups = LocalGroups(expiry=10)
    groups.add("g", "a", now=0)
    assert groups.discard("g", "a")
    assert not groups.discard("g", "a")
    assert groups.add("g", "b", now=50)  # a new group: its own due time, not the old one's
    assert list(groups.members("g", now=59)) == ["b"]
    assert groups.members("g", now=60) == {}


def test_sweep_drops_expired_memberships_of_every_group() -> None:
    groups = LocalGroups(expiry=10)
    groups.add("g1", "a", now=0)
    groups.add("g2", "b", now=5)
    groups.sweep(now=12)
    assert groups.names() == ["g2"]
    assert len(groups) == 1


async def test_fan_out_skips_an_expired_member_and_reaches_a_live_one() -> None:
    core = LocalCore(expiry=60, group_expiry=0.2, capacity_for=lambda _: 10)
    core.group_add("g", "old")
    await asyncio.sleep(0.1)
    core.group_add("g", "new")
    await asyncio.sleep(0.15)  # old's membership ended, new's has not
    assert core.fan_out("g", b"m") == (1, 0)
    assert core.get_nowait("new") == b"m"
    assert core.get_nowait("old") is None


async def test_one_group_message_handed_to_many_waiters_then_cancelled_stays_per_member() -> None:
    """Members handed the same message at once: a cancelled one gives it back to its own
    mailbox only (the hand-off shares one (deadline, payload) item between members)."""
    core = LocalCore(expiry=60, group_expiry=60, capacity_for=lambda _: 10)
    for channel in ("a", "b", "c"):
        core.group_add("g", channel)
    receivers = {ch: asyncio.create_task(core.get(ch)) for ch in ("a", "b", "c")}
    await asyncio.sleep(0)  # all three wait
    assert core.fan_out("g", b"m") == (3, 0)
    receivers["b"].cancel()
    assert await receivers["a"] == b"m"
    assert await receivers["c"] == b"m"
    with pytest.raises(asyncio.CancelledError):
        await receivers["b"]
    assert core.get_nowait("b") == b"m"  # given back, once
    assert core.get_nowait("b") is None
    assert core.get_nowait("a") is None

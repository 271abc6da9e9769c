"""Sentinel failover under load, for both Redis layers: the master is killed (SIGKILL), the
sentinels promote the replica, and the running processes carry on against the new master
without being restarted; every delivery is received or was reported to its sender.

Replication is asynchronous: a write the master acknowledged in the instant before it died
may not have reached the replica. That window is one event-loop turn of Redis; the test
asserts nothing was lost, and would show such a loss as ``lost``.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.resilience.conftest import SentinelCluster, wait_until
from tests.resilience.runner import Traffic
from tests.resilience.test_restart import FAILED_CALL_BOUND, layer_options, report
from tests.resilience.traffic import account, describe_lost, recovery_seconds

pytestmark = [pytest.mark.redis]


@pytest.mark.slow
@pytest.mark.timeout(120)
@pytest.mark.parametrize("kind", ["queue", "pubsub"])
async def test_sentinel_failover_under_load_loses_nothing_silently(
    kind: str,
    sentinel_cluster: SentinelCluster,
    traffic: list[Traffic],
    request: pytest.FixtureRequest,
) -> None:
    cluster = sentinel_cluster
    options = layer_options(kind, request, sentinels=cluster.addresses, service_name="mymaster")
    run = Traffic(kind, options)
    traffic.append(run)
    await run.start()
    await run.wait_delivery_after(time.time(), within=15)
    await asyncio.sleep(0.5)

    cluster.master.stop()
    down_at = time.time()
    promoted_in = await asyncio.to_thread(
        wait_until,
        lambda: cluster.master_port() == cluster.replica.port,
        30,
        "the sentinels promoting the replica",
    )
    promoted_at = time.time()
    await run.wait_delivery_after(promoted_at, within=15)
    await asyncio.sleep(1.0)
    sender, receivers = await run.finish()

    result = account(run.targets, sender, receivers)
    recovery = recovery_seconds(receivers, promoted_at)
    report(
        f"failover/{kind}",
        [
            result.summary(),
            f"replica promoted {promoted_in:.2f}s after the kill",
            f"recovery {recovery:.3f}s after the promotion",
            f"slowest failing call {max(sender.failed_call_seconds, default=0):.3f}s",
            f"receivers {[r.statistics for r in receivers]}",
        ],
    )
    assert sender.unexpected == []
    assert any(o == "failed" and t >= down_at for _, _, o, t in sender.outcomes)
    assert max(sender.failed_call_seconds) <= FAILED_CALL_BOUND
    lost = describe_lost(result.lost[:20], sender, receivers, down_at)
    assert result.lost == [], f"lost silently: {lost}"
    assert result.duplicates == []
    assert result.unknown == []
    assert result.sent == result.received + result.reported + len(result.told)
    if kind == "pubsub":  # both channels of every receiver heard its subscriber broke
        assert all(len({c for c, _ in r.notices}) == 2 for r in receivers), [
            r.notices for r in receivers
        ]

"""One measurement: an implementation in a scenario, in one process or two."""

from __future__ import annotations

import time
import traceback
from typing import Any

from bench.impls import Impl
from bench.scenarios import Scenario, Timing
from bench.workers import JobError, Pool

__all__ = ["run_case"]

SETUP_TIMEOUT = 90.0


def _result_timeout(timing: Timing) -> float:
    return timing.duration + timing.unloaded_duration + 4 * timing.stall + 60


def _one_process(pool: Pool, job: dict[str, Any], timing: Timing) -> dict[str, Any]:
    pool.a.send({**job, "kind": "solo"})
    return pool.a.result(SETUP_TIMEOUT + _result_timeout(timing))


def _two_processes(pool: Pool, job: dict[str, Any], timing: Timing) -> dict[str, Any]:
    pool.b.send({**job, "kind": "receiver"})
    ready = pool.b.wait(SETUP_TIMEOUT)
    if ready.get("event") != "ready":
        raise JobError(f"receiver: expected ready, got {ready!r}")
    info = {"channels": ready["channels"], "group": ready["group"]}
    pool.a.send({**job, "kind": "sender", "info": info})
    try:
        pool.a.wait(SETUP_TIMEOUT)
        pool.a.send("go")
        sent = pool.a.result(_result_timeout(timing))
    finally:
        pool.b.send("stop")
    received = pool.b.result(30)
    return {**sent, **received}


def _churn_two(pool: Pool, job: dict[str, Any], timing: Timing) -> dict[str, Any]:
    pool.a.send({**job, "kind": "churn"})
    pool.b.send({**job, "kind": "churn"})
    pool.a.wait(SETUP_TIMEOUT)
    pool.b.wait(SETUP_TIMEOUT)
    pool.a.send("go")
    pool.b.send("go")
    a = pool.a.result(_result_timeout(timing))
    b = pool.b.result(_result_timeout(timing))
    elapsed = max(a["churn_elapsed"], b["churn_elapsed"])
    ops = a["churn_ops"] + b["churn_ops"]
    return {
        "churn_ops": ops,
        "churn_elapsed": elapsed,
        "churn_rate": ops / elapsed,
        "churn_errors": a["churn_errors"] + b["churn_errors"],
        "churn_first_error": a["churn_first_error"] or b["churn_first_error"],
        "churn_cpu_us": (a["churn_cpu_us"] + b["churn_cpu_us"]) / 2,
    }


def run_case(
    pool: Pool,
    impl: Impl,
    scenario: Scenario,
    mode: str,
    timing: Timing,
    url: str,
    rep: int,
) -> dict[str, Any]:
    """Measure once; a failure is recorded (and the workers restarted), never raised."""
    job = {"impl": impl.key, "scenario": scenario.key, "timing": timing, "url": url}
    record: dict[str, Any] = {
        "scenario": scenario.key, "mode": mode, "impl": impl.key, "rep": rep,
        "ok": True, "error": None, "metrics": {},
    }  # fmt: skip
    started = time.monotonic()
    try:
        if mode == "1proc":
            metrics = _one_process(pool, job, timing)
        elif scenario.kind == "churn":
            metrics = _churn_two(pool, job, timing)
        else:
            metrics = _two_processes(pool, job, timing)
        record["metrics"] = metrics
    except JobError as exc:
        record.update(ok=False, error=str(exc).strip())
        pool.restart()
    except Exception as exc:
        record.update(ok=False, error=f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}")
        pool.restart()
    record["wall_s"] = round(time.monotonic() - started, 2)
    return record

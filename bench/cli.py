"""``python -m bench`` (via ``bench/run``): plan, run interleaved, write the results."""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import json
import os
import platform
import shlex
import signal
import sys
import time
from pathlib import Path
from typing import Any

from bench.e2e import E2E_APPS, e2e_unavailable_reason, run_e2e_case
from bench.impls import IMPLS, unavailable_reason
from bench.report import write_chart, write_json, write_markdown
from bench.runner import run_case
from bench.scenarios import SCENARIOS, Timing
from bench.servers import RedisServer, raise_fd_limit
from bench.workers import Pool

__all__ = ["main"]

RESULTS = Path(__file__).resolve().parent / "results"
FULL = Timing(duration=0.8, unloaded_duration=0.3, unloaded_max=200)
QUICK = Timing(duration=0.2, unloaded_duration=0.12, unloaded_max=40, warm=2, stall=2.0)
CHART_PANELS = (
    ("p2p", "2proc", "p2p, 2 processes"),
    ("p2p-concurrent", "2proc", "100 channels, 10 senders, 2 processes"),
    ("fanout-1000", "2proc", "group of 1,000, 2 processes"),
)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench/run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a smoke run in under 2 minutes")
    parser.add_argument("--reps", type=int, help="repetitions (default 3, quick 1)")
    parser.add_argument("--duration", type=float, help="seconds of load per run")
    parser.add_argument("--scenarios", help="comma-separated subset, e.g. p2p,fanout-1000")
    parser.add_argument("--impls", help="comma-separated subset of implementation keys")
    parser.add_argument("--modes", default="1proc,2proc", help="1proc, 2proc or both")
    parser.add_argument("--e2e-clients", help="client counts (default 200,1000; quick 100)")
    parser.add_argument("--e2e-apps", help="comma-separated subset of end-to-end apps")
    parser.add_argument("--no-e2e", action="store_true", help="skip the WebSocket benchmark")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results directory")
    return parser.parse_args(argv)


def _versions() -> dict[str, str]:
    out = {}
    for dist in ("fast-channels", "channels", "channels-redis", "broadcaster", "redis",
                 "hiredis", "msgpack", "uvicorn", "websockets", "starlette"):  # fmt: skip
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


def _redis_version(port: int) -> str:
    import redis

    client = redis.Redis(host="127.0.0.1", port=port)
    try:
        return str(client.info("server")["redis_version"])
    finally:
        client.close()


def _subset(value: str | None, known: list[str]) -> list[str]:
    if not value:
        return known
    wanted = [v.strip() for v in value.split(",") if v.strip()]
    unknown = sorted(set(wanted) - set(known))
    if unknown:
        raise SystemExit(f"unknown: {unknown}; choose from {known}")
    return [k for k in known if k in wanted]


def _log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _summary_line(record: dict[str, Any]) -> str:
    m = record["metrics"]
    if not record["ok"]:
        return "FAILED " + (record["error"] or "").strip().splitlines()[-1][:160]
    if "churn_rate" in m:
        return f"{m['churn_rate']:,.0f} ops/s errors={m['churn_errors']}"
    if "recover_rate" in m:
        each = m["recover_deliveries"] // max(m["recover_runs"], 1)
        return (f"{m['recover_p50_us'] / 1000:,.2f} ms per {each:,} messages, "
                f"{m['recover_rate']:,.0f} msgs/s lost={m['load_lost']}")  # fmt: skip
    rate = m.get("load_rate")
    p50 = m.get("unloaded_done_p50_us") or m.get("unloaded_lat_p50_us") or m.get("load_lat_p50_us")
    text = f"{rate:,.0f}/s" if rate else "no deliveries"
    if p50:
        text += f" p50 {p50:,.0f}µs"
    if m.get("load_lost") or m.get("load_send_errors"):
        text += f" lost={m.get('load_lost')} errors={m.get('load_send_errors')}"
    return text


def _add_redis_cpu(record: dict[str, Any], cpu: float) -> None:
    """Redis server CPU over the whole run, per delivery (per operation for churn)."""
    metrics = record["metrics"]
    done = metrics.get("churn_ops") or sum(
        v for k, v in metrics.items() if k.endswith("_deliveries") and isinstance(v, int)
    )
    if done:
        metrics["redis_cpu_us"] = cpu / done * 1e6


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    base = QUICK if args.quick else FULL
    timing = Timing(**{**base.__dict__, "duration": args.duration or base.duration})
    reps = args.reps or (1 if args.quick else 3)
    scenarios = [
        s for s in SCENARIOS if s.key in _subset(args.scenarios, [s.key for s in SCENARIOS])
    ]
    impls = [i for i in IMPLS if i.key in _subset(args.impls, [i.key for i in IMPLS])]
    modes = _subset(args.modes, ["1proc", "2proc"])
    clients = [
        int(c) for c in (args.e2e_clients or ("100" if args.quick else "200,1000")).split(",")
    ]
    apps = [a for a in E2E_APPS if a.key in _subset(args.e2e_apps, [a.key for a in E2E_APPS])]
    raise_fd_limit()
    # SIGTERM unwinds like Ctrl-C, so the finally blocks stop Redis, uvicorn and the workers.
    signal.signal(signal.SIGTERM, lambda _sig, _frame: sys.exit(143))

    unavailable: dict[str, str] = {}
    for impl in impls:
        reason = unavailable_reason(impl)
        if reason:
            unavailable[impl.key] = reason
    for app in apps if not args.no_e2e else ():
        reason = e2e_unavailable_reason(app)
        if reason:
            unavailable[f"e2e {app.key}"] = reason
    for name, reason in unavailable.items():
        _log(f"unavailable: {name}: {reason}")
    runnable = [i for i in impls if i.key not in unavailable]
    runnable_apps = [a for a in apps if f"e2e {a.key}" not in unavailable]

    now = dt.datetime.now()
    stamp = now.strftime("%Y-%m-%d-%H%M") + ("-quick" if args.quick else "")
    args.out.mkdir(parents=True, exist_ok=True)
    partial = args.out / f"{stamp}.json.tmp"
    records: list[dict[str, Any]] = []
    started = time.monotonic()
    redis = RedisServer()
    redis.start()
    pool = Pool()
    try:
        meta: dict[str, Any] = {
            "date": now.isoformat(timespec="seconds"),
            "command": "bench/run " + shlex.join(argv if argv is not None else sys.argv[1:]),
            "quick": args.quick, "reps": reps, "timing": timing.__dict__,
            "cpus": os.cpu_count(), "python": platform.python_version(),
            "platform": platform.platform(), "redis_server": _redis_version(redis.port),
            "versions": _versions(), "unavailable": unavailable,
        }  # fmt: skip
        for scenario in scenarios:
            for mode in modes:
                cases = [i for i in runnable if mode == "1proc" or i.cross_process]
                if scenario.history:  # only our layers keep history
                    cases = [i for i in cases if i.role == "ours"]
                if scenario.kind == "recover" and mode != "1proc":
                    cases = []  # one process reads the history: a second adds nothing
                for rep in range(reps):
                    shift = rep % max(len(cases), 1)
                    for impl in cases[shift:] + cases[:shift]:
                        redis.flushall()
                        cpu0 = redis.cpu_seconds()
                        record = run_case(pool, impl, scenario, mode, timing, redis.url, rep)
                        _add_redis_cpu(record, redis.cpu_seconds() - cpu0)
                        records.append(record)
                        _log(f"[{time.monotonic() - started:6.1f}s] {scenario.key:15} {mode} "
                             f"{impl.key:21} rep {rep}: {_summary_line(record)}")  # fmt: skip
                partial.write_text(json.dumps(records, default=str))
        if not args.no_e2e:
            for count in clients:
                for rep in range(reps):
                    shift = rep % max(len(runnable_apps), 1)
                    for app in runnable_apps[shift:] + runnable_apps[:shift]:
                        redis.flushall()
                        record = run_e2e_case(pool, app, count, timing, redis.url, rep)
                        records.append(record)
                        _log(f"[{time.monotonic() - started:6.1f}s] e2e-{count:<11} "
                             f"{app.key:21} rep {rep}: {_summary_line(record)}")  # fmt: skip
                    partial.write_text(json.dumps(records, default=str))
    finally:
        pool.close()
        redis.stop()
    meta["elapsed_s"] = round(time.monotonic() - started, 1)

    labels = {i.key: i.label for i in IMPLS}
    e2e_labels = {a.key: a.label for a in E2E_APPS}
    roles = {i.key: i.role for i in IMPLS}
    roles.update({a.key: a.role for a in E2E_APPS if a.key not in roles})
    json_path, md_path, png_path = (args.out / f"{stamp}.{ext}" for ext in ("json", "md", "png"))
    write_json(json_path, meta, records)
    write_markdown(md_path, meta, records, labels, e2e_labels)
    panels = list(CHART_PANELS)
    if clients and not args.no_e2e:
        panels.append((f"e2e-{max(clients)}", "e2e", f"WebSocket fan-out, C = {max(clients)}"))
    latest = None if args.quick else args.out / "latest.png"
    write_chart(png_path, latest, records, roles, panels)
    partial.unlink(missing_ok=True)
    _log(f"done in {meta['elapsed_s']}s: {md_path}, {json_path}, {png_path}")
    print(md_path.read_text())
    return 0

"""Results: the JSON file, the markdown table of ratios, and the chart."""

from __future__ import annotations

import json
import shutil
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.stats import spread

__all__ = ["HEADLINES", "summarize", "write_chart", "write_json", "write_markdown"]

Key = tuple[str, str, str]
Summary = dict[Key, dict[str, dict[str, float]]]

LAYER_METRICS = (
    "load_rate", "load_lat_p50_us", "load_lat_p99_us", "load_done_p50_us", "load_done_p99_us",
    "unloaded_lat_p50_us", "unloaded_lat_p99_us", "unloaded_done_p50_us", "unloaded_done_p99_us",
    "load_sender_cpu_us", "load_recv_cpu_us", "load_lost", "load_send_errors",
    "churn_rate", "churn_errors", "churn_cpu_us", "redis_cpu_us",
    "recover_p50_us", "recover_p99_us", "recover_rate", "recover_cpu_us",
    "connect_total_s", "connect_p50_us", "connect_p99_us", "connected",
    "server_cpu_us_per_delivery", "server_rss_per_conn_kib",
)  # fmt: skip


@dataclass(frozen=True)
class Headline:
    issue: str
    what: str
    scenario: str
    ours: str
    versus: tuple[str, ...]
    """Compared with the best median among these."""
    goal: float
    metric: str = "load_rate"
    mode: str = "2proc"


HEADLINES: tuple[Headline, ...] = (
    Headline("#3", "queue p2p msgs/s vs channels_redis", "p2p", "ours-queue", ("cr-queue",), 5),
    Headline("#3", "queue p2p-concurrent vs channels_redis", "p2p-concurrent", "ours-queue",
             ("cr-queue",), 15),
    Headline("#3", "queue fan-out 1000 vs channels_redis", "fanout-1000", "ours-queue",
             ("cr-queue",), 15),
    Headline("#3", "queue p2p vs raw list ceiling (awaited)", "p2p", "ours-queue",
             ("raw-list-awaited",), 0),
    Headline("#3", "queue p2p-concurrent vs raw list ceiling (pipelined)", "p2p-concurrent",
             "ours-queue", ("raw-list-pipelined",), 0),
    Headline("#4", "pub/sub one sender vs raw PUBLISH ceiling", "p2p", "ours-pubsub",
             ("raw-pubsub-awaited",), 0.9),
    Headline("#4", "pub/sub 10 senders vs pipelined ceiling", "p2p-concurrent", "ours-pubsub",
             ("raw-pubsub-pipelined",), 0.8),
    Headline("#4", "pub/sub fan-out 1000 vs fan-out ceiling", "fanout-1000", "ours-pubsub",
             ("raw-pubsub-awaited", "raw-pubsub-pipelined"), 0.8),
    Headline("#4", "pub/sub fan-out 1000 vs channels_redis pub/sub", "fanout-1000", "ours-pubsub",
             ("cr-pubsub",), 1.5),
    Headline("e2e", "WebSocket fan-out, largest C, vs Starlette + broadcaster", "e2e-max",
             "ours-pubsub", ("broadcaster",), 0, mode="e2e"),
    Headline("e2e", "WebSocket fan-out, largest C, vs Django Channels", "e2e-max",
             "ours-pubsub", ("channels-pubsub",), 0, mode="e2e"),
)  # fmt: skip


def summarize(records: Iterable[dict[str, Any]]) -> Summary:
    """Median and min-max of each metric over the successful repetitions."""
    values: defaultdict[Key, defaultdict[str, list[Any]]] = defaultdict(lambda: defaultdict(list))
    for record in records:
        if not record["ok"]:
            continue
        key = (record["scenario"], record["mode"], record["impl"])
        for metric, value in record["metrics"].items():
            values[key][metric].append(value)
    out: Summary = {}
    for key, metrics in values.items():
        out[key] = {}
        for metric, vals in metrics.items():
            stats = spread(vals)
            if stats is not None:
                out[key][metric] = stats
    return out


def _get(summary: Summary, scenario: str, mode: str, impl: str, metric: str) -> dict[str, float]:
    return summary.get((scenario, mode, impl), {}).get(metric, {})


def headline_rows(summary: Summary) -> list[dict[str, Any]]:
    rows = []
    sizes = [int(s[4:]) for s, m, _ in summary if m == "e2e" and s[4:].isdigit()]
    for h in HEADLINES:
        scenario = h.scenario
        if scenario == "e2e-max":
            scenario = f"e2e-{max(sizes)}" if sizes else "e2e-none"
        ours = _get(summary, scenario, h.mode, h.ours, h.metric)
        candidates = [(_get(summary, scenario, h.mode, v, h.metric), v) for v in h.versus]
        candidates = [(c, v) for c, v in candidates if c]
        row: dict[str, Any] = {"issue": h.issue, "what": h.what, "scenario": scenario,
                               "ours": h.ours, "goal": h.goal or None}  # fmt: skip
        if ours and candidates:
            peer, name = max(candidates, key=lambda cv: cv[0]["median"])
            row.update(
                versus=name,
                ours_median=ours["median"],
                versus_median=peer["median"],
                ratio=ours["median"] / peer["median"],
                ratio_min=ours["min"] / peer["max"],
                ratio_max=ours["max"] / peer["min"],
            )
            if h.goal:
                row["status"] = "meets" if row["ratio"] >= h.goal else "below"
        else:
            row.update(versus=" / ".join(h.versus), status="not measured")
        rows.append(row)
    latency = _get(summary, "p2p", "2proc", "ours-queue", "unloaded_lat_p50_us")
    rows.append({
        "issue": "#3", "what": "queue p2p unloaded latency p50 (µs, goal ≤ 400)", "scenario": "p2p",
        "ours": "ours-queue", "versus": "-", "goal": 400,
        "ours_median": latency.get("median"),
        "status": ("meets" if latency["median"] <= 400 else "below") if latency
        else "not measured",
    })  # fmt: skip
    return rows


def write_json(path: Path, meta: dict[str, Any], records: list[dict[str, Any]]) -> None:
    summary = summarize(records)
    doc = {
        "meta": meta,
        "headlines": headline_rows(summary),
        "summary": [
            {
                "scenario": s,
                "mode": m,
                "impl": i,
                "metrics": {k: v for k, v in metrics.items() if k in LAYER_METRICS},
            }
            for (s, m, i), metrics in sorted(summary.items())
        ],
        "runs": [],
    }
    text = json.dumps(doc, indent=1, default=str)
    runs = ",\n  ".join(json.dumps(r, default=str, separators=(",", ":")) for r in records)
    text = text.replace('"runs": []', f'"runs": [\n  {runs}\n ]' if records else '"runs": []')
    path.write_text(text + "\n")


def _fmt(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:,.{digits}f}"


def _cell(stats: dict[str, float], digits: int = 0, spread_too: bool = True) -> str:
    if not stats:
        return "-"
    text = _fmt(stats["median"], digits)
    if spread_too and stats.get("n", 1) > 1:
        text += f" ({_fmt(stats['min'], digits)}-{_fmt(stats['max'], digits)})"
    return text


def _ratio(row: dict[str, Any]) -> str:
    if "ratio" not in row:
        return "-"
    return f"**{row['ratio']:.2f}x** ({row['ratio_min']:.2f}-{row['ratio_max']:.2f})"


def _headline_table(summary: Summary) -> list[str]:
    lines = [
        "| issue | ratio | ours | versus | ours / versus (range) | goal | status |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in headline_rows(summary):
        if row["what"].startswith("queue p2p unloaded latency"):
            lines.append(f"| {row['issue']} | {row['what']} | {_fmt(row.get('ours_median'))} µs "
                         f"| - | - | ≤ 400 µs | {row['status']} |")  # fmt: skip
            continue
        goal = f"≥ {row['goal']}x" if row["goal"] else "-"
        if row["issue"] == "e2e":
            row["what"] = row["what"].replace("largest C", f"C={row['scenario'][4:]}")
        lines.append(f"| {row['issue']} | {row['what']} | {row['ours']} | {row['versus']} "
                     f"| {_ratio(row)} | {goal} | {row.get('status', '-')} |")  # fmt: skip
    return lines


def _scenario_tables(
    summary: Summary, labels: dict[str, str], e2e_labels: dict[str, str]
) -> list[str]:
    lines: list[str] = []
    groups: defaultdict[tuple[str, str], list[str]] = defaultdict(list)
    for scenario, mode, impl in summary:
        groups[(scenario, mode)].append(impl)
    for (scenario, mode), impls in sorted(groups.items()):
        names = e2e_labels if mode == "e2e" else labels
        order = list(names)
        impls.sort(key=lambda i: order.index(i) if i in order else 99)

        def get(impl: str, metric: str, scenario: str = scenario, mode: str = mode) -> Any:
            return _get(summary, scenario, mode, impl, metric)

        lines += ["", f"### {scenario} — {mode}", ""]
        if scenario == "churn":
            lines += ["| implementation | ops/s | CPU µs/op | Redis CPU µs/op | errors |",
                      "|---|---|---|---|---|"]  # fmt: skip
            for impl in impls:
                lines.append(f"| {names.get(impl, impl)} | {_cell(get(impl, 'churn_rate'))} "
                             f"| {_cell(get(impl, 'churn_cpu_us'), 1, False)} "
                             f"| {_cell(get(impl, 'redis_cpu_us'), 1, False)} "
                             f"| {_cell(get(impl, 'churn_errors'), 0, False)} |")  # fmt: skip
            continue
        if scenario.startswith("recover"):
            lines += ["| implementation | recovery p50 ms | recovery p99 ms | msgs/s | "
                      "CPU µs/msg | Redis CPU µs/msg | lost |",
                      "|---|---|---|---|---|---|---|"]  # fmt: skip
            for impl in impls:
                p50, p99 = get(impl, "recover_p50_us"), get(impl, "recover_p99_us")
                lines.append(f"| {names.get(impl, impl)} "
                             f"| {_cell({k: v / 1000 for k, v in p50.items()}, 2, False)} "
                             f"| {_cell({k: v / 1000 for k, v in p99.items()}, 2, False)} "
                             f"| {_cell(get(impl, 'recover_rate'))} "
                             f"| {_cell(get(impl, 'recover_cpu_us'), 2, False)} "
                             f"| {_cell(get(impl, 'redis_cpu_us'), 2, False)} "
                             f"| {_cell(get(impl, 'load_lost'), 0, False)} |")  # fmt: skip
            continue
        fan = scenario.startswith(("fanout", "e2e"))
        lat = "done" if scenario.startswith("fanout") else "lat"
        unit = "deliveries/s" if fan else "msgs/s"
        head = f"| implementation | {unit} | p50 µs | p99 µs | unloaded p50 µs | unloaded p99 µs"
        if mode == "e2e":
            lines += [head + " | connect all s | server CPU µs/delivery | RSS KiB/conn | lost |",
                      "|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
        else:
            lines += [head + " | sender CPU µs/op | receiver CPU µs/delivery"
                      " | Redis CPU µs/delivery | lost |",
                      "|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
        for impl in impls:
            cells = [names.get(impl, impl), _cell(get(impl, "load_rate")),
                     _cell(get(impl, f"load_{lat}_p50_us"), 0, False),
                     _cell(get(impl, f"load_{lat}_p99_us"), 0, False),
                     _cell(get(impl, f"unloaded_{lat}_p50_us"), 0, False),
                     _cell(get(impl, f"unloaded_{lat}_p99_us"), 0, False)]  # fmt: skip
            if mode == "e2e":
                cells += [_cell(get(impl, "connect_total_s"), 2, False),
                          _cell(get(impl, "server_cpu_us_per_delivery"), 1, False),
                          _cell(get(impl, "server_rss_per_conn_kib"), 1, False)]  # fmt: skip
            else:
                cells += [_cell(get(impl, "load_sender_cpu_us"), 1, False),
                          _cell(get(impl, "load_recv_cpu_us"), 1, False),
                          _cell(get(impl, "redis_cpu_us"), 2, False)]  # fmt: skip
            cells.append(_cell(get(impl, "load_lost"), 0, False))
            lines.append("| " + " | ".join(cells) + " |")
    return lines


def write_markdown(
    path: Path,
    meta: dict[str, Any],
    records: list[dict[str, Any]],
    labels: dict[str, str],
    e2e_labels: dict[str, str],
) -> None:
    summary = summarize(records)
    failed = [r for r in records if not r["ok"]]
    lines = [
        f"# fast-channels benchmark — {meta['date']}",
        "",
        f"Command: `{meta['command']}` · {meta['reps']} repetition(s), interleaved · "
        f"{meta['cpus']} CPUs · Python {meta['python']} · redis-server {meta['redis_server']}",
        "",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()),
        "",
        "Medians over repetitions, (min-max) in brackets. *2proc*: sender and receivers in "
        "separate OS processes (the deployment shape); *1proc*: one process, one event loop. "
        "Latency is send → receipt (fan-out: send → last member's receipt), measured with "
        "`time.monotonic_ns()` carried in the message; *unloaded* = one message in flight.",
        "",
        "## Headline ratios (issues #3 and #4: two processes; e2e: WebSocket fan-out)",
        "",
        *_headline_table(summary),
    ]
    if meta.get("unavailable"):
        lines += ["", "## Unavailable", ""]
        lines += [f"- **{k}**: {v}" for k, v in meta["unavailable"].items()]
    if failed:
        lines += ["", "## Failed runs", ""]
        for r in failed[:20]:
            first = (r["error"] or "").strip().splitlines()
            lines.append(f"- {r['scenario']} {r['mode']} {r['impl']} rep {r['rep']}: "
                         f"`{first[-1] if first else ''}`")  # fmt: skip
    lines += ["", "## All scenarios", *_scenario_tables(summary, labels, e2e_labels), ""]
    path.write_text("\n".join(lines))


_COLORS = {"ours": "#1f77b4", "peer": "#ff7f0e", "ceiling": "#9a9a9a"}


def _short(value: float) -> str:
    if value >= 1e6:
        return f"{value / 1e6:.1f}M"
    if value >= 1e3:
        return f"{value / 1e3:.1f}k"
    return f"{value:.0f}"


def write_chart(
    path: Path,
    latest: Path | None,
    records: list[dict[str, Any]],
    roles: dict[str, str],
    panels: Sequence[tuple[str, str, str]],
) -> None:
    """One bar panel per (scenario, mode, title): medians with min-max whiskers, log scale."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summary = summarize(records)
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 4.6), squeeze=False)
    for ax, (scenario, mode, title) in zip(axes[0], panels, strict=True):
        rows = [(impl, m["load_rate"]) for (s, md, impl), m in summary.items()
                if s == scenario and md == mode and "load_rate" in m]  # fmt: skip
        order = list(roles)
        rows.sort(key=lambda r: order.index(r[0]) if r[0] in order else 99)
        names = [r[0] for r in rows]
        med = [r[1]["median"] for r in rows]
        low = [r[1]["median"] - r[1]["min"] for r in rows]
        high = [r[1]["max"] - r[1]["median"] for r in rows]
        bars = ax.bar(range(len(rows)), med, yerr=[low, high], capsize=3,
                      color=[_COLORS.get(roles.get(n, ""), "#555") for n in names])  # fmt: skip
        ax.bar_label(bars, [_short(v) for v in med], fontsize=7, padding=2)
        ax.set_xticks(range(len(rows)), names, rotation=60, ha="right", fontsize=8)
        ax.set_title(title, fontsize=10)
        if not rows:
            ax.text(0.5, 0.5, "not measured", ha="center", transform=ax.transAxes)
            ax.set_axis_off()
            continue
        ax.set_yscale("log")
        ax.grid(axis="y", alpha=0.3, which="both")
    axes[0][0].set_ylabel("messages (deliveries) per second, log scale")
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in _COLORS.values()]
    fig.legend(handles, list(_COLORS), loc="upper right", ncol=3, fontsize=8)
    fig.tight_layout(rect=(0, 0, 1, 0.94))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    if latest is not None:
        shutil.copyfile(path, latest)

"""``scripts/matrix``: run the compatibility matrix (``--help`` for the options).

The quick default runs the subset of :func:`tests.matrix.plan.quick_cells` on this
Python and fails if any check fails (CI runs it). ``--full`` runs every framework under
every server on every Python, writes ``docs/compatibility/results.json`` and regenerates
``docs/compatibility.md`` from it. ``--render`` only regenerates the page.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import subprocess
import sys
import time
from collections.abc import Sequence

from tests.matrix.envs import MATRIX_DIR, ROOT, Environment, EnvironmentSetupError, prepare
from tests.matrix.plan import FRAMEWORKS, PYTHONS, SERVERS, Cell, full_cells, quick_cells
from tests.matrix.render import write_page
from tests.matrix.results import PAGE, RESULTS, CellResult, EnvironmentResult, Results, save
from tests.matrix.runner import run_cell


def _parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="scripts/matrix",
        description="Run the end-to-end compatibility checks across Pythons, frameworks and "
        "servers: real server processes, real WebSocket clients.",
    )
    parser.add_argument(
        "--full",
        action="store_true",
        help=f"every framework x server x Python ({', '.join(PYTHONS)}); writes "
        f"{RESULTS.relative_to(ROOT)} and regenerates {PAGE.relative_to(ROOT)}",
    )
    parser.add_argument("--python", action="append", choices=PYTHONS, help="only these Pythons")
    parser.add_argument(
        "--framework", action="append", choices=[f.name for f in FRAMEWORKS], help="only these"
    )
    parser.add_argument(
        "--server", action="append", choices=[s.name for s in SERVERS], help="only these"
    )
    parser.add_argument("--render", action="store_true", help="only regenerate the page")
    return parser.parse_args(argv)


def _commit() -> str:
    result = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout.strip() or "unknown"


def _select(args: argparse.Namespace) -> list[Cell]:
    this_python = f"{sys.version_info.major}.{sys.version_info.minor}"
    cells = full_cells() if args.full or args.python else quick_cells(this_python)
    if args.python:
        cells = [c for c in cells if c.python in args.python]
    if args.framework:
        cells = [c for c in cells if c.framework.name in args.framework]
    if args.server:
        cells = [c for c in cells if c.server.name in args.server]
    return cells


def _skipped(cell: Cell, reason: str) -> CellResult:
    return {
        "python": cell.python,
        "framework": cell.framework.name,
        "server": cell.server.name,
        "env": cell.env,
        "seconds": 0.0,
        "error": reason,
        "checks": {},
        "shutdown": "",
        "stopped": "",
    }


def _line(result: CellResult) -> str:
    label = f"py{result['python']} {result['framework']:<15} {result['server']:<15}"
    if result["error"]:
        return f"{label} ERROR {result['error'].splitlines()[0]}"
    bad = [name for name, check in result["checks"].items() if check["status"] == "fail"]
    differs = [name for name, check in result["checks"].items() if check["status"] == "differs"]
    verdict = "FAIL " + ", ".join(bad) if bad else "ok"
    if differs:
        verdict += f" (documented: {', '.join(differs)})"
    return f"{label} {verdict}  shutdown {result['shutdown']}  {result['seconds']} s"


async def run(
    cells: list[Cell], *, upgrade: bool
) -> tuple[dict[str, EnvironmentResult], list[CellResult]]:
    """Prepare each virtualenv once, then run its cells; print a line per cell."""
    environments: dict[str, EnvironmentResult] = {}
    ready: dict[str, Environment | str] = {}
    results: list[CellResult] = []
    for cell in cells:
        if cell.env not in ready:
            print(f"== {cell.env}: preparing", flush=True)
            try:
                env = prepare(cell.python, cell.framework.stack, upgrade=upgrade)
            except EnvironmentSetupError as failed:
                ready[cell.env] = str(failed)
                environments[cell.env] = {
                    "python": cell.python,
                    "packages": {},
                    "error": str(failed),
                }
                print(f"   {failed}", flush=True)
            else:
                ready[cell.env] = env
                environments[cell.env] = {
                    "python": env.python,
                    "packages": env.packages,
                    "error": None,
                }
        env_or_error = ready[cell.env]
        if isinstance(env_or_error, str):
            result = _skipped(cell, env_or_error)
        else:
            result = await run_cell(cell, env_or_error)
        results.append(result)
        print(_line(result), flush=True)
    return environments, results


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(sys.argv[1:] if argv is None else argv)
    if args.render:
        write_page()
        print(f"wrote {PAGE.relative_to(ROOT)}")
        return 0
    cells = _select(args)
    if not cells:
        print("scripts/matrix: no cell matches those options", file=sys.stderr)
        return 2
    started = time.monotonic()
    environments, cells_run = asyncio.run(run(cells, upgrade=args.full))
    results: Results = {
        "mode": "full" if args.full else "quick",
        "commit": _commit(),
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "seconds": round(time.monotonic() - started, 1),
        "environments": environments,
        "cells": cells_run,
    }
    failed = [
        c
        for c in cells_run
        if c["error"] or any(check["status"] == "fail" for check in c["checks"].values())
    ]
    if args.full and not (args.python or args.framework or args.server):
        save(results, RESULTS)
        write_page()
        print(f"wrote {RESULTS.relative_to(ROOT)} and {PAGE.relative_to(ROOT)}")
    else:
        out = MATRIX_DIR / "last-results.json"
        save(results, out)
        print(f"wrote {out.relative_to(ROOT)}")
    print(
        f"{len(cells_run)} cells, {len(failed)} with failures, {results['seconds']:.0f} s",
        flush=True,
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""The results file of a matrix run (``docs/compatibility/results.json``): its shape."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal, TypedDict, cast

from tests.matrix.envs import ROOT

RESULTS = ROOT / "docs" / "compatibility" / "results.json"
PAGE = ROOT / "docs" / "compatibility.md"

Status = Literal["pass", "differs", "fail"]
"""``differs``: the check failed where a documented server difference says it does."""


class CheckResult(TypedDict):
    status: Status
    observed: str


class CellResult(TypedDict):
    python: str
    framework: str
    server: str
    env: str
    seconds: float
    error: str | None
    """Why the server did not serve (then ``checks`` is empty), else None."""
    checks: dict[str, CheckResult]
    shutdown: str
    """The close code a connected client got when the server was sent SIGTERM."""
    stopped: str


class EnvironmentResult(TypedDict):
    python: str
    packages: dict[str, str]
    error: str | None


class Results(TypedDict):
    mode: Literal["quick", "full"]
    commit: str
    date: str
    seconds: float
    environments: dict[str, EnvironmentResult]
    cells: list[CellResult]


def load(path: Path = RESULTS) -> Results:
    return cast(Results, json.loads(path.read_text()))


def save(results: Results, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n")

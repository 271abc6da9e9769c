"""The guarantees page (docs/guarantees.md) stays true to the code and the tests.

Each row of its tables says how one kind of loss is reported and names the tests that show
it. Here: every named test exists, every exception is one of ``fast_channels.exceptions``,
every counter is a field of ``LayerStatistics`` / ``WorkerStatistics`` or an ``extra`` /
``gauges`` key the layers set, every logger is one the package logs on, at a named level,
and every counter of a loss appears on the page.
"""

from __future__ import annotations

import ast
import dataclasses
import re
from functools import cache

import pytest

import fast_channels.exceptions
from fast_channels.layers.statistics import LayerStatistics
from fast_channels.worker import WorkerStatistics
from tests.docs.pages import DOCS, ROOT

PAGE = DOCS / "guarantees.md"
PACKAGE = ROOT / "fast_channels"
COLUMNS = (
    "what happens",
    "layers",
    "what is lost",
    "exception",
    "counter",
    "log",
    "resync notice",
    "shown by",
)
TEST_REF = re.compile(r"`(tests/[\w/]+\.py)::([\w:]+)(?:\[[^\]]*\])?`")
CODE = re.compile(r"`([^`]+)`")
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
NOT_LOSSES = {"sent", "received", "group_sends", "handled", "in_hand", "layer_reachable"}
LAYER_SIZES = {"channels", "groups", "buffered", "waiting_receivers", "extra", "gauges"}


@dataclasses.dataclass(frozen=True)
class Row:
    line: int
    cells: dict[str, str]

    @property
    def where(self) -> str:
        return f"docs/guarantees.md:{self.line}"


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def _rows() -> list[Row]:
    """The rows of every table whose header is :data:`COLUMNS`."""
    rows: list[Row] = []
    lines = PAGE.read_text().splitlines()
    header: list[str] | None = None
    for number, line in enumerate(lines, start=1):
        if not line.startswith("|"):
            header = None
            continue
        cells = _cells(line)
        if header is None:
            header = [cell.lower() for cell in cells]
        elif not all(set(cell) <= {"-", ":"} for cell in cells) and tuple(header) == COLUMNS:
            assert len(cells) == len(COLUMNS), f"docs/guarantees.md:{number}: {len(cells)} cells"
            rows.append(Row(number, dict(zip(COLUMNS, cells, strict=True))))
    return rows


ROWS = _rows()


@cache
def _tests_in(path: str) -> frozenset[str]:
    """``name`` and ``Class::name`` of every test function in a test file."""
    tree = ast.parse((ROOT / path).read_text())
    found: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            found.add(node.name)
        elif isinstance(node, ast.ClassDef):
            found.update(
                f"{node.name}::{item.name}"
                for item in node.body
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)
            )
    return frozenset(name for name in found if name.split("::")[-1].startswith("test"))


@cache
def _source() -> str:
    return "\n".join(path.read_text() for path in PACKAGE.rglob("*.py"))


@cache
def _loggers() -> frozenset[str]:
    return frozenset(re.findall(r'getLogger\("([\w.]+)"\)', _source()))


def test_the_page_is_in_the_site_and_has_its_tables() -> None:
    assert "guarantees.md" in (ROOT / "mkdocs.yml").read_text()
    assert len(ROWS) >= 25


@pytest.mark.parametrize("row", ROWS, ids=[row.where for row in ROWS])
def test_each_row_names_tests_that_exist(row: Row) -> None:
    refs = TEST_REF.findall(row.cells["shown by"])
    assert refs, f"{row.where}: name the tests that show this row (`tests/x.py::test_y`)"
    for path, name in refs:
        assert (ROOT / path).is_file(), f"{row.where}: {path} does not exist"
        assert name in _tests_in(path), f"{row.where}: {path} has no test {name}"


@pytest.mark.parametrize("row", ROWS, ids=[row.where for row in ROWS])
def test_each_exception_named_is_one_of_ours(row: Row) -> None:
    for name in CODE.findall(row.cells["exception"]):
        if re.fullmatch(r"[A-Z]\w+", name):
            assert name in fast_channels.exceptions.__all__, f"{row.where}: no exception {name}"


@pytest.mark.parametrize("row", ROWS, ids=[row.where for row in ROWS])
def test_each_counter_named_exists(row: Row) -> None:
    layer_fields = {f.name for f in dataclasses.fields(LayerStatistics)}
    worker_fields = {f.name for f in dataclasses.fields(WorkerStatistics)}
    for name in CODE.findall(row.cells["counter"]):
        if keyed := re.fullmatch(r'(?:extra|gauges)\["(\w+)"\]', name):
            assert f'"{keyed.group(1)}"' in _source(), f"{row.where}: no layer sets {name}"
        elif worker := re.fullmatch(r"WorkerStatistics\.(\w+)", name):
            assert worker.group(1) in worker_fields, f"{row.where}: no {name}"
        elif re.fullmatch(r"[a-z_]\w*", name):
            assert name in layer_fields, f"{row.where}: LayerStatistics has no {name}"


@pytest.mark.parametrize("row", ROWS, ids=[row.where for row in ROWS])
def test_each_logger_named_is_used_and_given_a_level(row: Row) -> None:
    log = row.cells["log"]
    for match in re.finditer(r"`(fast_channels[\w.]*)`\s*(\w*)", log):
        name, level = match.groups()
        assert name in _loggers(), f"{row.where}: the package never logs on {name}"
        assert level in LEVELS, f"{row.where}: say at which level {name} logs ({LEVELS})"


def test_every_counter_of_a_loss_is_on_the_page() -> None:
    text = PAGE.read_text()
    for field in dataclasses.fields(LayerStatistics):
        if field.name not in NOT_LOSSES | LAYER_SIZES:
            assert f"`{field.name}`" in text, f"the page does not say what {field.name} counts"
    for field in dataclasses.fields(WorkerStatistics):
        if field.name not in NOT_LOSSES:
            shown = f"`WorkerStatistics.{field.name}`"
            assert shown in text, f"the page does not say what {shown} counts"


def test_the_test_references_are_pytest_node_ids() -> None:
    """A reference is a pytest node id: a path from the repository root, ``::``, a name
    (anything else in a "shown by" cell would go unchecked)."""
    loose = [ref for row in ROWS for ref in CODE.findall(row.cells["shown by"])]
    loose = [f"`{ref}`" for ref in loose]
    assert loose
    assert all(TEST_REF.fullmatch(ref) for ref in loose), [
        ref for ref in loose if not TEST_REF.fullmatch(ref)
    ]

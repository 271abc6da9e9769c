"""The compatibility page is what the last full run found, and the plan is what it ran."""

from __future__ import annotations

from tests.matrix.checks import CHECKS
from tests.matrix.known import DIFFERENCES, difference_for
from tests.matrix.plan import FRAMEWORKS, PYTHONS, SERVERS, full_cells, quick_cells
from tests.matrix.render import render
from tests.matrix.results import PAGE, load


def test_the_compatibility_page_is_generated_from_the_results_file() -> None:
    assert PAGE.read_text() == render(load()), (
        "docs/compatibility.md is not what scripts/matrix --render makes of "
        "docs/compatibility/results.json: run scripts/matrix --render (or --full)"
    )


def test_the_results_are_of_a_full_run_of_the_current_plan_and_checks() -> None:
    results = load()
    assert results["mode"] == "full"
    ran = {(c["python"], c["framework"], c["server"]) for c in results["cells"]}
    planned = {(c.python, c.framework.name, c.server.name) for c in full_cells()}
    assert ran == planned, "the plan changed since the last full run: scripts/matrix --full"
    for cell in results["cells"]:
        if cell["error"] is None:
            assert set(cell["checks"]) == {check.name for check in CHECKS}, (
                "the checks changed since the last full run: scripts/matrix --full"
            )


def test_the_last_full_run_passed_everywhere_but_in_documented_differences() -> None:
    for cell in load()["cells"]:
        assert cell["error"] is None, cell
        failed = {name for name, check in cell["checks"].items() if check["status"] == "fail"}
        assert not failed, (cell["python"], cell["framework"], cell["server"], failed)


def test_every_documented_difference_was_seen_in_the_last_run() -> None:
    """A difference that no longer shows where it says it does is stale documentation."""
    cells = load()["cells"]
    for difference in DIFFERENCES:
        seen = [
            c
            for c in cells
            if any(
                check["status"] == "differs"
                and difference_for(name, c["server"], c["framework"], check["observed"])
                == difference
                for name, check in c["checks"].items()
            )
        ]
        assert seen, f"{difference.key} was seen nowhere"
        if difference.servers:
            assert {c["server"] for c in seen} == set(difference.servers), difference.key
        if difference.frameworks:
            assert {c["framework"] for c in seen} == set(difference.frameworks), difference.key


def test_the_quick_run_covers_every_server_and_every_newest_framework() -> None:
    cells = quick_cells(PYTHONS[0])
    assert {c.server.name for c in cells} == {s.name for s in SERVERS}
    newest = {f.name for f in FRAMEWORKS if f.stack == "newest"}
    assert {c.framework.name for c in cells} == newest
    assert len({c.env for c in cells}) == 1, "the quick run needs one virtualenv"

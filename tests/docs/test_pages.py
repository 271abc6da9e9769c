"""Every Python sample on every page runs in CI.

A ```` ```python ```` block on a page is either made only of snippet includes
(``--8<-- "docs/examples/x.py"`` or ``"...x.py:section"``) of a file under
``docs/examples/`` — files that mypy and pyright check and tests run —, or a verbatim
excerpt of such a file (the migration guides show the parts that change), or it is marked
```` ```{.python .fragment} ````: a piece of a larger program shown for its shape, which is
compiled here but cannot run alone. Anything else fails here with what to do.
"""

from __future__ import annotations

import ast
import re

import pytest

from tests.docs.pages import EXAMPLES, ROOT, CodeBlock, python_blocks

BLOCKS = python_blocks()
INCLUDES = [(block, path, section) for block in BLOCKS for path, section in block.includes]
FRAGMENTS = [block for block in BLOCKS if block.is_fragment]


def test_the_pages_have_python_samples() -> None:
    assert len(INCLUDES) >= 15
    assert FRAGMENTS


def _excerpt_of_an_example(block: CodeBlock) -> bool:
    body = block.body.strip()
    return bool(body) and any(body in path.read_text() for path in EXAMPLES.glob("*.py"))


@pytest.mark.parametrize("block", BLOCKS, ids=[b.where for b in BLOCKS])
def test_a_python_block_is_an_included_example_or_a_marked_fragment(block: CodeBlock) -> None:
    if block.includes or block.is_fragment or _excerpt_of_an_example(block):
        return
    pytest.fail(
        f"{block.where}: a ```python block must run in CI. Put the code in a file under "
        'docs/examples/ (tested by tests/docs/) and include it with --8<-- "docs/examples/'
        'name.py" (or "name.py:section", marked # --8<-- [start:section] ... [end:section]), '
        "or, if it is a piece that cannot run alone, mark the fence ```{.python .fragment}"
    )


@pytest.mark.parametrize(
    ("block", "path", "section"), INCLUDES, ids=[f"{b.where}:{p}" for b, p, _ in INCLUDES]
)
def test_an_included_sample_is_an_example_file_with_that_section(
    block: CodeBlock, path: str, section: str | None
) -> None:
    source = ROOT / path
    assert source.is_file(), f"{block.where} includes {path}, which does not exist"
    if source.suffix == ".py":
        assert source.is_relative_to(EXAMPLES), (
            f"{block.where} includes {path}: Python samples live in docs/examples/"
        )
    if section is not None:
        text = source.read_text()
        for marker in ("start", "end"):
            assert f"# --8<-- [{marker}:{section}]" in text, f"{path} has no {marker}:{section}"


@pytest.mark.parametrize("block", FRAGMENTS, ids=[b.where for b in FRAGMENTS])
def test_a_fragment_is_valid_python(block: CodeBlock) -> None:
    try:
        compile(block.body, block.where, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    except SyntaxError as error:
        pytest.fail(f"{block.where}: the fragment is not valid Python: {error}")


def _examples_imported_by(source: str) -> set[str]:
    """The docs/examples modules a Python file imports (statically or by name)."""
    found = set(re.findall(r"[\"'=]docs\.examples\.(\w+)[\"':]", source))
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module is not None:
            if node.module == "docs.examples":
                found.update(alias.name for alias in node.names)
            elif node.module.startswith("docs.examples."):
                found.add(node.module.split(".")[2])
            elif node.level == 1 and node.module:  # between examples: from .echo import ...
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(
                alias.name.split(".")[2]
                for alias in node.names
                if alias.name.startswith("docs.examples.")
            )
    return found


def test_every_example_is_exercised_by_a_test() -> None:
    """A file under docs/examples/ that no test imports could break unnoticed (a module
    that other examples import runs with them)."""
    imported: set[str] = set()
    for path in [*(ROOT / "tests").rglob("*.py"), *EXAMPLES.glob("*.py")]:
        imported |= _examples_imported_by(path.read_text())
    examples = {path.stem for path in EXAMPLES.glob("*.py")} - {"__init__"}
    untested = sorted(examples - imported)
    assert not untested, f"no test imports docs/examples/{untested}: write one in tests/docs/"

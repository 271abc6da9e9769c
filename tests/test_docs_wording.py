"""The pages users read speak to users: no project-internal words, commit hashes or issue
numbers in the README, the guides, their examples and the benchmark's README."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted(
    [
        ROOT / "README.md",
        ROOT / "bench" / "README.md",
        *(ROOT / "docs").glob("*.md"),
        *(ROOT / "docs" / "examples").glob("*.py"),
    ]
)
INTERNAL = {
    "the seed README or sample": re.compile(r"\bseed\b", re.IGNORECASE),
    "a commit hash": re.compile(r"(?<![\w-])(?=[0-9a-f]*[a-f])(?=[0-9a-f]*\d)[0-9a-f]{7,40}\b"),
    "an issue number": re.compile(r"\bissues? #?\d+|^\s*- #\d+ ", re.IGNORECASE | re.MULTILINE),
    "a design document of the project's own": re.compile(r"\b(ARCHITECTURE|STYLE)\.md\b"),
}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_page_has_no_words_meant_for_the_developers(page: Path) -> None:
    text = page.read_text()
    found = {
        what: sorted({m.group(0) for m in pattern.finditer(text)})
        for what, pattern in INTERNAL.items()
        if pattern.search(text)
    }
    assert not found, f"{page.relative_to(ROOT)} has {found}"

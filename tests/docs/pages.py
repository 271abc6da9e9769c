"""Reading the documentation's Markdown: its pages and their fenced code blocks."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
EXAMPLES = DOCS / "examples"

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")
_INCLUDE = re.compile(r'^--8<-- "(?P<path>[^":]+)(?::(?P<section>[\w-]+))?"$')
FRAGMENT_CLASS = ".fragment"
PYTHON_LANGUAGES = {"python", "py", "python3"}


@dataclass(frozen=True, slots=True)
class CodeBlock:
    """One fenced block of a page."""

    page: Path
    line: int
    info: str
    body: str

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"

    @property
    def language(self) -> str:
        """``python`` for both ```` ```python ```` and ```` ```{.python .fragment} ````."""
        info = self.info.strip()
        if info.startswith("{"):
            classes = [word for word in info.strip("{}").split() if word.startswith(".")]
            return classes[0][1:] if classes else ""
        return info.split()[0] if info else ""

    @property
    def is_python(self) -> bool:
        return self.language in PYTHON_LANGUAGES

    @property
    def is_fragment(self) -> bool:
        """Marked ```` ```{.python .fragment} ````: shown, compiled, not run."""
        info = self.info.strip()
        return info.startswith("{") and FRAGMENT_CLASS in info.strip("{}").split()

    @property
    def includes(self) -> list[tuple[str, str | None]]:
        """The ``--8<-- "path[:section]"`` lines, if the block is made of nothing else."""
        lines = [line.strip() for line in self.body.splitlines() if line.strip()]
        found = [_INCLUDE.match(line) for line in lines]
        if not lines or not all(found):
            return []
        return [(m.group("path"), m.group("section")) for m in found if m is not None]


def pages() -> list[Path]:
    """Every Markdown page of the site."""
    return sorted(DOCS.rglob("*.md"))


def code_blocks(page: Path) -> list[CodeBlock]:
    """The page's fenced blocks, top level and nested (in lists, admonitions)."""
    blocks: list[CodeBlock] = []
    lines = page.read_text().splitlines()
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        fence = opening.group("fence")
        body: list[str] = []
        end = index + 1
        while end < len(lines):
            closing = _FENCE.match(lines[end])
            if closing and closing.group("fence").startswith(fence) and not closing["info"].strip():
                break
            body.append(lines[end][len(opening.group("indent")) :])
            end += 1
        blocks.append(CodeBlock(page, index + 1, opening.group("info"), "\n".join(body)))
        index = end + 1
    return blocks


def python_blocks() -> list[CodeBlock]:
    return [block for page in pages() for block in code_blocks(page) if block.is_python]

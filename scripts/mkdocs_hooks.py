"""MkDocs hooks (``mkdocs.yml`` ``hooks:``).

* Files from outside ``docs/`` that pages show: the benchmark chart lives in
  ``bench/results/`` (``bench/run`` rewrites ``latest.png``); the performance page shows it
  as ``images/bench-latest.png``, copied at build time so the site always carries the
  chart of the last committed run.
* Docstrings write Sphinx roles (``:class:`~fast_channels.worker.Worker```), which
  Markdown renders as the role's name followed by code: the API reference shows just the
  code, with the ``~`` form shortened to the last name, as Sphinx would.
"""

from __future__ import annotations

import re
from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

ROOT = Path(__file__).resolve().parent.parent
_ROLE = re.compile(r":(?:class|func|meth|mod|data|attr|exc|obj):<code>(~?)([^<]*)</code>")
EXTERNAL = {"images/bench-latest.png": ROOT / "bench" / "results" / "latest.png"}


def on_files(files: Files, config: MkDocsConfig) -> Files:
    """Add the files of :data:`EXTERNAL` to the site under their documentation paths."""
    for uri, source in EXTERNAL.items():
        if not source.is_file():
            raise FileNotFoundError(f"{source} is missing: the page that shows {uri} needs it")
        files.append(File.generated(config, uri, abs_src_path=str(source)))
    return files


def _without_role(match: re.Match[str]) -> str:
    shortened, target = match.groups()
    return f"<code>{target.rsplit('.', 1)[-1] if shortened else target}</code>"


def on_page_content(html: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    """Render ``:role:`target``` from docstrings as plain code (see the module's notes)."""
    return _ROLE.sub(_without_role, html)

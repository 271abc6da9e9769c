"""MkDocs hooks (``mkdocs.yml`` ``hooks:``): files from outside ``docs/`` that pages show.

The benchmark chart lives in ``bench/results/`` (``bench/run`` rewrites ``latest.png``);
the performance page shows it as ``images/bench-latest.png``, copied at build time so the
site always carries the chart of the last committed run.
"""

from __future__ import annotations

from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parent.parent
EXTERNAL = {"images/bench-latest.png": ROOT / "bench" / "results" / "latest.png"}


def on_files(files: Files, config: MkDocsConfig) -> Files:
    """Add the files of :data:`EXTERNAL` to the site under their documentation paths."""
    for uri, source in EXTERNAL.items():
        if not source.is_file():
            raise FileNotFoundError(f"{source} is missing: the page that shows {uri} needs it")
        files.append(File.generated(config, uri, abs_src_path=str(source)))
    return files

"""Build the documentation site and serve the result, for the tests and the screenshots."""

from __future__ import annotations

import contextlib
import functools
import os
import subprocess
import sys
import threading
from collections.abc import Generator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.docs.pages import ROOT

MKDOCS = Path(sys.executable).parent / "mkdocs"


class SiteBuildError(Exception):
    """``mkdocs build --strict`` failed: a warning, a broken link, a missing file."""


def build(site_dir: Path) -> None:
    """``mkdocs build --strict`` into ``site_dir`` (what ``scripts/docs build`` runs)."""
    result = subprocess.run(
        [str(MKDOCS), "build", "--strict", "--clean", "--site-dir", str(site_dir)],
        cwd=ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise SiteBuildError(f"mkdocs build --strict failed:\n{result.stderr}")


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """Requests are not logged (the tests report what failed)."""


@contextlib.contextmanager
def serving(site_dir: Path) -> Generator[str]:
    """Serve ``site_dir`` over HTTP on a free loopback port; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(site_dir))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="docs-site", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()

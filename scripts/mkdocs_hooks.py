"""MkDocs hooks (``mkdocs.yml`` ``hooks:``).

* Files from outside ``docs/`` that pages show: the benchmark chart lives in
  ``bench/results/`` (``bench/run`` rewrites ``latest.png``); the performance page shows it
  as ``images/bench-latest.png``, copied at build time so the site always carries the
  chart of the last committed run.
* Docstrings write Sphinx roles (``:class:`~fast_channels.worker.Worker```), which
  Markdown renders as the role's name followed by code. They become links to the API
  reference: the target is resolved as Python would in the scope of the object whose
  docstring it is (griffe, which mkdocstrings reads the package with, knows the members
  and imports of every module), then handed to mkdocs-autorefs as an *optional*
  reference. A target the reference documents becomes a link; one it does not (a private
  module) stays plain code, without a warning. The ``~`` form shows the last name only,
  as Sphinx would.
"""

from __future__ import annotations

import functools
import re
from html import escape
from pathlib import Path

import griffe
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "fast_channels"
_ROLE_OR_HEADING = re.compile(
    r'<h[1-6] id="(?P<heading>[\w.]+)" class="doc doc-heading'
    r"|:(?:class|func|meth|mod|data|attr|exc|obj):<code>(?P<tilde>~?)(?P<target>[^<]*)</code>"
)
EXTERNAL = {"images/bench-latest.png": ROOT / "bench" / "results" / "latest.png"}


def on_files(files: Files, config: MkDocsConfig) -> Files:
    """Add the files of :data:`EXTERNAL` to the site under their documentation paths."""
    for uri, source in EXTERNAL.items():
        if not source.is_file():
            raise FileNotFoundError(f"{source} is missing: the page that shows {uri} needs it")
        files.append(File.generated(config, uri, abs_src_path=str(source)))
    return files


@functools.cache
def _package() -> griffe.Module:
    """The package as mkdocstrings sees it: members and imports of every module."""
    package = griffe.load(PACKAGE, search_paths=[str(ROOT)], resolve_aliases=False)
    if not isinstance(package, griffe.Module):
        raise TypeError(f"griffe loaded {package!r} for {PACKAGE}, not a module")
    return package


def _lookup(path: str) -> griffe.Object | griffe.Alias | None:
    """The object at the full dotted ``path``, or None."""
    if path == PACKAGE:
        return _package()
    if not path.startswith(f"{PACKAGE}."):
        return None
    try:
        found: object = _package()[path.removeprefix(f"{PACKAGE}.")]
    except (KeyError, griffe.AliasResolutionError, griffe.CyclicAliasError):
        return None
    return found if isinstance(found, griffe.Object | griffe.Alias) else None


def _candidates(target: str, context: str | None) -> list[str]:
    """Full paths ``target`` may name, read from the docstring of the object ``context``."""
    if target.startswith(f"{PACKAGE}.") or target == PACKAGE:
        return [target]
    scope = _lookup(context) if context else None
    if scope is None:
        return []
    try:
        if target.startswith("."):  # relative to the module, as in a relative import
            module = scope if scope.is_module else scope.module
            package = module.path if module.is_package else module.path.rsplit(".", 1)[0]
            return [f"{package}{target}", f"{module.path}{target}"]
        head, _, rest = target.partition(".")
        found = scope.resolve(head)
    except (griffe.NameResolutionError, griffe.AliasResolutionError, griffe.CyclicAliasError):
        return []
    return [f"{found}.{rest}" if rest else found]


def _reference(match: re.Match[str], context: str | None) -> str:
    tilde, target = match.group("tilde", "target")
    shown = f"<code>{target.rsplit('.', 1)[-1] if tilde else target}</code>"
    for path in _candidates(target, context):
        if _lookup(path) is not None:
            return f'<autoref identifier="{escape(path)}" optional>{shown}</autoref>'
    return shown


def link_roles(html: str) -> str:
    """``html`` with each ``:role:`target``` of a docstring made a reference (see the
    module's notes). The docstring's object is the API heading
    (``<h2 id="fast_channels...." class="doc doc-heading">``) last seen before it."""
    context: str | None = None

    def replace(match: re.Match[str]) -> str:
        nonlocal context
        if match.group("heading") is not None:
            context = match.group("heading")
            return match.group(0)
        return _reference(match, context)

    return _ROLE_OR_HEADING.sub(replace, html)


def on_page_content(html: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    """Docstrings' Sphinx roles become references to the API reference."""
    return link_roles(html)

"""Sphinx roles in docstrings (``:class:`~fast_channels.worker.Worker```) become references
to the API reference, resolved in the scope of the docstring's object
(``scripts/mkdocs_hooks.py``; the built site's link check follows them)."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import cast

from tests.docs.pages import ROOT


def _link_roles() -> Callable[[str], str]:
    spec = importlib.util.spec_from_file_location("mkdocs_hooks", ROOT / "scripts/mkdocs_hooks.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return cast("Callable[[str], str]", module.link_roles)


link_roles = _link_roles()


def _heading(path: str) -> str:
    return f'<h3 id="{path}" class="doc doc-heading">{path}</h3>'


def test_a_full_path_becomes_a_reference_shortened_by_the_tilde() -> None:
    html = link_roles("<p>See :class:<code>~fast_channels.worker.Worker</code>.</p>")
    expected = '<autoref identifier="fast_channels.worker.Worker" optional><code>Worker</code>'
    assert expected in html


def test_a_member_name_is_resolved_in_the_scope_of_the_docstring() -> None:
    html = link_roles(_heading("fast_channels.worker.Worker") + "<p>:meth:<code>stop</code></p>")
    assert '<autoref identifier="fast_channels.worker.Worker.stop" optional>' in html
    assert "<code>stop</code>" in html
    assert ":meth:" not in html


def test_a_relative_module_is_resolved_from_the_docstrings_package() -> None:
    html = link_roles(_heading("fast_channels.layers.redis.queue") + ":mod:<code>._acks</code>")
    assert '<autoref identifier="fast_channels.layers.redis._acks" optional>' in html


def test_a_name_nothing_defines_stays_plain_code() -> None:
    html = link_roles(_heading("fast_channels.worker.Worker") + ":func:<code>nowhere</code>")
    assert html.endswith("<code>nowhere</code>")
    assert "autoref" not in html

"""The package's version: the successor of fast-channels 1.x on PyPI, as the README installs it."""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path

from packaging.specifiers import SpecifierSet
from packaging.version import Version

import fast_channels

README = Path(__file__).resolve().parents[1] / "README.md"


def test_version_succeeds_the_1x_releases_on_pypi() -> None:
    version = Version(fast_channels.__version__)
    assert version > Version("1.1.0")
    assert version.major == 2


def test_installed_metadata_carries_the_package_version() -> None:
    assert importlib.metadata.version("fast-channels") == fast_channels.__version__


def test_readme_install_lines_name_this_version() -> None:
    """The README's PyPI line selects this version, and its wheel name is this version's."""
    text = README.read_text()
    specifiers = re.findall(r'pip install --pre "fast-channels\[redis\](>=[^"]+)"', text)
    assert specifiers, 'the README has no `pip install --pre "fast-channels[redis]>=..."` line'
    for specifier in specifiers:
        assert SpecifierSet(specifier, prereleases=True).contains(fast_channels.__version__)
    wheels = re.findall(r"dist/fast_channels-([^-]+)-py3-none-any\.whl", text)
    assert wheels, "the README names no built wheel"
    assert set(wheels) == {fast_channels.__version__}

"""The README's "Testing your consumers" section, copied into a fresh project, passes.

Its ``pyproject.toml`` and ``test_echo.py`` blocks are written to an empty directory and
pytest runs there in a subprocess (with none of this repository's pytest configuration),
as a new user would run them.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_testing_section() -> str:
    text = README.read_text()
    _, heading, rest = text.partition("## Testing your consumers\n")
    assert heading, "README.md lost its 'Testing your consumers' section"
    return rest.split("\n## ", 1)[0]


def block(section: str, language: str, first_line: str) -> str:
    for code in re.findall(rf"```{language}\n(.*?)```", section, flags=re.DOTALL):
        if code.startswith(first_line):
            return str(code)
    raise AssertionError(f"no ```{language} block starting with {first_line!r} in the section")


def run_pytest(project: Path, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *options],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=25,
        check=False,
    )


def test_the_section_names_the_plugin_to_install() -> None:
    section = readme_testing_section()
    assert "pip install pytest pytest-asyncio" in block(section, "bash", "pip install")


def test_the_copied_test_passes_in_a_fresh_project(tmp_path: Path) -> None:
    section = readme_testing_section()
    (tmp_path / "pyproject.toml").write_text(block(section, "toml", "# pyproject.toml"))
    (tmp_path / "test_echo.py").write_text(block(section, "python", "# test_echo.py"))
    result = run_pytest(tmp_path, "-W", "error")  # and without a warning
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


def test_without_the_configuration_the_copied_test_fails_as_the_section_says(
    tmp_path: Path,
) -> None:
    section = readme_testing_section()
    (tmp_path / "pyproject.toml").write_text("[tool.pytest.ini_options]\n")
    (tmp_path / "test_echo.py").write_text(block(section, "python", "# test_echo.py"))
    result = run_pytest(tmp_path)
    assert result.returncode != 0
    assert "async def functions are not natively supported" in result.stdout
    assert "async def functions are not natively supported" in section.replace("\n", " ")


def test_readme_and_testing_guide_show_the_example_consumer_verbatim() -> None:
    root = README.parent
    source = (root / "docs" / "examples" / "echo.py").read_text()
    consumer = source[source.index("class EchoConsumer") :]
    assert consumer in README.read_text()
    assert consumer in (root / "docs" / "testing.md").read_text()

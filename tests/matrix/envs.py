"""The matrix's virtualenvs: one per Python and stack, under ``.matrix/venvs/``.

Each holds fast-channels (editable, from this checkout), the stack's frameworks and every
server. A virtualenv is reused while its requirements are unchanged; ``upgrade`` (the full
run) asks pip for the newest versions again.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.matrix.plan import env_name, env_requirements

ROOT = Path(__file__).resolve().parents[2]
MATRIX_DIR = ROOT / ".matrix"
VENVS = MATRIX_DIR / "venvs"
REPORTED_PACKAGES = (
    "daphne",
    "django",
    "fastapi",
    "granian",
    "hypercorn",
    "litestar",
    "quart",
    "starlette",
    "twisted",
    "uvicorn",
    "uvloop",
    "websockets",
    "wsproto",
)
"""The packages whose versions the results record."""


class EnvironmentSetupError(Exception):
    """A virtualenv could not be made (no such Python here, or pip failed)."""


@dataclass(frozen=True, slots=True)
class Environment:
    """A ready virtualenv and what is installed in it."""

    name: str
    python: str
    """The interpreter's full version, e.g. ``3.12.1``."""
    executable: Path
    packages: dict[str, str]


def find_interpreter(version: str) -> Path | None:
    """A ``pythonX.Y`` that runs: this one, on PATH, or under ``$PYENV_ROOT/versions``."""
    if f"{sys.version_info.major}.{sys.version_info.minor}" == version:
        return Path(sys.executable)
    candidates: list[Path] = []
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    if pyenv.is_dir():
        candidates.extend(sorted(pyenv.glob(f"{version}.*/bin/python{version}"), reverse=True))
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        candidates.append(Path(directory) / f"python{version}")
    for candidate in candidates:
        if not candidate.exists():
            continue
        probe = subprocess.run(
            [str(candidate), "-c", "import sys; print(sys.version_info[:2])"],
            capture_output=True,
            text=True,
            check=False,
        )
        if probe.returncode == 0 and probe.stdout.strip() == str(
            tuple(int(part) for part in version.split("."))
        ):
            return candidate
    return None


def _run(args: list[str], what: str) -> str:
    result = subprocess.run(args, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-15:])
        raise EnvironmentSetupError(f"{what} failed (exit {result.returncode}):\n{tail}")
    return result.stdout


def prepare(python: str, stack: str, *, upgrade: bool) -> Environment:
    """The virtualenv of ``stack`` on ``python``, made or brought up to date."""
    name = env_name(python, stack)
    interpreter = find_interpreter(python)
    if interpreter is None:
        raise EnvironmentSetupError(f"no Python {python} on this machine (PATH or pyenv)")
    directory = VENVS / name
    executable = directory / "bin" / "python"
    requirements = env_requirements(stack)
    stamp = directory / "matrix-requirements.json"
    wanted = json.dumps(requirements)
    if not executable.exists():
        _run([str(interpreter), "-m", "venv", str(directory)], f"creating {name}")
    if upgrade or not stamp.exists() or stamp.read_text() != wanted:
        pip = [str(executable), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        if upgrade:
            pip.append("--upgrade")
        _run([*pip, "-e", str(ROOT), *requirements], f"installing {name}")
        stamp.write_text(wanted)
    listing = _run(
        [str(executable), "-m", "pip", "list", "--format", "json", "--disable-pip-version-check"],
        f"listing {name}",
    )
    installed = {entry["name"].lower(): entry["version"] for entry in json.loads(listing)}
    full_version = _run(
        [str(executable), "-c", "import platform; print(platform.python_version())"],
        f"asking {name} for its version",
    ).strip()
    return Environment(
        name=name,
        python=full_version,
        executable=executable,
        packages={p: installed[p] for p in REPORTED_PACKAGES if p in installed},
    )

"""How Atom is built and checked outside the tests: the Docker image and `.ci/run`.

Docker cannot run here: the Dockerfile is checked by reading it (pinned base, dependencies in a
layer of their own before the code, nothing local in the build context). `.ci/run` runs for real
with stand-ins for python3/pip/ruff/pytest, to show it installs as README says and always removes
its virtualenv."""

from __future__ import annotations

import fnmatch
import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _instructions() -> list[str]:
    """The Dockerfile's instructions, continuation lines joined, comments dropped."""
    text = (ROOT / "Dockerfile").read_text()
    joined = re.sub(r"\\\n", " ", text)
    return [line.strip() for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def _index(instructions: list[str], pattern: str) -> int:
    hits = [i for i, line in enumerate(instructions) if re.search(pattern, line)]
    assert hits, f"no Dockerfile instruction matches {pattern!r}"
    return hits[0]


def test_the_image_starts_from_a_pinned_python():
    [base] = [line for line in _instructions() if line.startswith("FROM ")]
    assert re.fullmatch(r"FROM python:3\.11\.\d+-slim-bookworm(@sha256:[0-9a-f]{64})?", base), base


def test_dependencies_are_installed_in_their_own_layer_before_the_code():
    steps = _instructions()
    copy_project = _index(steps, r"^COPY pyproject\.toml ")
    install_deps = _index(steps, r"^RUN .*pip install .*-r ")
    copy_code = _index(steps, r"^COPY bot ")
    install_atom = _index(steps, r"^RUN pip install .*--no-deps \.$")
    assert copy_project < install_deps < copy_code < install_atom
    # Nothing of the code is in the context of the dependency layer.
    assert not [s for s in steps[:install_deps] if s.startswith(("COPY", "ADD")) and "pyproject.toml" not in s]
    assert not [s for s in steps if re.match(r"^(COPY|ADD) \. ", s)]
    assert _index(steps, r"^USER atom$") > install_atom  # runs unprivileged


def _ignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule, simplified: a path is left out when it or a folder above it matches."""
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in patterns:
        for candidate in candidates:
            if fnmatch.fnmatch(candidate, pattern):
                return True
            if pattern.startswith("**/") and fnmatch.fnmatch(candidate.rsplit("/", 1)[-1], pattern[3:]):
                return True
    return False


@pytest.mark.parametrize(
    "path",
    [
        ".git/HEAD", ".venv/bin/python", "venv/lib/x.py", "bot/__pycache__/app.cpython-311.pyc",
        "tests/__pycache__/conftest.cpython-311.pyc", ".pytest_cache/v/x", ".ruff_cache/x", "build/lib/x",
        "atom_slack.egg-info/PKG-INFO", "atom.db", "atom.db-wal", "atom.db-shm", "atom.db.key", "data.key",
        "tests/test_config.py", "bench/load.py", ".env", ".coverage",
    ],
)
def test_the_build_context_leaves_out_local_state(path):
    patterns = [
        line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert _ignored(path, patterns)


def test_the_build_context_keeps_what_the_image_needs():
    patterns = [
        line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for path in ("pyproject.toml", "README.md", "bot/app.py", "bot/storage/migrations/env.py"):
        assert not _ignored(path, patterns), path


STUB = """#!/bin/sh
echo "$(basename "$0") $*" >> "$CI_LOG"
case "$(basename "$0") $*" in
  "python -") exit 1 ;;  # the PostgreSQL probe: nothing listens
  "ruff "*) exit "${RUFF_EXIT:-0}" ;;
esac
exit 0
"""

FAKE_PYTHON3 = """#!/bin/sh
# Stands in for `python3 -m venv DIR`: a virtualenv whose tools only record how they were called.
[ "$1 $2" = "-m venv" ] || exit 2
mkdir -p "$3/bin"
head -c 1048576 /dev/zero > "$3/bin/weight"
for tool in python pip ruff pytest; do cp "$STUB_FILE" "$3/bin/$tool"; chmod +x "$3/bin/$tool"; done
printf 'export PATH="%s/bin:$PATH"\\n' "$3" > "$3/bin/activate"
"""


def _run_ci(tmp_path: Path, **env: str) -> tuple[subprocess.CompletedProcess, Path, str]:
    fake_bin, temp = tmp_path / "fake-bin", tmp_path / "tmp"
    fake_bin.mkdir()
    temp.mkdir()
    stub = tmp_path / "stub"
    stub.write_text(STUB)
    (fake_bin / "python3").write_text(FAKE_PYTHON3)
    (fake_bin / "python3").chmod(0o755)
    log = tmp_path / "ci.log"
    result = subprocess.run(
        ["bash", str(ROOT / ".ci" / "run")],
        env={"PATH": f"{fake_bin}:/usr/bin:/bin", "TMPDIR": str(temp), "CI_LOG": str(log),
             "STUB_FILE": str(stub), "HOME": str(tmp_path), **env},
        capture_output=True, text=True, timeout=60,
    )
    return result, temp, log.read_text() if log.exists() else ""


def _readme_install_args() -> str:
    readme = (ROOT / "README.md").read_text()
    match = re.search(r'```sh\npip install (-e "\.\[dev\]")', readme)
    assert match, "README's quick start no longer shows the install command"
    return match.group(1).replace('"', "")


def test_ci_installs_as_the_readme_says_and_removes_its_virtualenv(tmp_path):
    result, temp, calls = _run_ci(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert any(line.startswith("pip install") and _readme_install_args() in line for line in calls.splitlines()), calls
    assert "ruff check ." in calls and "pytest" in calls.splitlines()[-1]
    assert list(temp.iterdir()) == []


def test_ci_removes_its_virtualenv_when_a_step_fails(tmp_path):
    result, temp, calls = _run_ci(tmp_path, RUFF_EXIT="1")
    assert result.returncode == 1
    assert "pytest" not in calls  # stopped at the failing step
    assert list(temp.iterdir()) == []


def test_ci_script_is_executable():
    assert os.access(ROOT / ".ci" / "run", os.X_OK)

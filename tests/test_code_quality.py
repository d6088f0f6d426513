"""ruff, mypy and the import-linter contracts run with the test suite (and so in CI)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


def _tool(name: str) -> str:
    """The tool installed beside this interpreter (the venv), else on PATH."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: pip install -e '.[test]'")
    return found


def _run(*command: str) -> None:
    completed = subprocess.run(
        command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=600, check=False
    )
    assert completed.returncode == 0, completed.stdout[-4000:] + completed.stderr[-4000:]


def test_ruff_lint() -> None:
    _run(_tool("ruff"), "check", "spineview", "tests")


def test_ruff_format() -> None:
    _run(_tool("ruff"), "format", "--check", "spineview", "tests")


def test_mypy() -> None:
    _run(_tool("mypy"))


def test_import_contracts() -> None:
    _run(_tool("lint-imports"))

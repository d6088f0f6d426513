"""The PyInstaller bundle: build it and run --self-test inside it (slow: run with -m slow)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT


@pytest.mark.slow
@pytest.mark.timeout(3600)  # the build takes minutes: subprocess.run's own limit governs
@pytest.mark.skipif(
    importlib.util.find_spec("PyInstaller") is None,
    reason='PyInstaller is not installed: pip install -e ".[build]"',
)
def test_bundle_builds_and_passes_its_self_test(tmp_path: Path) -> None:
    dist, work = tmp_path / "dist", tmp_path / "work"
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "packaging" / "build.py"), "--dist", str(dist),
         "--work", str(work)],
        capture_output=True, text=True, timeout=3600, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "spineview self-test passed" in result.stdout
    bundle = dist / "spineview"
    assert (bundle / "spineview").is_file()
    resources = next(bundle.rglob("resources/models/cnn-demo/manifest.json"), None)
    assert resources is not None  # the bundled model travelled with the app
    assert not any(bundle.rglob("tkinter")), "tkinter should be left out"
    platforms = {path.name for path in bundle.rglob("plugins/platforms/*")}
    assert {"libqxcb.so", "libqoffscreen.so"} <= platforms or "qwindows.dll" in platforms


def test_spec_has_no_absolute_paths() -> None:
    spec = (REPO_ROOT / "packaging" / "spineview.spec").read_text(encoding="utf-8")
    assert str(REPO_ROOT) not in spec and "/work/" not in spec and "C:\\" not in spec

"""Build the standalone app with one command, then prove it works:

    .venv/bin/pip install -e ".[build]" && .venv/bin/python packaging/build.py

Writes dist/spineview/ (one folder; start dist/spineview/spineview), runs its --self-test and
prints the build time and the bundle size. Exit status 0 only when the frozen self-test passed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "packaging" / "spineview.spec"


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def build(dist: Path, work: Path) -> Path:
    command = [
        sys.executable, "-m", "PyInstaller", "--noconfirm", "--clean", "--log-level", "WARN",
        "--distpath", str(dist), "--workpath", str(work), str(SPEC),
    ]  # fmt: skip
    subprocess.run(command, check=True, cwd=ROOT)
    return dist / "spineview"


def self_test(bundle: Path) -> subprocess.CompletedProcess[str]:
    """Run the frozen app's --self-test with a throwaway SPINEVIEW_HOME."""
    executable = bundle / ("spineview.exe" if os.name == "nt" else "spineview")
    with tempfile.TemporaryDirectory(prefix="spineview-frozen-home-") as home:
        environment = {**os.environ, "SPINEVIEW_HOME": home, "QT_QPA_PLATFORM": "offscreen"}
        result = subprocess.run(
            [str(executable), "--self-test"], check=False, capture_output=True, text=True,
            env=environment,
            timeout=600,
        )  # fmt: skip
        log = Path(home) / "logs" / "self-test.txt"
        line = log.read_text(encoding="utf-8").strip() if log.is_file() else ""
    return subprocess.CompletedProcess(result.args, result.returncode, line, result.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dist", type=Path, default=ROOT / "dist", help="output folder")
    parser.add_argument("--work", type=Path, default=ROOT / "build" / "pyinstaller")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    bundle = build(args.dist, args.work)
    seconds = time.perf_counter() - started
    size = folder_bytes(bundle)
    print(f"built {bundle} in {seconds / 60:.1f} min, {size / 2**20:.0f} MiB")
    result = self_test(bundle)
    print(result.stdout or "(the self-test wrote no summary)")
    if result.returncode != 0:
        print(result.stderr[-4000:], file=sys.stderr)
        print(f"frozen self-test failed (exit {result.returncode})", file=sys.stderr)
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())

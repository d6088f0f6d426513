"""Files are opened read-only and nothing is ever written into the scanned tree.

A representative part of the corpus (every transfer syntax of pydicom's test files, a DICOMDIR
file set, the spine files) and a synthetic series are copied into a temporary folder (made
writable, so a stray write would succeed and show). Scanning, loading every series and the `info`
command must leave every file's bytes and mtime, every folder's mtime and the listing unchanged,
and every open of a path inside the tree must be a read.
"""

from __future__ import annotations

import builtins
import contextlib
import hashlib
import io
import json
import os
import pathlib
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from spineview.cli import run
from spineview.dicom.load import load_series
from spineview.dicom.scan import ScanResult, scan_paths
from spineview.dicom.write import SeriesSpec, write_series
from spineview.errors import DicomLoadError

CORPUS_PARTS = ("dicom-zoo/pydicom", "dicom-zoo/godcm", "spine")
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
PathArg = str | bytes | os.PathLike[str] | os.PathLike[bytes]
OpenArg = PathArg | int  # open() also takes a file descriptor


@dataclass(frozen=True)
class Entry:
    """What is recorded of one path in the tree: kind, and for files size, mtime and sha256."""

    kind: str
    mtime_ns: int
    size: int = 0
    sha256: str = ""


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def snapshot(root: Path) -> dict[str, Entry]:
    """Every folder, file and link under `root` (root included), keyed by relative path."""
    entries: dict[str, Entry] = {}
    for directory, subdirs, names in os.walk(root, followlinks=False):
        folder = Path(directory)
        entries[str(folder.relative_to(root))] = Entry("dir", folder.stat().st_mtime_ns)
        for name in [*subdirs, *names]:
            path = folder / name
            info = path.lstat()
            key = str(path.relative_to(root))
            if path.is_symlink():
                entries[key] = Entry("link", info.st_mtime_ns, sha256=os.readlink(path))
            elif path.is_file():
                entries[key] = Entry("file", info.st_mtime_ns, info.st_size, file_sha256(path))
    return entries


def differences(before: dict[str, Entry], after: dict[str, Entry]) -> list[str]:
    lines = [f"new: {key}" for key in sorted(after.keys() - before.keys())]
    lines += [f"gone: {key}" for key in sorted(before.keys() - after.keys())]
    lines += [
        f"changed: {key}: {before[key]} -> {after[key]}"
        for key in sorted(before.keys() & after.keys())
        if before[key] != after[key]
    ]
    return lines


def make_writable(root: Path) -> None:
    """Copies of the read-only corpus get ordinary permissions, as in a user's own folder."""
    for directory, _subdirs, names in os.walk(root):
        Path(directory).chmod(0o755)
        for name in names:
            (Path(directory) / name).chmod(0o644)


@pytest.fixture
def tree(shared_data: Path, tmp_path: Path) -> Path:
    root = tmp_path / "tree"
    for part in CORPUS_PARTS:
        shutil.copytree(shared_data / part, root / part)
    write_series(root / "synthetic" / "t2-sag", SeriesSpec(n_slices=4, rows=32, cols=32))
    make_writable(root)
    assert (root / "dicom-zoo/godcm/DICOMDIR").is_file()
    return root


def load_everything(result: ScanResult) -> int:
    """Load every series of `result`; return how many loaded (DicomLoadError is allowed)."""
    loaded = 0
    for study in result.studies:
        for info in study.series:
            try:
                load_series(info)
            except DicomLoadError:
                continue
            loaded += 1
    return loaded


def run_cli(argv: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = run(argv)
    return code, out.getvalue()


def exercise(root: Path) -> ScanResult:
    """Everything a user does to a folder short of the GUI: scan, load each series, `info`."""
    result = scan_paths([root])
    assert result.series_count > 10
    assert result.dicomdirs, "the DICOMDIR of the file set was not seen"
    assert load_everything(result) > 10
    scan_paths([root / "dicom-zoo/godcm/DICOMDIR"])  # a DICOMDIR given by name
    code, table = run_cli(["info", str(root)])
    assert code == 0
    assert "series" in table
    code, text = run_cli(["info", str(root), "--json"])
    assert code == 0
    assert json.loads(text)["studies"]
    return result


def test_scan_load_and_info_leave_the_tree_untouched(tree: Path) -> None:
    before = snapshot(tree)
    assert sum(entry.kind == "file" for entry in before.values()) > 100

    exercise(tree)

    after = snapshot(tree)
    assert not differences(before, after), "\n".join(differences(before, after))


# --- every open is a read ------------------------------------------------------------------


@dataclass
class OpenLog:
    """Opens of paths inside `root`, as (how, path, mode or os.open flags)."""

    root: Path
    opens: list[tuple[str, Path, str]] = field(default_factory=list)
    os_opens: list[tuple[Path, int]] = field(default_factory=list)

    def inside(self, target: object) -> Path | None:
        if isinstance(target, int) or not isinstance(target, str | bytes | os.PathLike):
            return None  # a file descriptor or a file-like object: no path to judge
        path = Path(os.fsdecode(target)).resolve()
        return path if path.is_relative_to(self.root) else None

    def note(self, how: str, target: object, mode: str) -> None:
        path = self.inside(target)
        if path is not None:
            self.opens.append((how, path, mode))

    def note_os(self, target: object, flags: int) -> None:
        path = self.inside(target)
        if path is not None:
            self.os_opens.append((path, flags))


def is_read_mode(mode: str) -> bool:
    return "r" in mode and set(mode) <= set("rbt")


def record_opens(monkeypatch: pytest.MonkeyPatch, root: Path) -> OpenLog:
    """Wrap builtins.open, io.open, Path.open and os.open to record opens inside `root`."""
    log = OpenLog(root.resolve())

    def wrap_open(how: str, real: Callable[..., Any]) -> Callable[..., Any]:
        def recording_open(file: OpenArg, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
            log.note(how, file, mode)
            return real(file, mode, *args, **kwargs)

        return recording_open

    real_path_open = pathlib.Path.open

    def recording_path_open(self: Path, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        log.note("Path.open", self, mode)
        return real_path_open(self, mode, *args, **kwargs)

    real_os_open = os.open

    def recording_os_open(path: PathArg, flags: int, *args: Any, **kwargs: Any) -> int:
        log.note_os(path, flags)
        return real_os_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", wrap_open("open", builtins.open))
    monkeypatch.setattr(io, "open", wrap_open("io.open", io.open))
    monkeypatch.setattr(pathlib.Path, "open", recording_path_open)
    monkeypatch.setattr(os, "open", recording_os_open)
    return log


@contextlib.contextmanager
def recorded_opens(root: Path) -> Iterator[OpenLog]:
    with pytest.MonkeyPatch.context() as monkeypatch:
        yield record_opens(monkeypatch, root)


def test_recorder_sees_every_kind_of_open(tmp_path: Path) -> None:
    """The wrappers catch each way of opening, so the test below cannot pass vacuously."""
    target = tmp_path / "probe.bin"
    target.write_bytes(b"x")
    with recorded_opens(tmp_path) as log:
        with open(target, "rb"):
            pass
        with io.open(target, "rb"):  # noqa: UP020 - io.open is patched on its own
            pass
        with target.open("ab"):
            pass
        os.close(os.open(target, os.O_RDWR))
    hows = {how for how, _, _ in log.opens}
    assert {"open", "io.open", "Path.open"} <= hows
    assert any(not is_read_mode(mode) for _, _, mode in log.opens)
    assert [flags & os.O_RDWR for _, flags in log.os_opens] == [os.O_RDWR]


def test_every_open_inside_the_tree_is_a_read(tree: Path) -> None:
    files = [path.resolve() for path in tree.rglob("*") if path.is_file()]
    with recorded_opens(tree) as log:
        result = exercise(tree)

    assert len(log.opens) > len(files), "the recorder did not see the opens"
    opened = {path for _, path, _ in log.opens} | {path for path, _ in log.os_opens}
    indexed = {
        path.resolve() for study in result.studies for info in study.series for path in info.files
    }
    assert indexed <= opened, "files were indexed without an open the recorder saw"
    writes = [f"{how} {path} {mode!r}" for how, path, mode in log.opens if not is_read_mode(mode)]
    assert not writes, "\n".join(writes)
    os_writes = [
        f"os.open {path} {flags:#o}" for path, flags in log.os_opens if flags & WRITE_FLAGS
    ]
    assert not os_writes, "\n".join(os_writes)

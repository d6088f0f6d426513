"""Shared test setup: headless Qt, a private SPINEVIEW_HOME, the shared DICOM corpus."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# Qt aborts the process without a display unless told to render offscreen.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("SPINEVIEW_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def qapp(qapp_args: list[str]) -> object:
    """pytest-qt's application, made by the app's own factory: the tests run with the cyclic
    garbage collector pinned to the GUI thread, as the app does."""
    from spineview.ui.application import create_application

    return create_application(qapp_args)


@pytest.fixture(autouse=True)
def garbage_collected_on_the_gui_thread() -> Iterator[None]:
    """Once Qt is up: collect what is due after each test (there is no event loop between
    tests to run the collector's timer), and fail a test during which a collection started on
    another thread (that is how Qt objects get destroyed off the GUI thread)."""
    collector = _gui_collector()
    before = len(collector.foreign) if collector else 0
    yield
    collector = collector or _gui_collector()
    if collector is None:
        return
    collector.collect_due()
    foreign = collector.foreign[before:]
    if foreign:
        pytest.fail(f"garbage collection ran off the GUI thread: {foreign}")


def _gui_collector():  # type: ignore[no-untyped-def]
    if "spineview.ui.garbage_collection" not in sys.modules:
        return None  # Qt was never started in this session
    from spineview.ui.garbage_collection import GuiGarbageCollector

    return GuiGarbageCollector.installed()


@pytest.fixture(autouse=True)
def private_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own SPINEVIEW_HOME, so no test touches a real user's files."""
    home = tmp_path_factory.mktemp("spineview-home")
    monkeypatch.setenv("SPINEVIEW_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data: the real DICOM corpus (CI has it beside the clone)."""
    if not (SHARED_DATA / "MANIFEST.tsv").is_file():
        pytest.skip(f"shared DICOM corpus not found at {SHARED_DATA}")
    return SHARED_DATA


def manifest_rows() -> list[dict[str, str]]:
    """MANIFEST.tsv as dicts (empty when the corpus is absent)."""
    manifest = SHARED_DATA / "MANIFEST.tsv"
    if not manifest.is_file():
        return []
    lines = manifest.read_text(encoding="utf-8").splitlines()
    header = lines[0].split("\t")
    return [dict(zip(header, line.split("\t"), strict=False)) for line in lines[1:] if line]


@pytest.fixture
def chdir_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.chdir(tmp_path)
    yield tmp_path

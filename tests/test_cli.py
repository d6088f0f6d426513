"""The headless command line: `spineview info` and `spineview bench scan`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from spineview.cli import run
from spineview.dicom.write import SeriesSpec, write_demo_study, write_series


def test_info_table_on_the_demo_study(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["info", "--demo"]) == 0
    out = capsys.readouterr().out
    assert "LUMBAR SPINE (synthetic)" in out
    for label in ("Sagittal T1", "Sagittal T2/STIR", "Axial T2"):
        assert label in out
    assert "in 1 studies, 0 problems" in out
    assert "SYNTHETIC^" not in out  # the table shows no patient names


def test_info_json_describes_every_series(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_demo_study(tmp_path / "study")
    (tmp_path / "study" / "readme.txt").write_text("not an image")
    assert run(["info", str(tmp_path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["files_seen"] == 43 and report["non_dicom_skipped"] == 1
    (study,) = report["studies"]
    types = [series["type"] for series in study["series"]]
    assert types == ["Sagittal T1", "Sagittal T2/STIR", "Axial T2"]
    first = study["series"][0]
    assert first["slices"] == 15 and first["matrix"] == [128, 128]
    assert first["pixel_spacing_mm"] == [2.0, 2.0]
    assert first["transfer_syntaxes"] == ["Explicit VR Little Endian"]
    assert first["order_uncertain"] is False and "orientation" in first["type_reason"]


def test_info_lists_problems_with_file_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = write_series(tmp_path, SeriesSpec(n_slices=3))
    paths[0].write_bytes(paths[0].read_bytes()[:-50])
    (tmp_path / "empty.dcm").write_bytes(b"")
    assert run(["info", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"{paths[0]}: truncated pixel data" in out
    assert f"{tmp_path / 'empty.dcm'}: empty file (0 bytes)" in out
    assert "2 problems" in out


def test_info_on_a_folder_without_images(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for index in range(3):
        (tmp_path / f"note{index}.txt").write_text("hello")
    assert run(["info", str(tmp_path)]) == 2
    captured = capsys.readouterr()
    assert f"no DICOM images found in {tmp_path}" in captured.err
    assert "3 non-DICOM files skipped" in captured.out


def test_info_on_a_missing_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nowhere"
    assert run(["info", str(missing)]) == 2
    assert f"{missing}: no such file or folder" in capsys.readouterr().out


def test_info_on_the_corpus(shared_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["info", str(shared_data)]) == 0
    out = capsys.readouterr().out
    assert "t1_fl2d_sag" in out and "Sagittal T1" in out
    assert "not an image: RT Plan" in out
    assert "Traceback" not in out


def test_bench_scan_prints_figures(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["bench", "scan", "--files", "30", "--matrix", "32", "--repeats", "1"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["files"] == 30 and report["series"] == 1
    for key in ("bare_dcmread_files_per_s", "header_index_files_per_s", "speedup_vs_bare"):
        assert report[key] > 0
    assert report["first_slice_decoded_seconds"] >= report["index_seconds"]


def test_console_entry_point_runs_without_qt_or_tensorflow() -> None:
    code = (
        "import sys; from spineview.__main__ import main; rc = main(['info', '--demo']);"
        "assert 'tensorflow' not in sys.modules and 'PySide6' not in sys.modules; sys.exit(rc)"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert completed.returncode == 0, completed.stderr
    assert "Sagittal T2/STIR" in completed.stdout


def test_models_lists_the_bundled_demo_models(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["models"]) == 0
    out = capsys.readouterr().out
    assert "cnn-demo" in out and "bundled" in out
    assert "demo model, trained on synthetic data, not for clinical use" in out

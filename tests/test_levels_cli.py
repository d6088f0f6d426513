"""`spineview levels` with the bundled level model on fresh synthetic studies."""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from spineview.cli import EXIT_ERROR, EXIT_OK, run
from spineview.core.levels import LEVELS
from spineview.data.rsna import read_rsna_dataset
from spineview.data.rsna_format import SAGITTAL_T2_STIR
from spineview.data.rsna_levels import LEVEL_CONDITION
from spineview.data.synth import SynthOptions, synthesize
from spineview.dicom.header import read_header
from spineview.locate_tree import CSV_COLUMNS

pytestmark = pytest.mark.tf


@pytest.fixture(scope="module")
def studies(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("levels-cli") / "data"
    synthesize(root, SynthOptions(studies=3, seed=404, size=192, fov_shift_mm=30), workers=1)
    return root


@pytest.fixture(scope="module")
def levels_csv(studies: Path, tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, str]]:
    out = tmp_path_factory.mktemp("levels-out") / "levels.csv"
    assert run(["levels", str(studies / "train_images"), "--out", str(out)]) == EXIT_OK
    with out.open(newline="") as handle:
        reader = csv.DictReader(handle)
        assert tuple(reader.fieldnames or ()) == CSV_COLUMNS
        return list(reader)


def test_each_sagittal_t2_series_gets_its_five_levels_where_they_are_marked(
    studies: Path, levels_csv: list[dict[str, str]]
) -> None:
    dataset = read_rsna_dataset(studies)
    marks = [p for p in dataset.coordinates if p.condition == LEVEL_CONDITION]
    assert marks
    by_key = {(r["study_id"], r["series_id"], r["level"]): r for r in levels_csv}
    for mark in marks:
        row = by_key[(mark.study_id, mark.series_id, mark.level)]  # RSNA folder names as ids
        series = dataset.series(mark.study_id, mark.series_id)
        assert series is not None and series.description == SAGITTAL_T2_STIR
        spacing = read_header(series.file(mark.instance_number)).pixel_spacing
        assert spacing is not None
        # parallel sagittal slices: the same pixel on a neighbouring instance is the same place
        error_mm = np.hypot(
            (float(row["x"]) - mark.x) * spacing[1], (float(row["y"]) - mark.y) * spacing[0]
        )
        assert error_mm < 5.0, (mark.study_id, mark.level, error_mm)
        assert 0.0 < float(row["confidence"]) < 1.0
        assert int(row["instance_number"]) in series.instance_numbers
    for study in {mark.study_id for mark in marks}:
        rows = [r for r in levels_csv if r["study_id"] == study and r["series_id"] in
                {m.series_id for m in marks if m.study_id == study}]  # fmt: skip
        assert [r["level"] for r in rows] == list(LEVELS)
        heights = [float(r["z_mm"]) for r in rows]
        assert heights == sorted(heights, reverse=True)  # head to feet


def test_json_gives_every_series_reason(studies: Path, tmp_path: Path) -> None:
    out = tmp_path / "levels.json"
    assert run(["levels", str(studies / "train_images"), "--out", str(out)]) == EXIT_OK
    report = json.loads(out.read_text())
    assert report["model"] == "levels-demo" and report["levels"] == list(LEVELS)
    assert all(entry["reason"] for entry in report["series"])
    found = [entry for entry in report["series"] if entry["found"]]
    assert found and all(len(entry["levels"]) == 5 for entry in found)


def test_a_slice_classifier_is_not_taken_for_a_level_model(
    studies: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "levels.csv"
    code = run(["levels", str(studies / "train_images"), "--model", "cnn-demo", "--out", str(out)])
    assert code == EXIT_ERROR and not out.exists()
    assert "is a slice classifier, not a level model" in capsys.readouterr().err


def test_training_levels_refuses_options_only_a_classifier_reads(
    studies: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run(["train", str(studies), "--task", "levels", "--name", "x", "--arch", "resnet50"])
    assert code == EXIT_ERROR
    assert "--arch only apply to --task slices" in capsys.readouterr().err


def test_a_field_of_view_without_the_sacrum_or_a_single_slice_gets_no_levels(
    studies: Path,
) -> None:
    """Item 7: no guessed labels where the model cannot know, always with the reason."""
    from spineview.dicom.load import load_series
    from spineview.dicom.scan import scan_paths
    from spineview.ml.level_inference import LevelLocator
    from spineview.models.catalogue import find_model

    locator = LevelLocator.load(find_model("levels-demo").path)
    study = scan_paths([studies / "train_images"]).studies[0]
    info = next(s for s in study.series if s.series_type.label == SAGITTAL_T2_STIR)
    series = load_series(info)
    assert locator.locate(series, study_uid=study.study_uid).levels is not None
    rows = series.volume.shape[1]
    upper_half = replace(series, volume=np.ascontiguousarray(series.volume[:, : rows // 2]))
    cropped = locator.locate(upper_half, study_uid=study.study_uid)
    assert cropped.levels is None and cropped.found == ()
    assert cropped.reason.startswith("No disc levels: ")
    single = replace(
        series, volume=series.volume[:1], positions=series.positions[:1],
        slice_tags=series.slice_tags[:1], source_files=series.source_files[:1],
        overlays=series.overlays[:1], instance_numbers=series.instance_numbers[:1],
    )  # fmt: skip
    one = locator.locate(single, study_uid=study.study_uid)
    assert one.levels is None and "single slice" in one.reason

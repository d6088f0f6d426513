"""Training, saving and using a grading model for real (a few epochs on tiny studies)."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from spineview.data.grade_examples import study_series
from spineview.data.rsna import read_rsna_dataset
from spineview.data.rsna_format import AXIAL_T2, IMAGES_FOLDER, SAGITTAL_T1, SAGITTAL_T2_STIR
from spineview.data.rsna_levels import study_level_maps
from spineview.errors import ModelLoadError, TrainingCancelled
from spineview.ml.grade_training import TEMPERATURES, GradeTrainingConfig, train_grades
from spineview.models.catalogue import read_manifest

pytestmark = pytest.mark.tf


@pytest.fixture(scope="module")
def trained(tiny_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("grades") / "tiny-grades"
    result = train_grades(GradeTrainingConfig(tiny_dataset, "tiny-grades", folder, epochs=2))
    assert result.info.path == folder and len(result.history) == 2
    return folder


def test_the_saved_model_is_scored_against_the_prior(trained: Path) -> None:
    manifest = read_manifest(trained)
    assert (manifest.task, manifest.architecture) == ("grades", "grades")
    assert manifest.class_names == ["Normal/Mild", "Moderate", "Severe"]
    assert manifest.temperature in TEMPERATURES
    test = manifest.metrics["test"]
    assert {"score", "losses", "any_severe_spinal", "prior", "rows_scored"} <= set(test)
    assert test["prior"]["score"] > 0 and test["studies"] >= 1
    assert np.shape(manifest.training["prior"]) == (25, 3)
    assert manifest.usability.reason  # judged, with its reason, whatever two epochs gave


def test_a_study_is_graded_with_its_evidence(trained: Path, tiny_dataset: Path) -> None:
    from spineview.ml.grade_inference import Grader

    grader = Grader.load(trained)
    dataset = read_rsna_dataset(tiny_dataset)
    maps, _problems = study_level_maps(dataset)
    study_id = sorted(maps)[0]
    series = study_series(tiny_dataset / IMAGES_FOLDER / study_id)
    rows, grades = grader.grade_study("1.2.3", maps[study_id], series)
    assert rows.shape == (25, 3) and np.allclose(rows.sum(axis=1), 1.0)
    assert grades.decision == "accepted" and len(grades.findings) >= 15
    keys = {s.key for group in series.values() for s in group}
    for finding in grades.findings:
        assert finding.series_key in keys and finding.crop_box is not None
        assert finding.instance_number is not None
    assert {f.condition for f in grades.findings} >= {"Spinal Canal Stenosis"}
    assert set(series) <= {SAGITTAL_T1, SAGITTAL_T2_STIR, AXIAL_T2}
    prior_rows, declined = grader.grade_study("1.2.3", None, series, levels_reason="no levels")
    assert declined.decision == "declined" and declined.findings == ()
    assert np.allclose(prior_rows, grader.prior)


def test_models_of_other_tasks_are_refused(trained: Path) -> None:
    from spineview.ml.inference import Classifier
    from spineview.ml.level_inference import LevelLocator

    with pytest.raises(ModelLoadError, match="is a grading model, not a slice classifier"):
        Classifier.load(trained)
    with pytest.raises(ModelLoadError, match="is a grading model, not a level model"):
        LevelLocator.load(trained)


def test_cancelled_grading_training_saves_nothing(tiny_dataset: Path, tmp_path: Path) -> None:
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(TrainingCancelled):
        train_grades(
            GradeTrainingConfig(tiny_dataset, "x", tmp_path / "x", epochs=1), cancel=cancel
        )
    assert not (tmp_path / "x").exists()


def test_crops_unlike_the_training_ones_are_not_graded_as_if_known(
    trained: Path, tiny_dataset: Path
) -> None:
    from dataclasses import replace

    from spineview.ml.grade_inference import Grader

    grader = Grader.load(trained)
    assert grader.check is not None  # fitted on the training crops
    dataset = read_rsna_dataset(tiny_dataset)
    maps, _problems = study_level_maps(dataset)
    study_id = sorted(maps)[0]
    series = study_series(tiny_dataset / IMAGES_FOLDER / study_id)
    rng = np.random.default_rng(0)
    noise = {
        kind: [replace(s, volume=rng.random(s.volume.shape).astype(np.float32) ** 8) for s in group]
        for kind, group in series.items()
    }
    rows, grades = grader.grade_study("1.2.3", maps[study_id], noise)
    assert grades.decision in ("flagged", "declined"), grades.reason
    assert "far from anything tiny-grades was trained on" in grades.reason
    if grades.decision == "declined":
        assert grades.findings == () and np.allclose(rows, grader.prior)


def test_training_crops_can_be_placed_by_the_level_model(
    tiny_dataset: Path, tmp_path: Path
) -> None:
    from spineview.models.catalogue import find_model

    levels = find_model("levels-demo").path
    config = GradeTrainingConfig(
        tiny_dataset, "placed", tmp_path / "placed", epochs=1, levels_model=levels
    )
    result = train_grades(config)
    assert read_manifest(result.info.path).training["crops_placed_by"] == str(levels)
    # the tiny studies are 64 px: where the level model declines one, its marks are used
    assert all("marks used" in p for p in result.problems if "level model" in p)

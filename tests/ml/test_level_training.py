"""Training, saving and reading a level model for real (a couple of epochs on tiny studies)."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from spineview.core.levels import LEVELS
from spineview.data.rsna import read_rsna_dataset
from spineview.dicom.load import load_series
from spineview.dicom.scan import scan_paths
from spineview.errors import ModelLoadError, TrainingCancelled
from spineview.ml.level_training import LevelTrainingConfig, augment_batch, train_levels
from spineview.models.catalogue import find_model, read_manifest

pytestmark = pytest.mark.tf


@pytest.fixture(scope="module")
def trained(tiny_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("levels") / "tiny-levels"
    config = LevelTrainingConfig(tiny_dataset, "tiny-levels", folder, epochs=2, batch_size=8)
    result = train_levels(config)
    assert result.info.path == folder and len(result.history) == 2
    return folder


def test_the_saved_model_says_what_it_is_and_how_well_it_places_levels(trained: Path) -> None:
    manifest = read_manifest(trained)
    assert (manifest.task, manifest.architecture, manifest.output) == (
        "levels",
        "levels",
        "heatmaps",
    )
    assert manifest.class_names == list(LEVELS)
    test = manifest.metrics["test"]
    assert test["series"] >= 1 and test["levels"] >= 1
    assert {"mean_mm", "p90_mm", "within", "within_ci", "order_accuracy"} <= set(test)
    assert set(test["per_level"]) == set(LEVELS)
    assert "mean_position_baseline" in test
    assert [row["epoch"] for row in manifest.training["history"]] == [1, 2]
    # two epochs on 14 tiny studies place nothing within 5 mm reliably: the gate says so
    assert not manifest.usability.usable and manifest.usability.reason


def test_a_sagittal_series_gets_levels_or_the_reason_and_never_a_certain_one(
    trained: Path, tiny_dataset: Path
) -> None:
    from spineview.ml.level_inference import LevelLocator

    locator = LevelLocator.load(trained)
    scan = scan_paths([tiny_dataset / "train_images"])
    study = scan.studies[0]
    sagittal = next(s for s in study.series if s.series_type.label == "Sagittal T2/STIR")
    axial = next(s for s in study.series if s.series_type.label == "Axial T2")
    result = locator.locate(
        load_series(sagittal), study_uid=study.study_uid, source_key=sagittal.key
    )
    assert result.reason and result.model_name == "tiny-levels"
    if result.levels is not None:
        assert all(0 < found.confidence < 1 for found in result.found)
    refused = locator.locate(load_series(axial), study_uid=study.study_uid)
    assert refused.levels is None and "not sagittal" in refused.reason


def test_a_level_model_and_a_slice_classifier_cannot_be_mistaken(trained: Path) -> None:
    from spineview.ml.inference import Classifier
    from spineview.ml.level_inference import LevelLocator

    with pytest.raises(ModelLoadError, match="is a level model, not a slice classifier"):
        Classifier.load(trained)
    with pytest.raises(ModelLoadError, match="is a slice classifier, not a level model"):
        LevelLocator.load(find_model("cnn-demo").path)


def test_cancelled_training_saves_nothing(tiny_dataset: Path, tmp_path: Path) -> None:
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(TrainingCancelled):
        train_levels(
            LevelTrainingConfig(tiny_dataset, "x", tmp_path / "x", epochs=1), cancel=cancel
        )
    assert not (tmp_path / "x").exists()


def test_augmentation_moves_the_points_with_the_image(tiny_dataset: Path) -> None:
    """A bright dot drawn at each target lands where the moved targets say."""
    size = 128
    images = np.zeros((6, size, size, 3), np.float32)
    targets = np.tile(
        np.array([[0.3, 0.2], [0.4, 0.35], [0.5, 0.5], [0.55, 0.65], [0.6, 0.8]]), (6, 1, 1)
    )
    for index in range(6):
        for x, y in targets[index]:
            row, column = int(y * size), int(x * size)
            images[index, row - 1 : row + 2, column - 1 : column + 2, :] = 1.0
    moved, new_targets, kept = augment_batch(
        images, targets.astype(np.float32), np.ones((6, 5), bool), np.random.default_rng(3)
    )
    assert not np.allclose(new_targets, targets)
    for index in range(6):
        for level in np.flatnonzero(kept[index]):
            x, y = new_targets[index, level]
            row, column = round(y * size - 0.5), round(x * size - 0.5)
            patch = moved[index, max(row - 2, 0) : row + 3, max(column - 2, 0) : column + 3, 1]
            assert patch.max() > 0.3, (index, level)
    assert read_rsna_dataset(tiny_dataset).coordinates  # the fixture is an RSNA tree

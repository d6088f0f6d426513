"""Training end to end on tiny generated datasets (few steps), and the refusals before it."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from spineview.data import examples as examples_module
from spineview.data.examples import collect_examples
from spineview.dicom.write import SeriesSpec, write_series
from spineview.errors import DatasetError, TrainingCancelled, TrainingError
from spineview.models.training_plan import AUGMENTATIONS, plan_training

pytestmark = pytest.mark.tf


def _config(dataset: Path, name: str = "tiny", **changes: object) -> object:
    from spineview.ml.train import TrainConfig

    settings: dict[str, object] = {"epochs": 1, "batch_size": 16, "max_examples": 160, "seed": 3}
    settings.update(changes)
    return TrainConfig(dataset=dataset, name=name, **settings)  # type: ignore[arg-type]


def test_trains_evaluates_and_saves(tiny_dataset: Path, tmp_path: Path) -> None:
    from spineview.ml.store import load_model
    from spineview.ml.train import TrainProgress, predict_probabilities, prepare, train_model

    stages: list[str] = []

    def progress(update: TrainProgress) -> None:
        stages.append(update.stage)

    result = train_model(_config(tiny_dataset), models_dir=tmp_path, progress=progress)  # type: ignore[arg-type]
    assert result.model_folder == tmp_path / "tiny"
    for stage in ("reading", "training", "epoch", "evaluating", "saving"):
        assert stage in stages
    report = result.model_folder / "report"
    for name in ("metrics.json", "training_curves.png", "reliability.png", "confusion.png",
                 "misclassified.png"):  # fmt: skip
        assert (report / name).is_file(), name
    model, manifest = load_model(result.model_folder)
    assert manifest.architecture == "cnn" and manifest.weights_storage == "float16"
    assert manifest.metrics["calibrated"]["n"] == result.metrics["calibrated"]["n"] > 0
    assert manifest.temperature > 0 and "rule" in manifest.training
    assert manifest.training["from_scratch"] is True
    assert manifest.training["synthetic_source"]["options"]["seed"] == 21  # rebuildable
    assert manifest.training["parent"] is None and manifest.training["recipe"] == "default"
    assert manifest.training["augmentation"] == "none"
    assert manifest.intensity_scaling == "percentile" and "percentile" in manifest.preprocessing
    assert manifest.training["augmentation_settings"] == AUGMENTATIONS["none"]
    from spineview.ml.train import checkpoint_path
    from spineview.models.catalogue import load_distribution_check

    assert checkpoint_path("tiny").is_file()  # best weights kept during the run
    check = load_distribution_check(result.model_folder, manifest)  # fitted on this training
    assert check is not None and check.layers == ("pool1", "pool2", "pool3")
    assert check.validation_slices == manifest.training["split"]["validation"]
    assert manifest.distribution_check["threshold"] == pytest.approx(check.threshold, abs=1e-4)
    images, _, _, split = prepare(_config(tiny_dataset))  # type: ignore[arg-type]
    test = images[split.indices("test")]
    probabilities = predict_probabilities(model, test, 1)
    assert probabilities.shape == (len(test),)
    assert np.all((probabilities >= 0) & (probabilities <= 1))


def test_same_seed_same_training(tiny_dataset: Path, tmp_path: Path) -> None:
    from spineview.ml.train import train_model

    first = train_model(_config(tiny_dataset, "a", max_examples=120), models_dir=tmp_path)  # type: ignore[arg-type]
    second = train_model(_config(tiny_dataset, "b", max_examples=120), models_dir=tmp_path)  # type: ignore[arg-type]
    assert first.history["loss"] == pytest.approx(second.history["loss"], rel=1e-5)


def test_cancel_mid_epoch_keeps_the_previous_model(tiny_dataset: Path, tmp_path: Path) -> None:
    from spineview.errors import TrainingCancelled
    from spineview.ml.store import load_model
    from spineview.ml.train import TrainProgress, train_model
    from spineview.models.catalogue import file_sha256

    first = train_model(_config(tiny_dataset, max_examples=120), models_dir=tmp_path)  # type: ignore[arg-type]
    weights = first.model_folder / "model.weights.h5"
    before = file_sha256(weights)
    cancel = threading.Event()

    def cancel_on_second_batch(update: TrainProgress) -> None:
        if update.stage == "training" and update.done >= 2:
            cancel.set()

    with pytest.raises(TrainingCancelled):
        train_model(_config(tiny_dataset, epochs=3), models_dir=tmp_path,  # type: ignore[arg-type]
                    progress=cancel_on_second_batch, cancel=cancel)  # fmt: skip
    assert file_sha256(weights) == before
    load_model(first.model_folder)
    assert [p.name for p in tmp_path.iterdir()] == ["tiny"]  # no half-written folders


def test_refuses_one_class(tmp_path: Path) -> None:
    for index in range(4):
        write_series(tmp_path / "healthy" / f"p{index}", SeriesSpec(n_slices=3), seed=index)
    (tmp_path / "degenerative").mkdir()
    with pytest.raises(DatasetError):
        collect_examples(tmp_path)


def test_refuses_a_split_that_would_be_empty(tmp_path: Path) -> None:
    from spineview.ml import train

    for label in ("healthy", "degenerative"):
        write_series(tmp_path / label / "only-patient", SeriesSpec(n_slices=4))

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("training must not start")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(train, "_fit", never)
        with pytest.raises(DatasetError):
            train.train_model(_config(tmp_path, max_examples=None), models_dir=tmp_path / "m")  # type: ignore[arg-type]


def test_refuses_a_dataset_without_usable_slices(tmp_path: Path) -> None:
    for label in ("healthy", "degenerative"):
        folder = tmp_path / label / "p1"
        folder.mkdir(parents=True)
        (folder / "x.dcm").write_bytes(b"DICM" * 10)
    with pytest.raises(DatasetError):
        from spineview.data.examples import check_trainable

        check_trainable(collect_examples(tmp_path))


def test_custom_augmentation_reaches_the_manifest(tiny_dataset: Path, tmp_path: Path) -> None:
    from spineview.ml.store import load_model
    from spineview.ml.train import train_model

    custom = {"rotation": 5, "shift": 0.1, "flip": 0}
    config = _config(tiny_dataset, "custom", max_examples=120, augmentation_settings=custom)
    result = train_model(config, models_dir=tmp_path)  # type: ignore[arg-type]
    _, manifest = load_model(result.model_folder)
    assert manifest.training["augmentation"] == "custom"
    assert manifest.training["augmentation_settings"] == {
        "rotation": 5.0, "shift": 0.1, "shear": 0.0, "zoom": 0.0, "flip": 0.0
    }  # fmt: skip


def test_make_dataset_applies_the_custom_settings(tmp_path: Path) -> None:
    from spineview.ml.augment import affine_augmenter
    from spineview.ml.train import TrainConfig, make_dataset

    rng = np.random.default_rng(0)
    image = rng.random((32, 32)).astype(np.float16)
    images = np.repeat(image[None], 8, axis=0)  # identical slices: shuffling changes nothing
    labels = np.zeros(8, dtype=np.int64)

    def first_batch(**config: object) -> np.ndarray:
        settings = TrainConfig(dataset=tmp_path, name="x", batch_size=8, **config)  # type: ignore[arg-type]
        dataset = make_dataset(images, labels, range(8), config=settings, shuffle=True,
                               channels=1, softmax=False)  # fmt: skip
        batch, _ = next(iter(dataset))
        return np.asarray(batch)[..., 0]

    expected = np.repeat(image[None].astype(np.float32), 8, axis=0)
    off = {"rotation": 0, "shift": 0, "shear": 0, "zoom": 0, "flip": 0}
    assert np.array_equal(first_batch(augmentation="reference", augmentation_settings=off),
                          expected)  # fmt: skip
    shifted = first_batch(augmentation="none", augmentation_settings={"shift": 0.5})
    assert not np.allclose(shifted, expected)  # the custom settings win over the preset
    widest = {"rotation": 180.0, "shift": 1.0, "shear": 1.0, "zoom": 1.0, "flip": 1.0}
    augmented = np.asarray(affine_augmenter(widest, seed=0)(expected[..., None], 0))
    assert augmented.shape == (8, 32, 32, 1) and np.all(np.isfinite(augmented))


def test_cancel_while_reading_raises_training_cancelled(tiny_dataset: Path, tmp_path: Path) -> None:
    from spineview.ml.train import TrainProgress, train_model

    cancel = threading.Event()
    stages: list[str] = []

    def cancel_while_reading(update: TrainProgress) -> None:
        stages.append(update.stage)
        if update.stage == "reading":
            cancel.set()

    with pytest.raises(TrainingCancelled, match="cancelled while reading the slices"):
        train_model(_config(tiny_dataset), models_dir=tmp_path,  # type: ignore[arg-type]
                    progress=cancel_while_reading, cancel=cancel)  # fmt: skip
    assert stages == ["reading"]  # stopped at the first slice
    assert list(tmp_path.iterdir()) == []


def test_a_cancel_before_start_raises_training_cancelled(
    tiny_dataset: Path, tmp_path: Path
) -> None:
    from spineview.ml.train import train_model

    cancel = threading.Event()
    cancel.set()
    with pytest.raises(TrainingCancelled):
        train_model(_config(tiny_dataset), models_dir=tmp_path, cancel=cancel)  # type: ignore[arg-type]


def test_prepare_refuses_what_the_plan_refuses_before_decoding(
    tiny_dataset: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from spineview.ml import train

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("nothing may be decoded")

    with monkeypatch.context() as patch:
        patch.setattr(train, "decode_examples", never)
        config = _config(tiny_dataset, batch_size=1000)
        with pytest.raises(TrainingError) as refused:
            train.prepare(config)  # type: ignore[arg-type]
        assert [str(refused.value)] == plan_training(config).errors  # type: ignore[arg-type]
        patch.setattr(examples_module, "available_memory", lambda: 1024)
        config = _config(tiny_dataset)
        with pytest.raises(TrainingError, match="GiB of cache") as refused:
            train.prepare(config)  # type: ignore[arg-type]
        assert [str(refused.value)] == plan_training(config).errors  # type: ignore[arg-type]


def test_prepare_uses_the_planned_examples_and_split(tiny_dataset: Path) -> None:
    from spineview.ml.train import prepare

    config = _config(tiny_dataset)
    plan = plan_training(config)  # type: ignore[arg-type]
    images, labels, examples, split = prepare(config)  # type: ignore[arg-type]
    assert plan.can_train and len(images) == plan.examples == len(examples.examples)
    assert plan.cache_bytes == images.nbytes
    for name, counts in plan.split_counts.items():
        part = labels[split.indices(name)]
        assert [int((part == i).sum()) for i in range(2)] == list(counts.values())


def test_resnet50_trains_with_recomputed_batch_norm_statistics(
    tiny_dataset: Path, tmp_path: Path
) -> None:
    """One short epoch of the from-scratch ResNet50: validation comes from the recalibrated
    statistics (in the history), and the saved model's BatchNorm statistics are not the
    initial zeros/ones."""
    from spineview.ml.batch_norm import batch_norm_layers
    from spineview.ml.store import load_model
    from spineview.ml.train import train_model

    config = _config(tiny_dataset, "tiny-rn", architecture="resnet50", max_examples=120)
    result = train_model(config, models_dir=tmp_path)  # type: ignore[arg-type]
    assert len(result.history["val_loss"]) == 1 and np.isfinite(result.history["val_loss"][0])
    assert 0.0 <= result.history["val_accuracy"][0] <= 1.0
    model, manifest = load_model(result.model_folder)
    assert manifest.architecture == "resnet50" and manifest.training["from_scratch"] is True
    first = batch_norm_layers(model)[0]
    assert np.abs(np.asarray(first.moving_mean)).max() > 0

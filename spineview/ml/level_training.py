"""Training the disc level localiser on an RSNA-layout dataset.

The examples (`data.level_examples`) are the marked sagittal T2/STIR series and (by default)
the same studies' sagittal T1 series with those marks projected onto them, each centred on its
midline and, for training, one instance to either side too (inference does not know the
midline). Studies are split whole into train / validation / test; every epoch draws a fresh
random affine (scale, rotation, shift: the points move with the image) and intensity change
for each training image; the weights with the smallest mean validation error are kept. The
test split is then read as inference reads a series (the centre among the three whose
answer is most concentrated) and measured in millimetres against the marks and against a
model that learnt nothing (each level at its training mean position).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from spineview.core.levels import LEVELS
from spineview.data.level_examples import LEVEL_INPUT_SIZE, LevelExample, level_examples
from spineview.data.rsna import read_rsna_dataset
from spineview.data.splits import grouped_split
from spineview.data.synth import synthetic_source
from spineview.errors import DatasetError, TrainingCancelled, TrainingError
from spineview.ml.level_inference import LevelLocator
from spineview.models.catalogue import Fitted, ModelInfo
from spineview.models.distribution_check import fit_distribution_check
from spineview.models.level_dataset_check import MIN_LEVEL_STUDIES as MIN_STUDIES
from spineview.models.level_metrics import in_marked_order, level_report, point_errors_mm
from spineview.models.manifest import ModelManifest

logger = logging.getLogger(__name__)

LevelProgress = Callable[[str, float], None]
"""(what is happening, fraction done 0-1)."""

SCALING = "percentile"
CENTRE_OFFSETS = (-1, 0, 1)


@dataclass(frozen=True)
class LevelTrainingConfig:
    dataset: Path
    name: str
    out: Path
    """The model folder to write (replaced atomically)."""
    epochs: int = 25
    batch_size: int = 16
    learning_rate: float = 2e-3
    seed: int = 0
    precision: str = "auto"
    demo: bool = False
    augment: bool = True
    with_t1: bool = True
    """Also learn from the sagittal T1 series, the T2 marks projected onto them."""


@dataclass
class LevelTrainResult:
    info: ModelInfo
    metrics: dict[str, Any]
    history: list[dict[str, float]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Arrays:
    images: np.ndarray
    targets: np.ndarray
    mask: np.ndarray
    shapes: np.ndarray
    spacings: np.ndarray

    @classmethod
    def of(cls, examples: list[LevelExample]) -> _Arrays:
        return cls(
            np.stack([e.image for e in examples]).astype(np.float32),
            np.stack([e.targets for e in examples]).astype(np.float32),
            np.stack([e.mask for e in examples]),
            np.array([e.shape for e in examples], dtype=np.float64),
            np.array([e.pixel_spacing or (1.0, 1.0) for e in examples], dtype=np.float64),
        )


def train_levels(
    config: LevelTrainingConfig,
    progress: LevelProgress | None = None,
    cancel: threading.Event | None = None,
) -> LevelTrainResult:
    """Train, test and save a level model as `config.out`; TrainingCancelled leaves any model
    that was there untouched, DatasetError says what the dataset lacks."""
    started = time.perf_counter()
    report = progress or (lambda _what, _fraction: None)
    report("Reading the dataset", 0.0)
    dataset = read_rsna_dataset(config.dataset)
    examples, problems = level_examples(
        dataset,
        size=LEVEL_INPUT_SIZE,
        scaling=SCALING,
        centre_offsets=CENTRE_OFFSETS,
        with_t1=config.with_t1,
    )
    examples = [e for e in examples if e.pixel_spacing is not None and e.mask.any()]
    studies = sorted({e.study_id for e in examples})
    if len(studies) < MIN_STUDIES:
        raise DatasetError(
            f"{config.dataset}: {len(studies)} studies have a sagittal T2/STIR series with "
            f"spinal-canal level marks and pixel spacing; at least {MIN_STUDIES} are needed to "
            "train and test a level model"
        )
    split = grouped_split([e.study_id for e in examples], [0] * len(examples), seed=config.seed)
    train = [examples[i] for i in split.train]
    validation_centres = [examples[i] for i in split.validation]
    validation = _midline_only(validation_centres)
    test = [examples[i] for i in split.test]
    _check_cancel(cancel)

    from spineview.ml.architectures import build_model
    from spineview.models.precision import resolve_precision

    precision = resolve_precision(config.precision)
    model = build_model("levels", seed=config.seed, precision=precision)
    locator = LevelLocator(model, ModelManifest.for_architecture("levels", config.name), None)
    arrays = _Arrays.of(train)
    validation_arrays = _Arrays.of(validation)
    history = _fit(locator, arrays, validation_arrays, config, report, cancel)
    trained_seconds = time.perf_counter() - started

    report("Testing", 0.95)
    mean_position = _masked_mean(arrays.targets, arrays.mask)
    test_figures = evaluate_examples(locator, test, mean_position)
    kinds = sorted({example.description for example in test})
    if len(kinds) > 1:
        test_figures["by_series_type"] = {
            kind: evaluate_examples(locator, [e for e in test if e.description == kind],
                                    mean_position)
            for kind in kinds
        }  # fmt: skip
    validation_figures = evaluate_examples(locator, validation, mean_position)
    metrics = {"test": test_figures, "validation": validation_figures}
    manifest = _manifest(config, precision, split, examples, train, history, trained_seconds)
    manifest.metrics = metrics
    fitted = Fitted()
    try:
        fitted = Fitted(
            distribution=fit_distribution_check(
                ("bottleneck",),
                locator.predict(arrays.images)[2],
                # every centre inference may choose: three times the images for the threshold
                locator.predict(_Arrays.of(validation_centres).images)[2],
            )
        )
    except ValueError as error:  # too few images to fit
        problems.append(f"no distribution check: {error}")
        manifest.training["distribution_check"] = f"not fitted: {error}"
    from spineview.ml.store import save_model

    _check_cancel(cancel)
    info = save_model(model, manifest, config.out, weights_storage="float32", fitted=fitted)
    report("Saved", 1.0)
    return LevelTrainResult(info, metrics, history, problems)


def _midline_only(examples: list[LevelExample]) -> list[LevelExample]:
    """One example per series: the one centred where most levels are marked."""
    by_series: dict[tuple[str, str], list[LevelExample]] = {}
    for example in examples:
        by_series.setdefault((example.study_id, example.series_id), []).append(example)
    return [group[len(group) // 2] for group in by_series.values()]


def _masked_mean(targets: np.ndarray, mask: np.ndarray) -> np.ndarray:
    weight = mask[..., None].astype(np.float64)
    return (targets * weight).sum(axis=0) / np.maximum(weight.sum(axis=0), 1.0)


def _check_cancel(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise TrainingCancelled("training cancelled; no model was saved")


def _fit(
    locator: LevelLocator,
    train: _Arrays,
    validation: _Arrays,
    config: LevelTrainingConfig,
    report: LevelProgress,
    cancel: threading.Event | None,
) -> list[dict[str, float]]:
    from spineview.ml.level_model import level_loss
    from spineview.ml.train_step import compiled_step

    model = locator.model
    steps_per_epoch = max(1, int(np.ceil(len(train.images) / config.batch_size)))
    step = compiled_step(
        model,
        lambda outputs, targets, mask: level_loss(targets, mask, outputs),
        learning_rate=config.learning_rate,
        total_steps=steps_per_epoch * config.epochs,
        final_fraction=0.02,
    )

    rng = np.random.default_rng(config.seed)
    history: list[dict[str, float]] = []
    best_error, best_weights = np.inf, model.get_weights()
    for epoch in range(config.epochs):
        begun = time.perf_counter()
        if config.augment:
            images, targets, mask = augment_batch(train.images, train.targets, train.mask, rng)
        else:
            images, targets, mask = train.images, train.targets, train.mask
        order = rng.permutation(len(images))
        losses = []
        for start in range(0, len(order), config.batch_size):
            _check_cancel(cancel)
            chosen = order[start : start + config.batch_size]
            losses.append(float(step(images[chosen], targets[chosen], mask[chosen])))
        seconds = time.perf_counter() - begun
        points = locator.predict(validation.images)[0]
        errors = point_errors_mm(
            points, validation.targets, validation.mask, validation.shapes, validation.spacings
        )
        error = float(np.nanmean(errors)) if np.isfinite(errors).any() else float("inf")
        if not np.isfinite(np.mean(losses)):
            raise TrainingError(
                f"training diverged at epoch {epoch + 1} (loss {np.mean(losses)}); try a lower "
                "learning rate"
            )
        history.append({
            "epoch": epoch + 1,
            "loss": round(float(np.mean(losses)), 4),
            "validation_mean_mm": round(error, 3),
            "images_per_second": round(len(images) / seconds, 1),
        })  # fmt: skip
        if error < best_error:
            best_error, best_weights = error, model.get_weights()
        report(
            f"Epoch {epoch + 1}/{config.epochs}: loss {np.mean(losses):.3f}, validation mean "
            f"error {error:.1f} mm",
            0.05 + 0.9 * (epoch + 1) / config.epochs,
        )
        logger.info("level training %s", history[-1])
    model.set_weights(best_weights)
    return history


def evaluate_examples(
    locator: LevelLocator, examples: list[LevelExample], mean_position: np.ndarray
) -> dict[str, Any]:
    """The `level_report` of `examples`, one answer per series: of its examples (centres), the
    one whose levels are found with the highest mean confidence, as inference chooses."""
    if not examples:
        return {"series": 0}
    arrays = _Arrays.of(examples)
    points, confidence, _features = locator.predict(arrays.images)
    best: dict[tuple[str, str], int] = {}
    for index, example in enumerate(examples):
        key = (example.study_id, example.series_id)
        if key not in best or confidence[index].mean() > confidence[best[key]].mean():
            best[key] = index
    chosen = np.array(sorted(best.values()))
    errors = point_errors_mm(
        points[chosen], arrays.targets[chosen], arrays.mask[chosen], arrays.shapes[chosen],
        arrays.spacings[chosen],
    )  # fmt: skip
    baseline = point_errors_mm(
        np.broadcast_to(mean_position, points[chosen].shape), arrays.targets[chosen],
        arrays.mask[chosen], arrays.shapes[chosen], arrays.spacings[chosen],
    )  # fmt: skip
    order = np.array([
        in_marked_order(points[i, :, 1], arrays.targets[i, :, 1], arrays.mask[i]) for i in chosen
    ])  # fmt: skip
    figures = level_report(errors, order, baseline)
    marked = arrays.mask[chosen]
    figures["mean_confidence"] = round(float(confidence[chosen][marked].mean()), 3)
    return figures


def augment_batch(
    images: np.ndarray, targets: np.ndarray, mask: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A random affine (scale 0.85-1.15, rotation ±8°, shift ±8 % of the side) and intensity
    change (gamma 0.7-1.4, noise) per image, the neighbouring slices swapped half the time;
    the targets move with the image, and a point pushed out of the image is unmarked."""
    from scipy.ndimage import affine_transform

    count, size = images.shape[0], images.shape[1]
    out = np.empty_like(images)
    moved = targets.copy()
    kept = mask.copy()
    centre = np.array([size / 2.0, size / 2.0])
    for index in range(count):
        scale = rng.uniform(0.85, 1.15)
        angle = np.radians(rng.uniform(-8.0, 8.0))
        shift = rng.uniform(-0.08, 0.08, size=2) * size
        forward = scale * np.array(
            [[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]
        )
        inverse = np.linalg.inv(forward)
        offset = centre - inverse @ (centre + shift)
        for channel in range(images.shape[-1]):
            out[index, :, :, channel] = affine_transform(
                images[index, :, :, channel], inverse, offset=offset, order=1, mode="constant"
            )
        # points as (row, column) pixels, moved as the image was
        points = np.stack([targets[index, :, 1], targets[index, :, 0]], axis=-1) * size
        new = (forward @ (points - centre).T).T + centre + shift
        moved[index, :, 0], moved[index, :, 1] = new[:, 1] / size, new[:, 0] / size
        inside = np.all((moved[index] > 0.0) & (moved[index] < 1.0), axis=-1)
        kept[index] &= inside
        gamma = rng.uniform(0.7, 1.4)
        noisy = np.clip(out[index], 0.0, 1.0) ** gamma
        noisy += rng.normal(0.0, rng.uniform(0.0, 0.03), size=noisy.shape)
        out[index] = np.clip(noisy, 0.0, 1.0)
        if rng.random() < 0.5:
            out[index] = out[index][:, :, ::-1]
    return out, moved, kept


def _manifest(
    config: LevelTrainingConfig,
    precision: str,
    split: Any,
    examples: list[LevelExample],
    train: list[LevelExample],
    history: list[dict[str, float]],
    seconds: float,
) -> ModelManifest:
    counts = {name: len({examples[i].study_id for i in split.indices(name)}) for name in
              ("train", "validation", "test")}  # fmt: skip
    best = min(history, key=lambda row: row["validation_mean_mm"]) if history else {}
    return ModelManifest.for_architecture(
        "levels",
        config.name,
        description=(
            "Finds the lumbar disc levels L1/L2…L5/S1 on a sagittal "
            + ("T2/STIR or T1 series." if config.with_t1 else "T2/STIR series.")
            + (" Trained on synthetic studies." if config.demo else "")
        ),
        class_names=list(LEVELS),
        preprocessing=(
            "the mid-sagittal slice and its two neighbours, each scaled between its 0.5th and "
            "99.5th percentile and resized to 128×128, as three channels"
        ),
        intensity_scaling=SCALING,
        precision=precision,
        demo=config.demo,
        training={
            "task": "levels",
            "dataset": str(config.dataset),
            "synthetic_source": synthetic_source(config.dataset),
            "studies": counts,
            "training_images": len(train),
            "centre_offsets": list(CENTRE_OFFSETS),
            "series_types": sorted({example.description for example in examples}),
            "epochs": config.epochs,
            "best_epoch": best.get("epoch"),
            "batch_size": config.batch_size,
            "learning_rate": config.learning_rate,
            "augmentation": (
                "scale 0.85-1.15, rotation ±8°, shift ±8 %, gamma 0.7-1.4, noise, "
                "neighbours swapped"
                if config.augment
                else "none"
            ),
            "seed": config.seed,
            "seconds": round(seconds, 1),
            "history": history,
        },
    )

"""Training a grading model on an RSNA-layout dataset.

Every study's 25 crops are cut once (`data.grade_examples`, placed from its marked disc levels)
and cached with a margin; each epoch reads them shifted by up to JITTER_PX pixels (6 mm) and one
slice, which covers where a level model puts a disc (levels-demo: 90th percentile 0.8 mm) with
room to spare. Studies are split as `spineview evaluate` splits them (`rsna_metric.study_split`),
so the test studies of a model are the ones evaluate scores by default. Batches are whole
studies and the loss is the competition's score (`ml.grade_model.metric_loss`); the epoch with
the best validation score is kept, then a temperature is fitted on the validation studies. The
test split is scored against the constant per-level prior fitted on the training split.
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

from spineview.data.grade_crops import CACHE_PX, CROP_MM, CROP_PX, SLICES, model_view
from spineview.data.grade_examples import StudyCrops, grade_examples
from spineview.data.rsna import read_rsna_dataset
from spineview.data.rsna_format import LABEL_COLUMNS, SEVERITIES
from spineview.data.synth import synthetic_source
from spineview.errors import DatasetError, TrainingCancelled, TrainingError
from spineview.models.catalogue import Fitted, ModelInfo
from spineview.models.distribution_check import fit_distribution_check
from spineview.models.grade_metrics import score_report
from spineview.models.manifest import ModelManifest
from spineview.models.rsna_metric import (
    Solution,
    fit_prior,
    rsna_score,
    solution_from_labels,
    split_studies,
    study_split,
)

logger = logging.getLogger(__name__)

GradeProgress = Callable[[str, float], None]
JITTER_PX = (CACHE_PX - CROP_PX) // 2
"""Up to 8 of 64 pixels: 6 mm of the 48 mm crop."""
MIN_STUDIES = 10
TEMPERATURES = np.round(np.arange(0.5, 3.01, 0.05), 2)


@dataclass(frozen=True)
class GradeTrainingConfig:
    dataset: Path
    name: str
    out: Path
    epochs: int = 30
    studies_per_batch: int = 4
    learning_rate: float = 2e-3
    seed: int = 0
    precision: str = "auto"
    demo: bool = False
    levels_model: Path | None = None
    """A level model folder: place the training crops where it finds the discs (as `spineview
    grade` does) instead of at the marked levels."""


@dataclass
class GradeTrainResult:
    info: ModelInfo
    metrics: dict[str, Any]
    history: list[dict[str, float]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def train_grades(
    config: GradeTrainingConfig,
    progress: GradeProgress | None = None,
    cancel: threading.Event | None = None,
) -> GradeTrainResult:
    """Train, test against the prior and save a grading model as `config.out`."""
    started = time.perf_counter()
    report = progress or (lambda _what, _fraction: None)
    report("Reading the dataset and cutting the crops", 0.0)
    dataset = read_rsna_dataset(config.dataset)
    examples, problems = grade_examples(
        dataset, find_levels=_level_finder(config.levels_model), cancel=cancel
    )
    labels = {e.study_id: dataset.studies[e.study_id].labels for e in examples}
    if len(examples) < MIN_STUDIES:
        raise DatasetError(
            f"{config.dataset}: {len(examples)} studies have marked levels and crops; at least "
            f"{MIN_STUDIES} are needed to train and test a grading model"
        )
    split = study_split(labels, seed=config.seed)
    by_id = {e.study_id: e for e in examples}
    parts = {name: [by_id[s] for s in split_studies(split, name)] for name in
             ("train", "validation", "test")}  # fmt: skip
    from spineview.ml.architectures import build_model
    from spineview.models.precision import resolve_precision

    precision = resolve_precision(config.precision)
    model = build_model("grades", seed=config.seed, precision=precision)
    history = _fit(model, parts["train"], parts["validation"], labels, config, report, cancel)
    temperature = _fit_temperature(model, parts["validation"], labels)
    report("Testing", 0.95)
    prior = fit_prior(solution_from_labels(labels, [e.study_id for e in parts["train"]]))
    metrics = {
        name: _evaluate(model, parts[name], labels, prior, temperature)
        for name in ("validation", "test")
    }
    fitted = Fitted()
    try:
        fitted = Fitted(
            distribution=fit_distribution_check(
                ("pool",),
                crop_features(model, parts["train"]),
                crop_features(model, parts["validation"]),
            )
        )
    except ValueError as error:  # too few crops to fit
        problems.append(f"no distribution check: {error}")
    manifest = _manifest(config, precision, parts, history, time.perf_counter() - started)
    manifest.temperature = temperature
    # the answer for a finding no crop could be taken for (the same as evaluate's prior)
    manifest.training["prior"] = np.round(prior, 5).tolist()
    manifest.metrics = metrics
    from spineview.ml.store import save_model

    if cancel is not None and cancel.is_set():
        raise TrainingCancelled("training cancelled; no model was saved")
    info = save_model(model, manifest, config.out, weights_storage="float32", fitted=fitted)
    report("Saved", 1.0)
    return GradeTrainResult(info, metrics, history, problems)


def _level_finder(folder: Path | None) -> Any:
    """A `grade_examples` level finder reading each study's sagittal T2/STIR (else T1) with
    the level model in `folder`; None without one."""
    if folder is None:
        return None
    from spineview.data.rsna_format import SAGITTAL_T1, SAGITTAL_T2_STIR
    from spineview.ml.level_inference import LevelLocator

    locator = LevelLocator.load(folder)

    def find(series: dict[str, list[Any]]) -> Any:
        source = (series.get(SAGITTAL_T2_STIR) or series.get(SAGITTAL_T1) or [None])[0]
        return None if source is None else locator.locate(source, study_uid="").levels

    return find


def _batch(
    studies: list[StudyCrops], rng: np.random.Generator | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(studies * 25, CROP_PX, CROP_PX, SLICES) inputs (jittered when `rng` is given), the
    (studies, 25) grades and the (studies, 25) crops present."""
    images = np.zeros((len(studies) * len(LABEL_COLUMNS), CROP_PX, CROP_PX, SLICES), np.float32)
    for s, study in enumerate(studies):
        for slot in np.flatnonzero(study.present):
            dy = dx = dz = 0
            if rng is not None:
                dy, dx = (int(v) for v in rng.integers(-JITTER_PX, JITTER_PX + 1, size=2))
                dz = int(rng.integers(-1, 2))
            images[s * len(LABEL_COLUMNS) + slot] = model_view(study.pixels[slot], dy, dx, dz)
    grades = np.stack([study.grades for study in studies]).astype(np.int64)
    present = np.stack([study.present for study in studies])
    return images, grades, present


def predict_studies(model: Any, studies: list[StudyCrops], temperature: float = 1.0) -> np.ndarray:
    """(studies, 25, 3) probabilities; NaN rows where a study has no crop for a finding."""
    from spineview.ml.grade_model import slot_logits_numpy

    out = []
    for start in range(0, len(studies), 8):
        chunk = studies[start : start + 8]
        images, _grades, present = _batch(chunk, None)
        logits = slot_logits_numpy(np.asarray(model(images, training=False))) / temperature
        probabilities = np.exp(logits - logits.max(axis=-1, keepdims=True))
        probabilities /= probabilities.sum(axis=-1, keepdims=True)
        probabilities[~present] = np.nan
        out.append(probabilities)
    return np.concatenate(out) if out else np.zeros((0, len(LABEL_COLUMNS), 3))


def crop_features(model: Any, studies: list[StudyCrops]) -> np.ndarray:
    """The pooled features of every crop the studies have (no jitter), one row per crop."""
    from spineview.ml.grade_model import with_features

    network = with_features(model)
    rows = [np.zeros((0, 0))]
    for start in range(0, len(studies), 8):
        images, _grades, present = _batch(studies[start : start + 8], None)
        _outputs, features = network(images, training=False)
        rows.append(np.asarray(features, dtype=np.float64)[present.reshape(-1)])
    return np.concatenate(rows[1:]) if len(rows) > 1 else rows[0]


def _with_prior(probabilities: np.ndarray, prior: np.ndarray) -> np.ndarray:
    """A finding without a crop gets the prior's row (the honest answer without an image)."""
    filled = probabilities.copy()
    missing = np.isnan(filled[..., 0])
    filled[missing] = np.broadcast_to(prior, filled.shape)[missing]
    return filled


def _solution(studies: list[StudyCrops], labels: dict[str, dict[str, int | None]]) -> Solution:
    return solution_from_labels(labels, [study.study_id for study in studies])


def _fit(
    model: Any,
    train: list[StudyCrops],
    validation: list[StudyCrops],
    labels: dict[str, dict[str, int | None]],
    config: GradeTrainingConfig,
    report: GradeProgress,
    cancel: threading.Event | None,
) -> list[dict[str, float]]:
    from spineview.ml.grade_model import metric_loss, slot_logits
    from spineview.ml.train_step import compiled_step

    steps = max(1, int(np.ceil(len(train) / config.studies_per_batch)))
    step = compiled_step(
        model,
        lambda outputs, grades, present: metric_loss(slot_logits(outputs), grades, present),
        learning_rate=config.learning_rate,
        total_steps=steps * config.epochs,
        final_fraction=0.05,
    )

    rng = np.random.default_rng(config.seed)
    history: list[dict[str, float]] = []
    best_score, best_weights = np.inf, model.get_weights()
    prior = fit_prior(_solution(train, labels))
    for epoch in range(config.epochs):
        begun = time.perf_counter()
        order = rng.permutation(len(train))
        losses = []
        for start in range(0, len(order), config.studies_per_batch):
            if cancel is not None and cancel.is_set():
                raise TrainingCancelled("training cancelled; no model was saved")
            chunk = [train[i] for i in order[start : start + config.studies_per_batch]]
            images, grades, present = _batch(chunk, rng)
            losses.append(float(step(images, grades, present)))
        if not np.isfinite(np.mean(losses)):
            raise TrainingError(
                f"training diverged at epoch {epoch + 1}; try a lower learning rate"
            )
        predicted = _with_prior(predict_studies(model, validation), prior)
        score = rsna_score(_solution(validation, labels), predicted).score
        value = float("inf") if score is None else score
        history.append({
            "epoch": epoch + 1,
            "loss": round(float(np.mean(losses)), 4),
            "validation_score": round(value, 4),
            "crops_per_second": round(len(order) * len(LABEL_COLUMNS)
                                      / (time.perf_counter() - begun), 1),
        })  # fmt: skip
        if value < best_score:
            best_score, best_weights = value, model.get_weights()
        report(
            f"Epoch {epoch + 1}/{config.epochs}: loss {np.mean(losses):.3f}, validation score "
            f"{value:.3f}",
            0.05 + 0.9 * (epoch + 1) / config.epochs,
        )
        logger.info("grade training %s", history[-1])
    model.set_weights(best_weights)
    return history


def _fit_temperature(
    model: Any, validation: list[StudyCrops], labels: dict[str, dict[str, int | None]]
) -> float:
    """The temperature (0.5-3.0) that gives the validation studies the best score."""
    solution = _solution(validation, labels)
    prior = np.full((len(LABEL_COLUMNS), 3), 1 / 3)
    best, best_score = 1.0, np.inf
    for temperature in TEMPERATURES:
        predicted = _with_prior(predict_studies(model, validation, float(temperature)), prior)
        score = rsna_score(solution, predicted).score
        if score is not None and score < best_score:
            best, best_score = float(temperature), score
    return best


def _evaluate(
    model: Any,
    studies: list[StudyCrops],
    labels: dict[str, dict[str, int | None]],
    prior: np.ndarray,
    temperature: float,
) -> dict[str, Any]:
    if not studies:
        return {"studies": 0}
    predicted = _with_prior(predict_studies(model, studies, temperature), prior)
    return score_report(_solution(studies, labels), predicted, prior)


def _manifest(
    config: GradeTrainingConfig,
    precision: str,
    parts: dict[str, list[StudyCrops]],
    history: list[dict[str, float]],
    seconds: float,
) -> ModelManifest:
    best = min(history, key=lambda row: row["validation_score"]) if history else {}
    return ModelManifest.for_architecture(
        "grades",
        config.name,
        description=(
            "Grades the 25 findings of the RSNA 2024 task (spinal canal, foramina and "
            "subarticular zones at L1/L2…L5/S1) as Normal/Mild, Moderate or Severe."
            + (" Trained on synthetic studies." if config.demo else "")
        ),
        class_names=list(SEVERITIES),
        preprocessing=(
            f"a {CROP_MM:g} mm square around each finding placed from the disc levels, "
            f"{CROP_PX}×{CROP_PX}, {SLICES} slices as channels, each slice scaled between its "
            "0.5th and 99.5th percentile"
        ),
        intensity_scaling="percentile",
        precision=precision,
        demo=config.demo,
        training={
            "task": "grades",
            "dataset": str(config.dataset),
            "synthetic_source": synthetic_source(config.dataset),
            "studies": {name: len(studies) for name, studies in parts.items()},
            "split": "rsna_metric.study_split (as spineview evaluate splits)",
            "crops_placed_by": str(config.levels_model or "the marked levels"),
            "epochs": config.epochs,
            "best_epoch": best.get("epoch"),
            "studies_per_batch": config.studies_per_batch,
            "learning_rate": config.learning_rate,
            "jitter": f"±{JITTER_PX} px (±{JITTER_PX * CROP_MM / CROP_PX:g} mm), ±1 slice",
            "loss": "the RSNA 2024 score: weighted log loss per group + any_severe_spinal",
            "seed": config.seed,
            "seconds": round(seconds, 1),
            "history": history,
        },
    )

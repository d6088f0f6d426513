"""Fitting a model's in-distribution check from its training data (`ml.distribution_check`).

Training fits it at the end of every run; `spineview models fit-check` fits it for a model made
before checks existed (the bundled demo models: their synthetic training studies are drawn
again from the generator's seed) without touching the weights. Either way the features come
from the network exactly as inference builds it (`ml.inference.Classifier`), so the distances
measured later are on the same scale as the threshold.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from spineview.errors import TrainingCancelled, TrainingError
from spineview.ml.distribution_check import FIT_SLICES, DistributionCheck, fit_distribution_check
from spineview.ml.inference import Classifier
from spineview.ml.manifest import ModelManifest

FEATURE_BATCH = 64


def inference_classifier(model: Any, manifest: ModelManifest) -> Classifier:
    """A Classifier over a copy of `model`'s weights built in the precision inference uses."""
    from spineview.ml.architectures import build_model
    from spineview.ml.precision import resolve_precision

    precision = resolve_precision("auto")
    copy = build_model(manifest.architecture, precision=precision)
    copy.set_weights(model.get_weights())
    return Classifier(copy, manifest, None, precision)


def slice_features(
    classifier: Classifier,
    images: np.ndarray,
    indices: np.ndarray,
    cancel: threading.Event | None = None,
) -> np.ndarray:
    """The distribution features (n × d) of cached, preprocessed slices `images[indices]`."""
    width = classifier.distribution_width
    parts = [np.zeros((0, width))]
    for start in range(0, len(indices), FEATURE_BATCH):
        if cancel is not None and cancel.is_set():
            raise TrainingCancelled("training cancelled; no model was saved")
        chunk = np.asarray(images[indices[start : start + FEATURE_BATCH]], dtype=np.float32)
        parts.append(classifier.predict_with_features(chunk[..., np.newaxis])[1][:, :width])
    return np.concatenate(parts)


def fit_check(
    classifier: Classifier,
    images: np.ndarray,
    train: Sequence[int] | np.ndarray,
    validation: Sequence[int] | np.ndarray,
    *,
    seed: int = 0,
    cancel: threading.Event | None = None,
) -> DistributionCheck:
    """Fit on (at most FIT_SLICES of) the training slices; threshold from the validation
    slices. TrainingError when the splits are too small for a check."""
    chosen = np.asarray(train)
    if len(chosen) > FIT_SLICES:
        chosen = np.sort(np.random.default_rng(seed).choice(chosen, FIT_SLICES, replace=False))
    try:
        return fit_distribution_check(
            classifier.architecture.distribution_layers,
            slice_features(classifier, images, chosen, cancel),
            slice_features(classifier, images, np.asarray(validation), cancel),
        )
    except ValueError as exc:
        raise TrainingError(f"no distribution check could be fitted: {exc}") from exc


def fit_check_for_folder(folder: Path, dataset: Path) -> tuple[DistributionCheck, str]:
    """Fit the check of the saved model `folder` on `dataset`, split as its training was (the
    manifest's slice rule and split seed). Returns the check and a sentence saying how the
    split compares with the one the manifest records (the same counts, or not)."""
    from spineview.data.slice_examples import SliceRule
    from spineview.ml.train import prepare
    from spineview.ml.training_plan import TrainConfig

    classifier = Classifier.load(folder)
    manifest = classifier.manifest
    training = manifest.training
    parameters = training.get("rule_parameters")
    rule = SliceRule(**parameters) if isinstance(parameters, dict) else SliceRule()
    config = TrainConfig(
        dataset=Path(dataset),
        name=manifest.name,
        architecture=manifest.architecture,
        intensity_scaling=manifest.intensity_scaling,  # type: ignore[arg-type]
        rule=rule,
        seed=int(training.get("split_seed", 0)),
    )
    images, _, _, split = prepare(config)
    counts = {name: len(split.indices(name)) for name in ("train", "validation", "test")}
    recorded = training.get("split")
    agreement = (
        f"the split matches the one {manifest.name} was trained with ({_counts(counts)})"
        if recorded == counts
        else f"the split ({_counts(counts)}) differs from the one {manifest.name} was trained "
        f"with ({_counts(recorded) if isinstance(recorded, dict) else 'not recorded'}): the "
        "check describes this dataset, not exactly the training data"
    )
    check = fit_check(classifier, images, split.indices("train"), split.indices("validation"))
    return check, agreement


def _counts(counts: dict[str, Any]) -> str:
    return ", ".join(f"{name} {value}" for name, value in counts.items())

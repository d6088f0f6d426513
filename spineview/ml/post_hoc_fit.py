"""Post-hoc fits on a trained model's training data: the in-distribution check
(`models.distribution_check`) and, for a network without dropout, the last-layer posterior that
gives its uncertainty (`models.head_posterior`).

Training fits both at the end of every run; `spineview models fit-check` fits them for a model
made before they existed (the bundled demo models: their synthetic training studies are drawn
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
from spineview.ml.inference import Classifier, head_logit
from spineview.models.catalogue import Fitted
from spineview.models.distribution_check import FIT_SLICES, fit_distribution_check
from spineview.models.head_posterior import fit_head_posterior
from spineview.models.manifest import ModelManifest

FEATURE_BATCH = 64


def inference_classifier(model: Any, manifest: ModelManifest) -> Classifier:
    """A Classifier over a copy of `model`'s weights built in the precision inference uses."""
    from spineview.ml.architectures import build_model
    from spineview.models.precision import resolve_precision

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
    """All features (n × `classifier.feature_count`) of cached, preprocessed slices
    `images[indices]`: the distribution features, then the output layer's input."""
    parts = [np.zeros((0, classifier.feature_count))]
    for start in range(0, len(indices), FEATURE_BATCH):
        if cancel is not None and cancel.is_set():
            raise TrainingCancelled("training cancelled; no model was saved")
        chunk = np.asarray(images[indices[start : start + FEATURE_BATCH]], dtype=np.float32)
        parts.append(classifier.predict_with_features(chunk[..., np.newaxis])[1])
    return np.concatenate(parts)


def fit_post_hoc(
    classifier: Classifier,
    images: np.ndarray,
    train: Sequence[int] | np.ndarray,
    validation: Sequence[int] | np.ndarray,
    *,
    seed: int = 0,
    trained_slices: int | None = None,
    cancel: threading.Event | None = None,
) -> tuple[Fitted, dict[str, str]]:
    """Fit on (at most FIT_SLICES of) the training slices: the distribution check (its
    threshold from the validation slices) and, where the network has no dropout to sample,
    the head posterior, whose curvature is scaled to `trained_slices` (the number of slices
    the network was trained on; default all of `train`). Returns what was fitted and, for
    each part that could not be (too few slices), the reason, keyed by its manifest field."""
    width = classifier.distribution_width
    training = np.asarray(train)
    chosen = training
    if len(chosen) > FIT_SLICES:
        chosen = np.sort(np.random.default_rng(seed).choice(chosen, FIT_SLICES, replace=False))
    features = slice_features(classifier, images, chosen, cancel)
    problems: dict[str, str] = {}
    distribution = posterior = None
    try:
        distribution = fit_distribution_check(
            classifier.architecture.distribution_layers,
            features[:, :width],
            slice_features(classifier, images, np.asarray(validation), cancel)[:, :width],
        )
    except ValueError as exc:
        problems["distribution_check"] = f"no distribution check could be fitted: {exc}"
    architecture = classifier.architecture
    if architecture.head_input_layer and architecture.head_dropout <= 0:  # nothing to sample
        weights, bias = head_logit(classifier.model, architecture)
        try:
            posterior = fit_head_posterior(
                classifier.head_features(features),
                weights,
                bias,
                training_slices=trained_slices or len(training),
            )
        except ValueError as exc:
            problems["head_posterior"] = f"no head posterior could be fitted: {exc}"
    return Fitted(distribution, posterior), problems


def fit_post_hoc_for_folder(folder: Path, dataset: Path) -> tuple[Fitted, str]:
    """Fit the post-hoc parts of the saved model `folder` on `dataset`, split as its training
    was (the manifest's slice rule and split seed). Returns them and a sentence saying how the
    split compares with the one the manifest records (the same counts, or not). TrainingError
    when the split is too small for a distribution check."""
    from spineview.data.slice_examples import SliceRule
    from spineview.ml.train import prepare
    from spineview.models.training_plan import TrainConfig

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
        "fit describes this dataset, not exactly the training data"
    )
    trained = recorded.get("train") if isinstance(recorded, dict) else None
    fitted, problems = fit_post_hoc(
        classifier,
        images,
        split.indices("train"),
        split.indices("validation"),
        trained_slices=trained if isinstance(trained, int) and trained > 0 else None,
    )
    if problems:
        raise TrainingError("; ".join(problems.values()))
    return fitted, agreement


def _counts(counts: dict[str, Any]) -> str:
    return ", ".join(f"{name} {value}" for name, value in counts.items())

"""Train a slice classifier: examples → cached arrays → tf.data → Keras fit → evaluation → store.

Headless and callable from the CLI, a worker thread (the training dialog) or a test. Every check
that can fail (one class, empty split, cache too large, settings that cannot work) runs before
the first slice is decoded: `prepare` and `training_plan.plan_training` share them. A cancel
event stops at the next slice or batch with TrainingCancelled; a cancelled or failed run saves
nothing, so the model that was there before stays untouched. Seeded: the same data, config and
seed give the same model.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from spineview import __version__
from spineview.core.preprocess import INPUT_SIZE
from spineview.core.preprocess import describe as describe_preprocessing
from spineview.data.examples import (
    ExampleSet,
    check_trainable,
    decode_examples,
    subsample_examples,
)
from spineview.data.splits import Split, grouped_split
from spineview.data.synth import synthetic_source
from spineview.errors import TrainingCancelled, TrainingError
from spineview.ml.architectures import as_network_input
from spineview.ml.augment import affine_augmenter
from spineview.ml.batch_norm import (
    EPOCH_RECALIBRATION_SLICES,
    RECALIBRATION_SLICES,
    RecalibratedValidation,
    batch_norm_layers,
    recalibrate_batch_norm,
)
from spineview.models.precision import resolve_precision
from spineview.models.training_plan import (
    AUGMENTATIONS,
    Augmentation,
    ProgressCallback,
    TrainConfig,
    TrainingStage,
    TrainProgress,
    TrainResult,
    augmentation_name,
    augmentation_settings,
    check_training,
    split_failures,
)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras

logger = logging.getLogger(__name__)

_subsample = subsample_examples  # the old name, which train_benchmark imports

__all__ = [
    "AUGMENTATIONS",
    "Augmentation",
    "TrainConfig",
    "TrainProgress",
    "TrainResult",
    "TrainingCancelled",
    "TrainingStage",
    "checkpoint_path",
    "make_dataset",
    "predict_probabilities",
    "prepare",
    "train_model",
]


def prepare(
    config: TrainConfig,
    *,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
) -> tuple[np.ndarray, np.ndarray, ExampleSet, Split]:
    """Everything before the network: examples, checks, split, decoded cache.

    The checks are `check_training`'s, the ones `plan_training` shows: the first that fails is
    raised (DatasetError for the dataset, TrainingError for memory and settings).
    """
    examples, split = check_training(config, cancel=cancel).require()

    def report(done: int, total: int) -> None:
        if progress is not None:
            progress(TrainProgress(TrainingStage.READING, done, total, message="decoding slices"))

    images, labels, kept = decode_examples(
        examples, scaling=config.intensity_scaling, progress=report, cancel=cancel
    )
    if len(kept.examples) != len(examples.examples):  # some slices failed to decode
        check_trainable(kept)
        split = grouped_split(kept.groups, kept.labels.tolist(), seed=config.seed)
        failures = split_failures(kept, split)
        if failures:
            raise failures[0]
    return images, labels, kept, split


def train_model(
    config: TrainConfig,
    *,
    models_dir: Path | None = None,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
) -> TrainResult:
    """Train, evaluate and save a model named `config.name`; returns where it was saved."""
    started = time.perf_counter()
    from spineview.ml import store
    from spineview.ml.post_hoc_fit import fit_post_hoc, inference_classifier
    from spineview.models import catalogue

    folder = (models_dir / config.name) if models_dir else catalogue.user_model_folder(config.name)
    images, labels, examples, split = prepare(config, progress=progress, cancel=cancel)
    _stop_if_cancelled(cancel)
    names = [example.name for example in examples.examples]
    fitted = fit_arrays(
        config,
        images,
        labels,
        split,
        groups=examples.groups,
        names=names,
        progress=progress,
        cancel=cancel,
    )
    _stop_if_cancelled(cancel)  # a cancel during evaluation still saves nothing
    manifest = _manifest(config, examples, split, fitted)
    if progress is not None:
        progress(
            TrainProgress(TrainingStage.EVALUATING, 0, 1, message="fitting the distribution check")
        )
    post_hoc, problems = fit_post_hoc(
        inference_classifier(fitted.model, manifest),
        images,
        split.indices("train"),
        split.indices("validation"),
        seed=config.seed,
        cancel=cancel,
    )
    manifest.training.update(problems)  # too few slices: saved without, and the manifest says so
    _stop_if_cancelled(cancel)
    if progress is not None:
        progress(TrainProgress(TrainingStage.SAVING, 0, 1, message=f"saving {folder}"))
    info = store.save_model(
        _export_copy(fitted.model, config.architecture),
        manifest,
        folder,
        fitted=post_hoc,
    )
    _write_report(info.path / "report", fitted.evaluation, fitted.history, examples)
    return TrainResult(
        info.path,
        fitted.test_metrics,
        fitted.history,
        len(examples.examples),
        time.perf_counter() - started,
    )


@dataclass
class FittedModel:
    """A trained network with its history and its evaluation on the test split."""

    model: Any
    history: dict[str, list[float]]
    imagenet: bool  # started from ImageNet weights
    precision: str  # the Keras dtype policy it trained in
    evaluation: dict[str, Any]

    @property
    def test_metrics(self) -> dict[str, Any]:
        return dict(self.evaluation["metrics"])


def fit_arrays(
    config: TrainConfig,
    images: np.ndarray,
    labels: np.ndarray,
    split: Split,
    *,
    groups: Sequence[str] | None = None,
    names: Sequence[str] | None = None,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    checkpoint: bool = True,
) -> FittedModel:
    """Train on cached slices (float16, preprocessed) and evaluate on the split's test part.

    `groups` (study per slice) make the bootstrap intervals resample whole studies (default:
    each slice its own); `names` label the slices in the report (default "slice i");
    `checkpoint` keeps the best weights so far under `checkpoint_path(config.name)`.
    """
    precision = resolve_precision(config.precision)
    previous_policy = keras.mixed_precision.global_policy().name
    keras.mixed_precision.set_global_policy(precision)
    try:
        model, history, imagenet = _fit(
            config, images, labels, split, progress=progress, cancel=cancel, checkpoint=checkpoint
        )
        _stop_if_cancelled(cancel)
        if progress is not None:
            progress(
                TrainProgress(
                    TrainingStage.EVALUATING, 0, 1, message="evaluating on the test split"
                )
            )
        names = list(names) if names is not None else [f"slice {i}" for i in range(len(labels))]
        groups = list(groups) if groups is not None else names
        evaluation = _evaluate(
            model, config, images, labels, names, np.asarray(groups, dtype=object), split
        )
    finally:
        keras.mixed_precision.set_global_policy(previous_policy)
    return FittedModel(model, history, imagenet, precision, evaluation)


def _stop_if_cancelled(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise TrainingCancelled("training cancelled; no model was saved")


def _export_copy(model: Any, architecture: str) -> Any:
    """A fresh, uncompiled float32 model with the trained weights: no optimizer state and no
    mixed-precision policy end up in the saved file."""
    from spineview.ml.architectures import build_model

    clean = build_model(architecture)
    clean.set_weights(model.get_weights())
    return clean


# --- fitting -------------------------------------------------------------------------------


def _fit(
    config: TrainConfig,
    images: np.ndarray,
    labels: np.ndarray,
    split: Split,
    *,
    progress: ProgressCallback | None,
    cancel: threading.Event | None,
    checkpoint: bool = True,
) -> tuple[Any, dict[str, list[float]], bool]:
    from spineview.ml.architectures import (
        build_model,
        find_imagenet_weights,
        freeze_features,
        set_backbone_trainable,
    )
    from spineview.models.architectures import ARCHITECTURES, SLICE_ARCHITECTURES

    if config.architecture not in SLICE_ARCHITECTURES:
        raise TrainingError(f"unknown architecture {config.architecture!r}")
    import tensorflow as tf

    keras.utils.set_random_seed(config.seed)
    tf.config.experimental.enable_op_determinism()  # same seed, same data → same weights
    architecture = ARCHITECTURES[config.architecture]
    weights = (
        find_imagenet_weights(config.imagenet_weights)
        if config.architecture == "resnet50" and not config.start_from
        else None
    )
    if config.start_from:  # fine-tuning: the start model's weights (checked by the store)
        from spineview.ml import store
        from spineview.models import catalogue

        model, _ = store.load_model(catalogue.find_model(config.start_from).path)
        if config.freeze_features:
            freeze_features(model, config.architecture)
    else:
        model = build_model(config.architecture, imagenet_weights=weights, seed=config.seed)
    softmax = architecture.output == "softmax"
    dataset = functools.partial(
        make_dataset,
        images,
        labels,
        config=config,
        channels=architecture.channels,
        softmax=softmax,
    )
    train = dataset(split.indices("train"), shuffle=True)
    validation = dataset(split.indices("validation"), shuffle=False)
    counts = np.bincount(labels[split.indices("train")], minlength=2)
    class_weight = (
        {i: float(counts.sum() / (2 * max(c, 1))) for i, c in enumerate(counts)}
        if config.class_balance == "weights"
        else None
    )
    mode = "max" if config.early_stopping == "val_auc" else "min"
    callbacks = [
        keras.callbacks.EarlyStopping(
            monitor=config.early_stopping,
            mode=mode,
            patience=config.patience,
            restore_best_weights=True,
        ),
        _ProgressCallback(progress, cancel, config.epochs),
    ]
    if checkpoint:
        callbacks.append(_BestCheckpoint(checkpoint_path(config.name), config.early_stopping, mode))
    fit_validation: Any = validation
    has_batch_norm = bool(batch_norm_layers(model))
    if has_batch_norm:  # validate with statistics that match the weights (ml.batch_norm)
        callbacks.insert(
            0,
            RecalibratedValidation(
                lambda: _recalibration_batches(
                    images, labels, split, config, architecture.channels, softmax,
                    EPOCH_RECALIBRATION_SLICES,
                ),
                validation,
                softmax,
            ),
        )  # fmt: skip
        fit_validation = None
    history: dict[str, list[float]] = {}
    phases = [(config.learning_rate, config.epochs)]
    if weights is not None:  # the reference recipe: frozen backbone, then its last 50 layers
        set_backbone_trainable(model, trainable=False)
        fine = max(1, config.epochs // 3)
        phases = [
            (config.learning_rate, config.epochs - fine),
            (config.fine_tune_learning_rate, fine),
        ]
    for phase, (rate, epochs) in enumerate(phases):
        if phase == 1:
            set_backbone_trainable(model, trainable=True, last_layers=50)
        model.compile(
            optimizer=keras.optimizers.Adam(rate),
            loss="categorical_crossentropy" if softmax else "binary_crossentropy",
            metrics=["accuracy", keras.metrics.AUC(name="auc")],
        )
        fitted = model.fit(
            train,
            validation_data=fit_validation,
            epochs=epochs,
            class_weight=class_weight,
            shuffle=False,  # the tf.data pipeline shuffles (seeded)
            callbacks=callbacks,
            verbose=0,
        )
        for key, values in fitted.history.items():
            history.setdefault(key, []).extend(float(v) for v in values)
        if cancel is not None and cancel.is_set():
            break
    if has_batch_norm and not (cancel is not None and cancel.is_set()):
        recalibrate_batch_norm(
            model,
            _recalibration_batches(
                images, labels, split, config, architecture.channels, softmax,
                RECALIBRATION_SLICES,
            ),
        )  # fmt: skip
    return model, history, weights is not None


def _recalibration_batches(
    images: np.ndarray,
    labels: np.ndarray,
    split: Split,
    config: TrainConfig,
    channels: int,
    softmax: bool,
    slices: int,
) -> Any:
    """Un-augmented training slices (a seeded subset) as model inputs, batch by batch."""
    train = split.indices("train")
    chosen = np.random.default_rng(config.seed).permutation(train)[:slices]
    dataset = make_dataset(
        images, labels, chosen, config=config, shuffle=False, channels=channels, softmax=softmax
    )
    return (x for x, _ in dataset)


def make_dataset(
    images: np.ndarray,
    labels: np.ndarray,
    indices: Sequence[int] | np.ndarray,
    *,
    config: TrainConfig,
    shuffle: bool,
    channels: int,
    softmax: bool,
) -> Any:
    """A batched tf.data pipeline over cached slices; augmentation only when shuffling (train)."""
    import tensorflow as tf

    chosen = np.asarray(indices, dtype=np.intp)
    x = images[chosen]
    y = labels[chosen]
    dataset = tf.data.Dataset.from_tensor_slices((x, y))
    if shuffle:
        dataset = dataset.shuffle(len(chosen), seed=config.seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(config.batch_size)
    dataset = dataset.map(lambda a, b: (tf.cast(a, tf.float32)[..., None], b))
    settings = augmentation_settings(config) if shuffle else {}
    if any(settings.values()):  # custom settings may hold every key at 0: no augmentation
        augment = affine_augmenter(settings, config.seed)
        dataset = dataset.enumerate().map(
            lambda i, batch: (augment(batch[0], i), batch[1]),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    if channels > 1:
        dataset = dataset.map(lambda a, b: (as_network_input(a, channels), b))
    if softmax:
        dataset = dataset.map(lambda a, b: (a, tf.one_hot(tf.cast(b, tf.int32), 2)))
    else:
        dataset = dataset.map(lambda a, b: (a, tf.cast(b, tf.float32)))
    return dataset.prefetch(tf.data.AUTOTUNE)


class _ProgressCallback(keras.callbacks.Callback):
    """Reports batches and epochs; turns the cancel event into `model.stop_training`."""

    def __init__(
        self, progress: ProgressCallback | None, cancel: threading.Event | None, epochs: int
    ) -> None:
        super().__init__()
        self.progress = progress
        self.cancel = cancel
        self.epochs = epochs
        self.epoch = 0

    def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
        self.epoch = epoch

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        if self.cancel is not None and self.cancel.is_set():
            self.model.stop_training = True
        if self.progress is not None:
            steps = self.params.get("steps") or 0
            self.progress(
                TrainProgress(
                    TrainingStage.TRAINING,
                    batch + 1,
                    steps,
                    self.epoch + 1,
                    self.epochs,
                    _floats(logs),
                )
            )

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        if self.progress is not None:
            self.progress(
                TrainProgress(
                    TrainingStage.EPOCH,
                    epoch + 1,
                    self.epochs,
                    epoch + 1,
                    self.epochs,
                    _floats(logs),
                )
            )


def checkpoint_path(name: str) -> Path:
    """Where the best weights so far are kept during a run (outside the model folder)."""
    from spineview.paths import user_data_dir

    return user_data_dir() / "checkpoints" / f"{name}.weights.h5"


class _BestCheckpoint(keras.callbacks.Callback):
    """After each epoch that improves the monitored figure, write the weights atomically."""

    def __init__(self, path: Path, monitor: str = "val_loss", mode: str = "min") -> None:
        super().__init__()
        self.path = path
        self.monitor = monitor
        self.sign = 1.0 if mode == "min" else -1.0  # compare as "smaller is better"
        self.best = math.inf

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        value = float((logs or {}).get(self.monitor, math.nan))
        score = self.sign * value if math.isfinite(value) else math.inf
        if not score < self.best:
            return
        self.best = score
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(f".{self.path.name}.tmp-{os.getpid()}.weights.h5")
        self.model.save_weights(temporary)
        os.replace(temporary, self.path)


def _floats(logs: Any) -> dict[str, float]:
    return {
        str(k): float(v)
        for k, v in (logs or {}).items()
        if isinstance(v, int | float | np.integer | np.floating)
    }


# --- evaluation ----------------------------------------------------------------------------


def predict_probabilities(model: Any, images: np.ndarray, channels: int) -> np.ndarray:
    """P(degenerative) per image, batched through one compiled function."""
    import tensorflow as tf

    batch_predict = tf.function(lambda x: model(x, training=False))
    outputs = []
    for start in range(0, len(images), 64):
        batch = tf.convert_to_tensor(images[start : start + 64].astype(np.float32))[..., None]
        batch = as_network_input(batch, channels)
        out = np.asarray(batch_predict(batch), dtype=np.float64)
        outputs.append(out[:, 1] if out.shape[-1] == 2 else out[:, 0])
    return np.concatenate(outputs) if outputs else np.zeros(0)


def _evaluate(
    model: Any,
    config: TrainConfig,
    images: np.ndarray,
    labels: np.ndarray,
    names: list[str],
    groups: np.ndarray,
    split: Split,
) -> dict[str, Any]:
    """Test metrics with bootstrap intervals over whole studies (`groups`), the temperature
    fitted on the validation split, and what the report figures need."""
    from spineview.models.architectures import ARCHITECTURES
    from spineview.models.metrics import (
        apply_temperature,
        evaluation_report,
        fit_temperature,
        probability_to_logit,
    )

    channels = ARCHITECTURES[config.architecture].channels
    validation, test = split.indices("validation"), split.indices("test")
    val_probability = predict_probabilities(model, images[validation], channels)
    temperature = fit_temperature(labels[validation], probability_to_logit(val_probability))
    test_probability = predict_probabilities(model, images[test], channels)
    calibrated = apply_temperature(probability_to_logit(test_probability), temperature)
    report = evaluation_report(labels[test], test_probability, temperature, groups=groups[test])
    return {
        "metrics": report,
        "temperature": float(temperature),
        "test_indices": test,
        "test_labels": labels[test],
        "test_probability": test_probability,
        "test_calibrated": calibrated,
        "images": images,
        "names": [names[i] for i in test],
    }


def _manifest(config: TrainConfig, examples: ExampleSet, split: Split, fitted: FittedModel) -> Any:
    from spineview.models.architectures import ARCHITECTURES
    from spineview.models.catalogue import ModelManifest

    architecture = ARCHITECTURES[config.architecture]
    history, evaluation, imagenet = fitted.history, fitted.evaluation, fitted.imagenet
    counts = examples.class_counts()
    description = (
        "demo model, trained on synthetic data, not for clinical use"
        if config.demo
        else f"{config.architecture} trained on {config.dataset.name}"
    )
    parent = _parent_summary(config)
    if parent is not None:
        description += f", fine-tuned from {parent['name']}"
    training = {
        "dataset": str(config.dataset),
        "source": examples.source,
        "rule": examples.rule_text,
        "examples": len(examples.examples),
        "class_counts": dict(zip(examples.class_names, counts, strict=True)),
        "split": {name: len(split.indices(name)) for name in ("train", "validation", "test")},
        "split_seed": config.seed,
        "epochs_run": len(history.get("loss", [])),
        "epochs_requested": config.epochs,
        "best_val_loss": _finite_min(history.get("val_loss", [])),
        "augmentation": augmentation_name(config),
        "augmentation_settings": augmentation_settings(config),
        "batch_size": config.batch_size,
        "learning_rate": config.learning_rate,
        "class_weights": (
            "balanced (n / (2 * count))" if config.class_balance == "weights" else "none"
        ),
        "recipe": config.recipe,
        "early_stopping": f"{config.early_stopping}, patience {config.patience}",
        "best_val_auc": _finite_max(history.get("val_auc", [])),
        "parent": parent,
        "synthetic_source": synthetic_source(config.dataset),
        "imagenet_weights": imagenet,
        "from_scratch": not imagenet,
        "rule_parameters": asdict(config.rule),
        "problems": len(examples.problems),  # unreadable slices dropped, dataset errors
        "problems_first": examples.problems[:5],
        "checkpoint": str(checkpoint_path(config.name)),
    }
    return ModelManifest(
        name=config.name,
        architecture=config.architecture,
        description=description,
        input_size=INPUT_SIZE,
        channels=architecture.channels,
        class_names=list(examples.class_names),
        output=architecture.output,
        preprocessing=describe_preprocessing(config.intensity_scaling),
        intensity_scaling=config.intensity_scaling,
        gradcam_layer=architecture.gradcam_layer,
        precision=fitted.precision,
        weights_storage="float16",
        weights_sha256="",
        imagenet_weights=imagenet,
        demo=config.demo,
        temperature=evaluation["temperature"],
        threshold=0.5,
        training=training,
        metrics=_json_safe(evaluation["metrics"]),
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        spineview_version=__version__,
    )


def _parent_summary(config: TrainConfig) -> dict[str, Any] | None:
    """The model fine-tuning started from: its name, weights and training data summary."""
    if not config.start_from:
        return None
    from spineview.models import catalogue

    start = catalogue.find_model(config.start_from)
    return {
        "name": start.manifest.name,
        "weights_sha256": start.manifest.weights_sha256,
        "bundled": start.bundled,
        "frozen_features": config.freeze_features,
        "training": start.manifest.training,
    }


def _finite_max(values: list[float]) -> float | None:
    finite = [v for v in values if math.isfinite(v)]
    return max(finite) if finite else None


def _finite_min(values: list[float]) -> float | None:
    finite = [v for v in values if math.isfinite(v)]
    return min(finite) if finite else None


def _json_safe(value: Any) -> Any:
    return json.loads(json.dumps(value, default=float))


def _write_report(
    folder: Path,
    evaluation: dict[str, Any],
    history: dict[str, list[float]],
    examples: ExampleSet,
) -> None:
    from spineview.models import report_figures as figures

    folder.mkdir(parents=True, exist_ok=True)
    metrics = _json_safe(evaluation["metrics"])
    temporary = folder / ".metrics.json.tmp"
    temporary.write_text(
        json.dumps(
            {"test": metrics, "history": history, "temperature": evaluation["temperature"]},
            indent=2,
        )
    )
    os.replace(temporary, folder / "metrics.json")
    y, raw, calibrated = (
        evaluation["test_labels"],
        evaluation["test_probability"],
        evaluation["test_calibrated"],
    )
    figures.plot_training_curves(history, folder / "training_curves.png")
    if len(set(y.tolist())) == 2:
        figures.plot_roc(y, raw, folder / "roc.png")
    figures.plot_reliability(
        y, raw, calibrated, folder / "reliability.png", temperature=evaluation["temperature"]
    )
    matrix = metrics["calibrated"]["confusion_matrix"]
    figures.plot_confusion(matrix, list(examples.class_names), folder / "confusion.png")
    wrong = [i for i, (t, p) in enumerate(zip(y, calibrated, strict=True)) if (p >= 0.5) != bool(t)]
    images = [evaluation["images"][evaluation["test_indices"][i]].astype(np.float32) for i in wrong]
    titles = [
        f"true {examples.class_names[int(y[i])]}, p={calibrated[i]:.2f}\n{evaluation['names'][i]}"
        for i in wrong
    ]
    figures.misclassified_gallery(images[:24], titles[:24], folder / "misclassified.png")

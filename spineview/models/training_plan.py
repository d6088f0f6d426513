"""Training's TensorFlow-free front half: the config, its checks, and a plan of the run.

The training dialog calls `plan_training` before TensorFlow has loaded: it reads the dataset
folder and runs every check that `train.prepare` runs before decoding (both call
`check_training`), then says what it found and, in sentences, what would stop training.
Nothing here imports TensorFlow or Keras, directly or through another module, so a window can
import the config and result types (TrainConfig, TrainProgress, TrainResult) before TF loads;
`spineview.ml.train` re-exports them.
"""

from __future__ import annotations

import contextlib
import math
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from spineview.core.preprocess import INTENSITY_SCALINGS, IntensityScaling
from spineview.core.text_enum import TextEnum
from spineview.data.examples import (
    CacheEstimate,
    ExampleSet,
    check_trainable,
    collect_examples,
    estimate_cache,
    subsample_examples,
)
from spineview.data.slice_examples import SliceRule
from spineview.data.splits import SPLIT_NAMES, Split, grouped_split
from spineview.errors import (
    DatasetError,
    ModelLoadError,
    SpineViewError,
    TrainingCancelled,
    TrainingError,
)
from spineview.models.architectures import SLICE_ARCHITECTURES
from spineview.models.catalogue import find_model, user_model_folder
from spineview.models.precision import PRECISIONS, Precision

Augmentation = Literal["none", "light", "reference"]
EarlyStoppingMetric = Literal["val_auc", "val_loss"]
ClassBalance = Literal["weights", "none"]

AUGMENTATIONS: dict[str, dict[str, float]] = {
    # the reference's ImageDataGenerator settings, as Keras 3 layers
    "reference": {"rotation": 30.0, "shift": 0.2, "shear": 0.2, "zoom": 0.2, "flip": 1.0},
    # milder: the reference strengths can keep the CNN at chance on small unbalanced sets.
    # No flips: a sagittal slice always shows anterior on one side, so a mirrored spine never
    # occurs, and learning both made the CNN learn slower (`bench learn`, synth cell, 1,500
    # slices, 10 epochs: test ROC AUC 0.898 with flips, 0.954 without)
    "light": {"rotation": 8.0, "shift": 0.05, "shear": 0.0, "zoom": 0.08, "flip": 0.0},
    "none": {},
}

AUGMENTATION_RANGES: dict[str, tuple[float, float]] = {
    "rotation": (0.0, 180.0),  # degrees, either way
    "shift": (0.0, 1.0),  # fraction of the image size
    "shear": (0.0, 1.0),
    "zoom": (0.0, 1.0),  # fraction, in and out
    "flip": (0.0, 1.0),  # 0 or 1: random horizontal flips off or on
}
"""Allowed values of custom augmentation settings (inclusive), also the keys allowed."""


FROM_MODEL_LEARNING_RATE = 1e-4
"""The default learning rate when training starts from an existing model (fine-tuning): below
training from scratch, so the start's weights are adjusted, not overwritten."""


@dataclass(frozen=True)
class TrainConfig:
    """One training run. The field defaults are the default recipe (RECIPES["default"])."""

    dataset: Path
    name: str
    architecture: str = "cnn"
    epochs: int = 10
    batch_size: int = 32
    # 3e-4: in `spineview bench learn` it reached ROC AUC 0.9 on all 8 datasets where any
    # rate or recipe did; 1e-3 missed two (the other generator at 40 % positive: 0.890, where
    # 3e-4 gave 1.000 with two seeds and 1e-3 0.890 or 0.999 by seed; the intensity-shifted
    # set: 0.874 against 0.910); elsewhere the two were within their intervals (README)
    learning_rate: float = 3e-4
    fine_tune_learning_rate: float = 1e-5
    patience: int = 3
    # what picks the best epoch: validation loss (the reference's) can prefer a model that
    # predicts one class, whose AUC is 0.5; validation ROC AUC never does
    early_stopping: EarlyStoppingMetric = "val_auc"
    class_balance: ClassBalance = "weights"  # "weights": loss weights n / (2 * count)
    seed: int = 0
    # no augmentation: of the 7 `bench learn` datasets where some recipe reached ROC AUC 0.9 in
    # 10 epochs (at the rate of that run, 1e-3), training without it did on 6, light
    # augmentation on 5 (README has the matrix)
    augmentation: Augmentation = "none"
    # a few bright pixels no longer set a slice's contrast (ml.preprocess explains both)
    intensity_scaling: IntensityScaling = "percentile"
    precision: Precision = "auto"
    rule: SliceRule = field(default_factory=SliceRule)
    max_examples: int | None = None  # a stratified subsample, for quick runs
    imagenet_weights: Path | None = None
    demo: bool = False
    # custom strengths (keys of AUGMENTATION_RANGES, missing ones off); they replace the preset
    augmentation_settings: dict[str, float] | None = None
    recipe: str = "default"  # the RECIPES entry the other fields came from (for the manifest)
    # fine-tuning: a model name or folder whose architecture and weights are the start
    start_from: str | None = None
    freeze_features: bool = False  # with start_from: train only the classifier head

    def __post_init__(self) -> None:
        """Refuse bad augmentation at once (ValueError); keep a checked copy of custom values."""
        if self.augmentation_settings is None:
            _preset(self.augmentation)
        else:
            checked = check_augmentation_settings(self.augmentation_settings)
            object.__setattr__(self, "augmentation_settings", checked)


class TrainingStage(TextEnum):
    """What a `TrainProgress` reports, in the order a run goes through them.

    The value is the stage's id ("reading", ...; see `TextEnum`).
    """

    READING = "reading"
    """Decoding every slice once into the cache: done / total slices."""
    TRAINING = "training"
    """One batch ended: done / total batches of epoch `epoch` of `epochs`, the batch's logs."""
    EPOCH = "epoch"
    """An epoch ended: done / total epochs, the epoch's logs (validation metrics too)."""
    EVALUATING = "evaluating"
    """After training: calibration, the distribution check, the test split (`message` says)."""
    SAVING = "saving"
    """Writing the model folder (`message` names it)."""


@dataclass
class TrainProgress:
    stage: TrainingStage
    """A TrainingStage, or its id (made a member when built; ValueError for an unknown one)."""
    done: int
    total: int
    epoch: int = 0
    epochs: int = 0
    logs: dict[str, float] = field(default_factory=dict)
    message: str = ""

    def __post_init__(self) -> None:
        self.stage = TrainingStage(self.stage)


ProgressCallback = Callable[[TrainProgress], None]


@dataclass
class TrainResult:
    model_folder: Path
    metrics: dict[str, Any]
    history: dict[str, list[float]]
    examples: int
    seconds: float


def check_augmentation_settings(settings: Mapping[str, object]) -> dict[str, float]:
    """Custom strengths as floats with every key present (missing ones 0: off).

    ValueError names the key and its allowed range: an unknown key, a value that is not a
    finite number, outside AUGMENTATION_RANGES, or a flip other than 0 or 1.
    """
    unknown = sorted(set(settings) - set(AUGMENTATION_RANGES))
    if unknown:
        raise ValueError(
            f"unknown augmentation setting {', '.join(map(repr, unknown))}: "
            f"use {', '.join(AUGMENTATION_RANGES)}"
        )
    checked: dict[str, float] = {}
    for key, (low, high) in AUGMENTATION_RANGES.items():
        value = settings.get(key, 0.0)
        if not isinstance(value, int | float) or not math.isfinite(value):
            raise ValueError(f"augmentation {key} must be a number, got {value!r}")
        if key == "flip" and value not in (0, 1):
            raise ValueError(f"augmentation flip must be 0 (off) or 1 (on), got {value!r}")
        if not low <= value <= high:
            raise ValueError(
                f"augmentation {key} must be between {low:g} and {high:g}, got {value}"
            )
        checked[key] = float(value)
    return checked


def augmentation_settings(config: TrainConfig) -> dict[str, float]:
    """The strengths training uses: the custom settings when given, else the named preset."""
    if config.augmentation_settings is not None:
        return check_augmentation_settings(config.augmentation_settings)
    return _preset(config.augmentation)


def augmentation_name(config: TrainConfig) -> str:
    """The preset's name, or "custom" when custom settings replace it."""
    return "custom" if config.augmentation_settings is not None else config.augmentation


def _preset(name: str) -> dict[str, float]:
    if name not in AUGMENTATIONS:
        raise ValueError(f"unknown augmentation {name!r}: use {', '.join(AUGMENTATIONS)}")
    return dict(AUGMENTATIONS[name])


RECIPES: dict[str, dict[str, Any]] = {
    "default": {},  # TrainConfig's own field defaults
    "reference": {
        "learning_rate": 1e-3,
        "epochs": 10,
        "batch_size": 32,
        "augmentation": "reference",
        "early_stopping": "val_loss",
        "intensity_scaling": "min-max",
    },
    "light-augmentation": {"augmentation": "light"},
}
"""Named training recipes as TrainConfig fields that differ from the defaults. "reference" is
the recipe the project grew from, kept for comparison; the CLI, the dialog and `bench learn`
read them here, so all three share one default."""

RECIPE_DESCRIPTIONS: dict[str, str] = {
    "default": "no augmentation, percentile intensity scaling; keeps the epoch with the best "
    "validation ROC AUC",
    "reference": "the original recipe: strong augmentation, min-max scaling; can fail to "
    "learn on small sets",
    "light-augmentation": "the default with light augmentation (small rotations, shifts and "
    "zooms); learns slower, may generalise to other positioning",
}


def recipe_config(recipe: str, dataset: Path, name: str, **fields: Any) -> TrainConfig:
    """A TrainConfig for a named recipe; `fields` (e.g. the user's edits) override it.

    With `start_from`, the rate is FROM_MODEL_LEARNING_RATE and the intensity scaling the
    start model's, unless given: the network must see its input scaled as it learnt it.
    """
    if recipe not in RECIPES:
        raise ValueError(f"unknown recipe {recipe!r}: use {', '.join(RECIPES)}")
    values: dict[str, Any] = {**RECIPES[recipe], **fields}
    start = fields.get("start_from")
    if start and "learning_rate" not in fields:
        values["learning_rate"] = FROM_MODEL_LEARNING_RATE
    if start and "intensity_scaling" not in fields:
        with contextlib.suppress(ModelLoadError):  # check_settings says it cannot be found
            values["intensity_scaling"] = find_model(start).manifest.intensity_scaling
    return TrainConfig(dataset=dataset, name=name, recipe=recipe, **values)


def default_learning_rate(recipe: str = "default", start_from: str | None = None) -> float:
    """The learning rate a recipe uses, from scratch or from a model (for forms to show)."""
    if start_from:
        return FROM_MODEL_LEARNING_RATE
    rate = RECIPES[recipe].get("learning_rate", TrainConfig.learning_rate)
    return float(rate)


# --- the checks before decoding (shared by plan_training and train.prepare) -----------------


def check_settings(config: TrainConfig, train_slices: int | None = None) -> list[str]:
    """Hyper-parameters that cannot work, in sentences ([] when all can).

    `train_slices` (the training split's size, when known) bounds the batch size.
    """
    errors: list[str] = []
    try:
        user_model_folder(config.name)
    except ModelLoadError as error:
        errors.append(str(error))
    if config.architecture not in SLICE_ARCHITECTURES:
        errors.append(
            f"unknown architecture {config.architecture!r}: use {', '.join(SLICE_ARCHITECTURES)}"
        )
    if config.recipe not in RECIPES:
        errors.append(f"unknown recipe {config.recipe!r}: use {', '.join(RECIPES)}")
    errors += _start_model_errors(config)
    if config.epochs < 1:
        errors.append(f"epochs must be at least 1, got {config.epochs}")
    if config.batch_size < 1:
        errors.append(f"the batch size must be at least 1, got {config.batch_size}")
    elif train_slices is not None and config.batch_size > train_slices:
        errors.append(
            f"the batch size {config.batch_size} is larger than the training split "
            f"({train_slices} slices): use at most {train_slices}"
        )
    for label, rate in (
        ("learning rate", config.learning_rate),
        ("fine-tuning learning rate", config.fine_tune_learning_rate),
    ):
        if not math.isfinite(rate) or rate <= 0:
            errors.append(f"the {label} must be a positive number, got {rate}")
    if config.patience < 0:
        errors.append(f"the early-stopping patience must be 0 or more, got {config.patience}")
    if config.seed < 0:
        errors.append(f"the seed must be 0 or more, got {config.seed}")
    if config.max_examples is not None and config.max_examples < 1:
        errors.append(f"the example limit must be at least 1, got {config.max_examples}")
    if config.precision not in PRECISIONS:
        errors.append(f"unknown precision {config.precision!r}: use {', '.join(PRECISIONS)}")
    if config.intensity_scaling not in INTENSITY_SCALINGS:
        errors.append(
            f"unknown intensity scaling {config.intensity_scaling!r}: "
            f"use {', '.join(INTENSITY_SCALINGS)}"
        )
    try:
        augmentation_settings(config)
    except ValueError as error:  # custom values changed in place after the config was made
        errors.append(str(error))
    return errors


def _start_model_errors(config: TrainConfig) -> list[str]:
    """A model to start from that cannot be found, or whose architecture differs."""
    if not config.start_from:
        return (
            ["freezing the features needs a model to start from"] if config.freeze_features else []
        )
    try:
        start = find_model(config.start_from)
    except ModelLoadError as error:
        return [f"cannot start from {config.start_from!r}: {error}"]
    if start.manifest.architecture != config.architecture:
        return [
            f"{start.manifest.name} is a {start.manifest.architecture} model: training from it "
            f"keeps its architecture (got {config.architecture})"
        ]
    if start.manifest.intensity_scaling != config.intensity_scaling:
        return [
            f"{start.manifest.name} learnt on {start.manifest.intensity_scaling} intensity "
            f"scaling: training from it keeps it (got {config.intensity_scaling})"
        ]
    return []


def split_failures(examples: ExampleSet, split: Split) -> list[DatasetError]:
    """An empty split, or a training split that holds one class only."""
    failures = [
        DatasetError(f"the {name} split is empty: the dataset has too few studies")
        for name in SPLIT_NAMES
        if not split.indices(name)
    ]
    train = split.indices("train")
    present = set(examples.labels[train].tolist())
    if train and len(present) < 2:
        missing = [n for i, n in enumerate(examples.class_names) if i not in present]
        failures.append(
            DatasetError(
                f"the training split holds no {' or '.join(missing)} slice: "
                "add studies of that class"
            )
        )
    return failures


@dataclass(frozen=True)
class TrainingCheck:
    """What the checks before decoding found; no `failures` means training can start."""

    found: ExampleSet  # everything the readers returned (empty when the folder is no dataset)
    examples: ExampleSet  # what training would use: `found` after the max_examples subsample
    split: Split | None  # None when the examples could not be split
    cache: CacheEstimate
    failures: tuple[SpineViewError, ...]  # in the order the checks ran; dataset ones first

    def require(self) -> tuple[ExampleSet, Split]:
        """The examples and split to train on; raises the first failure otherwise."""
        if self.failures:
            raise self.failures[0]
        if self.split is None:  # every path that leaves no split records a failure
            raise DatasetError("the examples could not be split")
        return self.examples, self.split


def check_training(config: TrainConfig, *, cancel: threading.Event | None = None) -> TrainingCheck:
    """Collect the examples and run every check that needs no decoding, collecting failures.

    The dataset checks stop at the first that fails (the later ones need its result); the
    cache and hyper-parameter checks always run. A set `cancel` raises TrainingCancelled.
    """
    _stop_if_cancelled(cancel)
    failures: list[SpineViewError] = []
    found = examples = ExampleSet([], (), "", "")
    split: Split | None = None
    try:
        found = examples = collect_examples(config.dataset, config.rule, cancel=cancel)
        check_trainable(found)
        limit = config.max_examples
        if limit is not None and 0 < limit < len(found.examples):
            examples = subsample_examples(found, limit, config.seed)
            check_trainable(examples)
        _stop_if_cancelled(cancel)
        split = grouped_split(examples.groups, examples.labels.tolist(), seed=config.seed)
        failures += split_failures(examples, split)
    except DatasetError as error:
        failures.append(error)
    cache = estimate_cache(len(examples.examples))
    if cache.error is not None:
        failures.append(cache.error)
    train_slices = len(split.indices("train")) if split is not None else None
    failures += [TrainingError(text) for text in check_settings(config, train_slices)]
    return TrainingCheck(found, examples, split, cache, tuple(failures))


def _stop_if_cancelled(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise TrainingCancelled("training cancelled before it started; nothing was saved")


# --- the plan the training dialog shows -----------------------------------------------------

MIN_STUDIES = 10
"""Below this many studies the plan warns that the model and its test metrics say little."""
MIN_TRAINING_SLICES_PER_CLASS = 20
"""Below this many slices of a class in the training split the plan warns likewise."""


@dataclass(frozen=True)
class TrainingPlan:
    """What a training run would use and whether it can run, before anything is decoded.

    Counts describe the examples training would use (after the max_examples subsample);
    `examples_found` is how many the dataset has in all. A folder that is no dataset gives
    empty counts, `source` "" and its reason in `errors`.
    """

    source: str  # "rsna" or "class folders" ("" when the folder could not be read)
    class_names: tuple[str, ...]
    class_counts: dict[str, int]  # usable slices per class
    studies: int  # distinct groups (study/patient)
    series: int  # distinct series folders (the parent folder of each slice file)
    examples: int
    split_counts: dict[str, dict[str, int]]  # split name → class name → slices ({}: no split)
    cache_bytes: int  # the float16 decode cache at the input size
    available_bytes: int | None  # memory available now (None: unknown)
    rule_text: str
    problems: list[str]  # dataset problems found by the readers (informational)
    errors: list[str]  # what makes training impossible, in sentences; [] = can train
    examples_found: int = 0  # before the max_examples subsample
    split_warnings: list[str] = field(default_factory=list)  # e.g. a split without one class

    @property
    def can_train(self) -> bool:
        return not self.errors

    @property
    def warnings(self) -> list[str]:
        """Why a dataset that can train is too small for its model or test metrics to mean much
        (below MIN_STUDIES studies, or MIN_TRAINING_SLICES_PER_CLASS slices of a class in the
        training split), and the split's own warnings; [] when none applies."""
        warnings = []
        if self.studies < MIN_STUDIES:
            warnings.append(
                f"the dataset has only {self.studies} "
                f"{'study' if self.studies == 1 else 'studies'} (fewer than {MIN_STUDIES}): "
                "the model will hardly generalise and the test metrics rest on very few studies"
            )
        train = self.split_counts.get("train")
        if train is not None:
            for name in self.class_names:
                count = train.get(name, 0)
                if count < MIN_TRAINING_SLICES_PER_CLASS:
                    warnings.append(
                        f"the training split has only {count} {name} "
                        f"{'slice' if count == 1 else 'slices'} "
                        f"(fewer than {MIN_TRAINING_SLICES_PER_CLASS})"
                    )
        warnings += self.split_warnings
        return warnings


def plan_training(config: TrainConfig, *, cancel: threading.Event | None = None) -> TrainingPlan:
    """Inspect `config.dataset` and check `config` without decoding a slice or loading TF.

    Never raises for a dataset or setting that cannot train (those are `errors`); a set
    `cancel` raises TrainingCancelled.
    """
    check = check_training(config, cancel=cancel)
    examples = check.examples
    names = examples.class_names
    split_counts: dict[str, dict[str, int]] = {}
    if check.split is not None:
        labels = examples.labels
        for split_name in SPLIT_NAMES:
            part = labels[check.split.indices(split_name)]
            split_counts[split_name] = {n: int((part == i).sum()) for i, n in enumerate(names)}
    return TrainingPlan(
        source=examples.source,
        class_names=names,
        class_counts=dict(zip(names, examples.class_counts(), strict=True)),
        studies=len(set(examples.groups)),
        series=len({example.path.parent for example in examples.examples}),
        examples=len(examples.examples),
        split_counts=split_counts,
        cache_bytes=check.cache.needed_bytes,
        available_bytes=check.cache.available_bytes,
        rule_text=examples.rule_text,
        problems=list(examples.problems),
        errors=[str(failure) for failure in check.failures],
        examples_found=len(check.found.examples),
        split_warnings=list(check.split.warnings) if check.split is not None else [],
    )

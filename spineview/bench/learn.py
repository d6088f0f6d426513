"""`spineview bench learn`: does a training recipe learn on data it was never tuned on?

Trains each recipe on a matrix of datasets ("cells") that differ the way real scans differ from
spineview's generator — the share of positive slices, the number of slices, intensity scale,
offset and gamma with a few bright outliers, noise, a coarse matrix — and on slices from a
second, independent generator (`spineview.data.plain_spine`). Each cell draws its training
slices from a pool of studies (split by study into train and validation) and is tested on the
same kind of slices from other studies, generated apart with another seed: a test set of
`test_studies` whole studies, large enough that the AUC intervals can tell recipes apart (a 15 %
test split of a small cell held about 6 studies, ±0.1–0.15). The score is test ROC AUC with its
interval and the predicted-class counts, so a model that ends predicting one class shows as such.
"""

from __future__ import annotations

import logging
import tempfile
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from spineview.core.preprocess import preprocess_slice
from spineview.data.examples import ExampleSet, collect_examples, decode_examples
from spineview.data.plain_spine import (
    LESION_SLICES,
    PlainSpineOptions,
    SliceSet,
    plain_spine_slices,
)
from spineview.data.splits import Split, grouped_split
from spineview.errors import TrainingError
from spineview.models.training_plan import RECIPES, TrainConfig, recipe_config

logger = logging.getLogger(__name__)

COMPARED_RECIPES = ("default", "reference", "light-augmentation")
GOOD_AUC = 0.9
"""The issue's aim: the default reaches this test ROC AUC wherever any recipe does."""

Transform = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class CellData:
    """Preprocessed slices (float16 (n, 224, 224)) with labels and the study of each."""

    images: np.ndarray
    labels: np.ndarray
    groups: list[str]


@dataclass(frozen=True)
class Cell:
    name: str  # a short id for --cells
    description: str
    source: str  # "synth" (spineview's generator, transformed) or "plain" (the other one)
    positive_rate: float | None = None  # None: as generated
    slices: int = 0  # training slices (train + validation); 0: CELL_SLICES
    transform: Transform | None = None


@dataclass(frozen=True)
class Pools:
    """Where cells draw from: generated studies for training and, apart, for testing."""

    synth_train: ExampleSet | None
    synth_test: ExampleSet | None
    plain: dict[float, tuple[SliceSet, SliceSet]]
    """Training and test pools of the plain generator, by the cell's positive slice share."""


def _slice_rng(pixels: np.ndarray) -> np.random.Generator:
    """Random numbers of its own for each slice, repeatable: seeded by the slice's content (a
    seed shared by every slice of one size would draw the same outliers and noise on every
    slice of one site, which a network can learn instead of the lesion)."""
    return np.random.default_rng(zlib.crc32(np.ascontiguousarray(pixels).tobytes()))


def _intensity(pixels: np.ndarray) -> np.ndarray:
    """Another scanner's scale: ×0.05, offset 800, gamma 0.6, 0.1 % bright outliers."""
    rng = _slice_rng(pixels)
    scaled = (np.clip(pixels, 0, None) / max(float(pixels.max()), 1.0)) ** 0.6
    out = scaled * 0.05 * 4095 + 800
    outliers = rng.random(out.shape) < 0.001
    return np.where(outliers, out.max() * 4, out).astype(np.float32)


def _noise(pixels: np.ndarray) -> np.ndarray:
    """Gaussian noise with σ = 8 % of the slice's 99th percentile."""
    rng = _slice_rng(pixels)
    sigma = 0.08 * float(np.percentile(pixels, 99))
    return (pixels + rng.normal(0.0, sigma, pixels.shape)).astype(np.float32)


def _coarse(pixels: np.ndarray) -> np.ndarray:
    """A coarse acquisition: about 96 pixels on the long side (block means; preprocessing scales
    it back up)."""
    step = max(1, round(max(pixels.shape) / 96))
    rows, cols = (pixels.shape[0] // step) * step, (pixels.shape[1] // step) * step
    blocks = pixels[:rows, :cols].reshape(rows // step, step, cols // step, step)
    return np.asarray(blocks.mean(axis=(1, 3)), dtype=np.float32)


CELL_SLICES = 1500
"""Training slices (train + validation) of every cell that does not vary the size."""
VALIDATION_SHARE = 0.15
"""The share of a cell's training studies held out for validation (early stopping, calibration)."""

CELLS: tuple[Cell, ...] = (
    Cell("synth", "spineview's generator, as generated", "synth"),
    Cell("synth-5pct", "5 % positive slices", "synth", positive_rate=0.05),
    Cell("synth-15pct", "15 % positive slices", "synth", positive_rate=0.15),
    Cell("synth-40pct", "40 % positive slices", "synth", positive_rate=0.40),
    Cell("synth-300", "300 slices", "synth", slices=300),
    Cell("synth-3000", "3,000 slices", "synth", slices=3000),
    Cell(
        "synth-intensity", "x0.05 + 800, gamma 0.6, 0.1 % outliers", "synth", transform=_intensity
    ),
    Cell("synth-noise", "Gaussian noise, 8 % of the 99th percentile", "synth", transform=_noise),
    Cell("synth-coarse", "a 96-pixel matrix", "synth", transform=_coarse),
    Cell("plain-8pct", "the plain generator, 8 % positive", "plain", positive_rate=0.08),
    Cell("plain-40pct", "the plain generator, 40 % positive", "plain", positive_rate=0.40),
)


def bench_learn(
    *,
    studies: int = 200,
    test_studies: int = 60,
    epochs: int = 10,
    recipes: Sequence[str] = COMPARED_RECIPES,
    cells: Sequence[str] | None = None,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Test ROC AUC of each recipe on each cell (names from CELLS; None: all of them).

    `studies` synthetic studies make the training pool (about 15 usable slices each, so 200
    give synth-3000 its 3,000 slices), `test_studies` more, generated with another seed, the
    test set; the plain generator's pools are sized to match.
    """
    chosen = [cell for cell in CELLS if cells is None or cell.name in cells]
    unknown = sorted(set(cells or ()) - {cell.name for cell in CELLS})
    if unknown or not chosen:
        names = ", ".join(cell.name for cell in CELLS)
        raise TrainingError(f"unknown cells {', '.join(unknown)}: use some of {names}")
    for recipe in recipes:
        if recipe not in RECIPES:
            raise TrainingError(f"unknown recipe {recipe!r}: use {', '.join(RECIPES)}")
    started = time.perf_counter()
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="spineview-bench-learn-") as tmp:
        pools = _pools(Path(tmp), chosen, studies, test_studies, seed)
        for cell in chosen:
            decoded: dict[str, tuple[CellData, CellData]] = {}  # by intensity scaling
            for recipe in recipes:
                config = recipe_config(recipe, Path(cell.name), "bench-learn", seed=seed)
                config = replace(config, epochs=min(config.epochs, epochs))
                scaling = config.intensity_scaling
                if scaling not in decoded:
                    decoded[scaling] = _cell_data(cell, pools, seed, scaling)
                row = _train_cell(cell, *decoded[scaling], config)
                rows.append(row)
                if progress is not None:
                    progress(_progress_line(row))
    return {
        "benchmark": "learn",
        "epochs_cap": epochs,
        "synth_studies": studies,
        "test_studies": test_studies,
        "seconds": round(time.perf_counter() - started, 1),
        "cells": rows,
        "summary": _summary(rows),
        "note": "test ROC AUC (95 % interval over test studies) per cell and recipe; each cell "
        "trains on its own studies (split by study into train and validation) and is tested on "
        "test_studies other studies generated with another seed; one_class = every test slice "
        "on one side of 0.5 after temperature scaling; epochs are capped at epochs_cap (early "
        "stopping may end sooner)",
    }


def _progress_line(row: dict[str, Any]) -> str:
    interval = row["test_roc_auc_ci"]
    text = f"{row['cell']}: {row['recipe']}: test ROC AUC {row['test_roc_auc']}"
    if interval:
        text += f" ({interval[0]:.3f}–{interval[1]:.3f})"
    if row["one_class"]:
        text += ", one class"
    return text + f", {row['epochs_run']} epochs, {row['seconds']:.0f} s"


def _pools(root: Path, cells: list[Cell], studies: int, test_studies: int, seed: int) -> Pools:
    """Generate only the pools the chosen cells draw from."""
    synth_train = synth_test = None
    if any(cell.source == "synth" for cell in cells):
        from spineview.data.synth import SynthOptions, synthesize

        for name, count, offset in (("train", studies, 4242), ("test", test_studies, 9001)):
            synthesize(root / name, SynthOptions(studies=count, seed=offset + seed, size=192))
        synth_train, synth_test = collect_examples(root / "train"), collect_examples(root / "test")
    plain = {
        rate: (_plain_pool(studies, rate, 100 + seed), _plain_pool(test_studies, rate, 200 + seed))
        for rate in {_plain_rate(cell) for cell in cells if cell.source == "plain"}
    }
    return Pools(synth_train, synth_test, plain)


def _plain_rate(cell: Cell) -> float:
    return cell.positive_rate if cell.positive_rate is not None else 0.1


def _plain_pool(studies: int, slice_rate: float, seed: int) -> SliceSet:
    # the plain generator keeps only the lesion slices of a degenerative study, so its studies
    # hold fewer usable slices than the synthetic ones: twice as many give a pool of about the
    # same size
    options = PlainSpineOptions(
        studies=studies * 2, positive_rate=_plain_study_rate(slice_rate), seed=seed
    )
    return plain_spine_slices(options)


def _cell_data(cell: Cell, pools: Pools, seed: int, scaling: str) -> tuple[CellData, CellData]:
    """The cell's training slices (its size and positive share) and its test slices (its
    positive share, as many as the test pool allows), preprocessed with `scaling`."""
    rng = np.random.default_rng(seed + 17)
    size = cell.slices or CELL_SLICES
    if cell.source == "plain":
        train_pool, test_pool = pools.plain[_plain_rate(cell)]
        return (
            _plain_cell(train_pool, cell.positive_rate, size, rng, scaling),
            _plain_cell(test_pool, cell.positive_rate, None, rng, scaling),
        )
    if pools.synth_train is None or pools.synth_test is None:
        raise ValueError("no synthetic examples to build a synth cell from")
    return (
        _synth_cell(pools.synth_train, cell, size, rng, scaling),
        _synth_cell(pools.synth_test, cell, None, rng, scaling),
    )


def _plain_cell(
    pool: SliceSet,
    positive_rate: float | None,
    slices: int | None,
    rng: np.random.Generator,
    scaling: str,
) -> CellData:
    chosen = _choose(pool.labels, positive_rate, slices, rng)
    images = np.stack([preprocess_slice(pool.images[i], scaling=scaling)[:, :, 0] for i in chosen])
    groups = [pool.groups[i] for i in chosen]
    return CellData(images.astype(np.float16), pool.labels[chosen], groups)


def _synth_cell(
    pool: ExampleSet, cell: Cell, slices: int | None, rng: np.random.Generator, scaling: str
) -> CellData:
    chosen = _choose(pool.labels, cell.positive_rate, slices, rng)
    subset = ExampleSet(
        [pool.examples[i] for i in chosen], pool.class_names, pool.source, pool.rule_text
    )
    images, labels, kept = decode_examples(subset, scaling=scaling, transform=cell.transform)
    return CellData(images, labels, kept.groups)


def _plain_study_rate(slice_rate: float) -> float:
    """The share of degenerative studies that gives about `slice_rate` positive slices (a bit
    over: `_choose` trims), from LESION_SLICES positives per degenerative study and every slice
    of a healthy one."""
    per_study = PlainSpineOptions.slices_per_study
    ratio = per_study / LESION_SLICES
    return min(0.95, 1.1 * ratio * slice_rate / (1 + (ratio - 1) * slice_rate))


def _choose(
    labels: np.ndarray, positive_rate: float | None, slices: int | None, rng: np.random.Generator
) -> np.ndarray:
    """Indices with the wanted share of positives and count (as many as the data allows)."""
    positives = rng.permutation(np.flatnonzero(labels == 1))
    negatives = rng.permutation(np.flatnonzero(labels == 0))
    rate = positive_rate if positive_rate is not None else len(positives) / max(len(labels), 1)
    total = slices if slices is not None else len(labels)
    total = min(
        total, int(len(positives) / rate) if rate else total, int(len(negatives) / (1 - rate))
    )
    want_positive = max(1, round(total * rate))
    chosen = np.concatenate([positives[:want_positive], negatives[: total - want_positive]])
    return np.sort(chosen)


def _train_cell(cell: Cell, train: CellData, test: CellData, config: TrainConfig) -> dict[str, Any]:
    from spineview.ml.train import fit_arrays

    split = held_out_split(train, test, config.seed)
    images = np.concatenate([train.images, test.images])
    labels = np.concatenate([train.labels, test.labels])
    groups = train.groups + test.groups
    started = time.perf_counter()
    fitted = fit_arrays(config, images, labels, split, groups=groups, checkpoint=False)
    metrics = fitted.test_metrics
    raw, calibrated = metrics["raw"], metrics["calibrated"]
    (_, false_positive), (_, true_positive) = calibrated["confusion_matrix"]
    predicted_positive = int(false_positive) + int(true_positive)
    tested = int(metrics["n"])
    auc = raw["roc_auc"]
    return {
        "cell": cell.name,
        "description": cell.description,
        "recipe": config.recipe,
        "intensity_scaling": config.intensity_scaling,
        "slices": len(train.labels),
        "positive_share": round(float(train.labels.mean()), 3),
        "test_slices": tested,
        "test_positives": int(raw["positives"]),
        "test_roc_auc": None if auc is None else round(float(auc), 3),
        "test_roc_auc_ci": _rounded(raw.get("roc_auc_ci")),
        "test_balanced_accuracy": round(float(calibrated["balanced_accuracy"]), 3),
        "predicted_positive": predicted_positive,
        "one_class": predicted_positive in (0, tested),
        "epochs_run": len(fitted.history.get("loss", [])),
        "seconds": round(time.perf_counter() - started, 1),
    }


def held_out_split(train: CellData, test: CellData, seed: int) -> Split:
    """Train and validation by study from `train`, every study of `test` as the test split
    (indices: `train`'s slices first, then `test`'s)."""
    shared = set(train.groups) & set(test.groups)
    if shared:
        raise ValueError(f"{len(shared)} studies are in both the training and the test pool")
    inner = grouped_split(
        train.groups,
        train.labels.tolist(),
        fractions=(1 - VALIDATION_SHARE, VALIDATION_SHARE, 0),
        seed=seed,
    )
    assignment = dict(inner.group_split) | {group: "test" for group in test.groups}
    slices = len(train.labels) + len(test.labels)
    return Split(
        seed=seed,
        fractions=(
            (1 - VALIDATION_SHARE) * len(train.labels) / slices,
            VALIDATION_SHARE * len(train.labels) / slices,
            len(test.labels) / slices,
        ),
        group_split=assignment,
        groups=tuple(train.groups + test.groups),
        labels=tuple(int(label) for label in np.concatenate([train.labels, test.labels])),
        warnings=inner.warnings,
    )


def _rounded(values: Sequence[float] | None) -> list[float] | None:
    return None if values is None else [round(float(value), 3) for value in values]


def _summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Where any recipe reached GOOD_AUC, did the default too? Did any run end one-class?"""
    by_cell: dict[str, dict[str, dict[str, Any]]] = {}
    for row in rows:
        by_cell.setdefault(row["cell"], {})[row["recipe"]] = row
    reachable = [
        cell
        for cell, runs in by_cell.items()
        if any((run["test_roc_auc"] or 0.0) >= GOOD_AUC for run in runs.values())
    ]
    default_misses = [
        cell
        for cell in reachable
        if "default" in by_cell[cell] and (by_cell[cell]["default"]["test_roc_auc"] or 0) < GOOD_AUC
    ]
    return {
        "cells_where_a_recipe_reaches_0.9": len(reachable),
        "default_below_0.9_there": default_misses,
        "one_class_runs": [f"{row['cell']}: {row['recipe']}" for row in rows if row["one_class"]],
        "default_min_auc": min(
            (row["test_roc_auc"] or 0.0 for row in rows if row["recipe"] == "default"),
            default=None,
        ),
    }


def learn_table(report: dict[str, Any]) -> str:
    """The matrix as a text table: one row per cell, test ROC AUC (95 % interval) per recipe
    (* = one class)."""
    recipes = list(dict.fromkeys(row["recipe"] for row in report["cells"]))
    cells = list(dict.fromkeys(row["cell"] for row in report["cells"]))
    lookup = {(row["cell"], row["recipe"]): row for row in report["cells"]}
    width, column = max(len(cell) for cell in cells) + 2, 24
    lines = ["cell".ljust(width) + "slices  pos %" + "".join(f"{r:>{column}}" for r in recipes)]
    for cell in cells:
        first = next(row for row in report["cells"] if row["cell"] == cell)
        text = f"{cell.ljust(width)}{first['slices']:>6}  {100 * first['positive_share']:>5.1f}"
        for recipe in recipes:
            row = lookup.get((cell, recipe))
            text += f"{'' if row is None else _table_entry(row):>{column}}"
        lines.append(text)
    lines.append(
        "test ROC AUC (95 % interval over test studies); * = the model predicts one class on "
        "the test set"
    )
    lines += [f"  {cell.name}: {cell.description}" for cell in CELLS if cell.name in cells]
    return "\n".join(lines)


def _table_entry(row: dict[str, Any]) -> str:
    if row["test_roc_auc"] is None:
        return "n/a  "
    text = f"{row['test_roc_auc']:.3f}"
    interval = row.get("test_roc_auc_ci")
    if interval:
        text += f" ({interval[0]:.2f}-{interval[1]:.2f})"
    return text + (" *" if row["one_class"] else "  ")

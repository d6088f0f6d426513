"""`spineview bench learn`: does a training recipe learn on data it was never tuned on?

Trains each recipe on a matrix of datasets ("cells") that differ the way real scans differ from
spineview's generator — the share of positive slices, the number of slices, intensity scale,
offset and gamma with a few bright outliers, noise, a coarse matrix — and on slices from a
second, independent generator (`spineview.data.plain_spine`). Each cell is split by study,
trained with the recipe's settings (epochs capped for time), and scored by test ROC AUC with
the predicted-class counts, so a model that ends predicting one class shows as such.
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

from spineview.data.plain_spine import LESION_SLICES, PlainSpineOptions, plain_spine_slices
from spineview.data.splits import grouped_split
from spineview.errors import TrainingError
from spineview.ml.examples import ExampleSet, collect_examples, decode_examples
from spineview.ml.preprocess import preprocess_slice
from spineview.ml.training_plan import RECIPES, recipe_config

logger = logging.getLogger(__name__)

COMPARED_RECIPES = ("default", "reference", "no-augmentation")
GOOD_AUC = 0.9
"""The issue's aim: the default reaches this test ROC AUC wherever any recipe does."""

Transform = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class CellData:
    images: np.ndarray  # float16 (n, 224, 224), preprocessed
    labels: np.ndarray
    groups: list[str]


@dataclass(frozen=True)
class Cell:
    name: str  # a short id for --cells
    description: str
    source: str  # "synth" (spineview's generator, transformed) or "plain" (the other one)
    positive_rate: float | None = None  # None: as generated
    slices: int | None = None  # None: all
    transform: Transform | None = None


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
    studies: int = 60,
    epochs: int = 6,
    recipes: Sequence[str] = COMPARED_RECIPES,
    cells: Sequence[str] | None = None,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Test ROC AUC of each recipe on each cell (names from CELLS; None: all of them)."""
    chosen = [cell for cell in CELLS if cells is None or cell.name in cells]
    unknown = sorted(set(cells or ()) - {cell.name for cell in CELLS})
    if unknown or not chosen:
        names = ", ".join(cell.name for cell in CELLS)
        raise TrainingError(f"unknown cells {', '.join(unknown)}: use some of {names}")
    for recipe in recipes:
        if recipe not in RECIPES:
            raise TrainingError(f"unknown recipe {recipe!r}: use {', '.join(RECIPES)}")
    from spineview.data.synth import SynthOptions, synthesize

    started = time.perf_counter()
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="spineview-bench-learn-") as tmp:
        root = Path(tmp) / "synth"
        if any(cell.source == "synth" for cell in chosen):
            synthesize(root, SynthOptions(studies=studies, seed=4242 + seed, size=192))
        found = collect_examples(root) if root.exists() else None
        for cell in chosen:
            data = _cell_data(cell, found, studies, seed)
            for recipe in recipes:
                row = _train_cell(cell, data, recipe, epochs, seed)
                rows.append(row)
                if progress is not None:
                    one_class = ", one class" if row["one_class"] else ""
                    progress(
                        f"{cell.name}: {recipe}: test ROC AUC {row['test_roc_auc']}{one_class}"
                    )
    return {
        "benchmark": "learn",
        "epochs_cap": epochs,
        "synth_studies": studies,
        "seconds": round(time.perf_counter() - started, 1),
        "cells": rows,
        "summary": _summary(rows),
        "note": "test ROC AUC per cell and recipe (split by study, seeded); one_class = every "
        "test slice on one side of 0.5 after temperature scaling; epochs are capped at "
        "epochs_cap (early stopping may end sooner)",
    }


def _cell_data(cell: Cell, found: ExampleSet | None, studies: int, seed: int) -> CellData:
    rng = np.random.default_rng(seed + 17)
    if cell.source == "plain":
        options = PlainSpineOptions(
            studies=studies * 2,
            positive_rate=_plain_study_rate(cell.positive_rate or 0.1),
            seed=seed,
        )
        plain = plain_spine_slices(options)
        chosen = _choose(plain.labels, cell.positive_rate, cell.slices, rng)
        images = np.stack([preprocess_slice(plain.images[i])[:, :, 0] for i in chosen])
        return CellData(
            images.astype(np.float16), plain.labels[chosen], [plain.groups[i] for i in chosen]
        )
    if found is None:
        raise ValueError("no synthetic examples to build a synth cell from")
    chosen = _choose(found.labels, cell.positive_rate, cell.slices, rng)
    subset = ExampleSet(
        [found.examples[i] for i in chosen], found.class_names, found.source, found.rule_text
    )
    images, labels, kept = decode_examples(subset, transform=cell.transform)
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


def _train_cell(cell: Cell, data: CellData, recipe: str, epochs: int, seed: int) -> dict[str, Any]:
    from spineview.ml.train import fit_arrays

    config = recipe_config(recipe, Path(cell.name), "bench-learn", seed=seed)
    config = replace(config, epochs=min(config.epochs, epochs))
    split = grouped_split(data.groups, data.labels.tolist(), seed=seed)
    started = time.perf_counter()
    fitted = fit_arrays(config, data.images, data.labels, split, groups=data.groups)
    metrics = fitted.test_metrics
    raw, calibrated = metrics["raw"], metrics["calibrated"]
    (_, false_positive), (_, true_positive) = calibrated["confusion_matrix"]
    predicted_positive = int(false_positive) + int(true_positive)
    tested = int(metrics["n"])
    auc = raw["roc_auc"]
    return {
        "cell": cell.name,
        "description": cell.description,
        "recipe": recipe,
        "slices": len(data.labels),
        "positive_share": round(float(data.labels.mean()), 3),
        "test_slices": tested,
        "test_positives": int(raw["positives"]),
        "test_roc_auc": None if auc is None else round(float(auc), 3),
        "test_roc_auc_ci": raw.get("roc_auc_ci"),
        "test_balanced_accuracy": round(float(calibrated["balanced_accuracy"]), 3),
        "predicted_positive": predicted_positive,
        "one_class": predicted_positive in (0, tested),
        "epochs_run": len(fitted.history.get("loss", [])),
        "seconds": round(time.perf_counter() - started, 1),
    }


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
    """The matrix as a text table: one row per cell, test ROC AUC per recipe (* = one class)."""
    recipes = list(dict.fromkeys(row["recipe"] for row in report["cells"]))
    cells = list(dict.fromkeys(row["cell"] for row in report["cells"]))
    lookup = {(row["cell"], row["recipe"]): row for row in report["cells"]}
    width = max(len(cell) for cell in cells) + 2
    lines = ["cell".ljust(width) + "slices  pos %" + "".join(f"{r:>17}" for r in recipes)]
    for cell in cells:
        first = next(row for row in report["cells"] if row["cell"] == cell)
        text = f"{cell.ljust(width)}{first['slices']:>6}  {100 * first['positive_share']:>5.1f}"
        for recipe in recipes:
            row = lookup.get((cell, recipe))
            if row is None:
                text += f"{'':>17}"
                continue
            auc = "n/a" if row["test_roc_auc"] is None else f"{row['test_roc_auc']:.3f}"
            mark = " *" if row["one_class"] else "  "
            text += f"{auc + mark:>17}"
        lines.append(text)
    lines.append("test ROC AUC; * = the model predicts one class on the test split")
    lines += [f"  {cell.name}: {cell.description}" for cell in CELLS if cell.name in cells]
    return "\n".join(lines)

"""PNG figures of a model's training and evaluation, for the people who read its report.

matplotlib's object API with the Agg canvas only: no pyplot, so no global figure registry, no
GUI backend, and figures can be drawn headless and from worker threads. Fonts and sizes are set
per figure (no rcParams changes). Every file is written atomically: a temporary file in the
target folder, then `os.replace`.
"""

from __future__ import annotations

import math
import os
import tempfile
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, PercentFormatter

from spineview.models.metrics import (
    binary_metrics,
    expected_calibration_error,
    reliability_curve,
    roc_curve,
)

DPI = 100
TITLE_SIZE = 13
LABEL_SIZE = 11
TICK_SIZE = 9.5
LEGEND_SIZE = 9.5

TRAIN_COLOUR = "#1f77b4"
VALIDATION_COLOUR = "#d95f02"
RAW_COLOUR = "#d95f02"
CALIBRATED_COLOUR = "#1b9e77"
BEST_COLOUR = "#555555"
REFERENCE_COLOUR = "#9a9a9a"


# ---------------------------------------------------------------------------------------------
# helpers


def _new_figure(
    width_px: int,
    height_px: int,
    layout: Literal["constrained", "compressed"] | None = "constrained",
) -> Figure:
    """A figure with its own Agg canvas; "compressed" suits fixed-aspect axes with a colour bar."""
    figure = Figure(figsize=(width_px / DPI, height_px / DPI), dpi=DPI, layout=layout)
    FigureCanvasAgg(figure)
    return figure


def _save(figure: Figure, path: Path | str) -> Path:
    """Render `figure` to PNG at `path` atomically (temporary file beside it, then rename)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(
        prefix=f".{target.stem}-", suffix=".png", dir=target.parent
    )
    try:
        with os.fdopen(handle, "wb") as stream:
            figure.savefig(stream, format="png", dpi=DPI, facecolor="white")
        os.chmod(temporary, 0o644)  # mkstemp makes it private; a report is for people to read
        os.replace(temporary, target)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    return target


def _style(axes: Axes, title: str, xlabel: str, ylabel: str) -> None:
    axes.set_title(title, fontsize=TITLE_SIZE)
    axes.set_xlabel(xlabel, fontsize=LABEL_SIZE)
    axes.set_ylabel(ylabel, fontsize=LABEL_SIZE)
    axes.tick_params(labelsize=TICK_SIZE)
    axes.grid(True, color="#e4e4e4", linewidth=0.8)
    axes.set_axisbelow(True)


def _note(axes: Axes, text: str) -> None:
    axes.text(
        0.5,
        0.5,
        text,
        transform=axes.transAxes,
        ha="center",
        va="center",
        fontsize=LABEL_SIZE,
        color="#555555",
        bbox={"boxstyle": "round,pad=0.5", "facecolor": "white", "edgecolor": "#cccccc"},
    )


def _series(history: Mapping[str, Sequence[float]], key: str) -> np.ndarray | None:
    values = history.get(key)
    if values is None:
        return None
    array = np.asarray(values, dtype=np.float64).reshape(-1)
    return array if array.size else None


def _best_epoch(validation_loss: np.ndarray | None) -> int | None:
    if validation_loss is None or not np.any(np.isfinite(validation_loss)):
        return None
    return int(np.nanargmin(np.where(np.isfinite(validation_loss), validation_loss, np.nan))) + 1


# ---------------------------------------------------------------------------------------------
# figures


def plot_training_curves(history: Mapping[str, Sequence[float]], path: Path | str) -> Path:
    """Loss and accuracy per epoch, training and validation, epochs counted from 1.

    Reads the keys `loss`, `val_loss`, `accuracy` and `val_accuracy` (a Keras History.history);
    missing keys leave a curve out, and a panel without any curve says so. The epoch with the
    lowest validation loss is marked in both panels. Returns the path written (900 x 450 px).
    """
    figure = _new_figure(900, 450)
    loss_axes, accuracy_axes = figure.subplots(1, 2)
    best = _best_epoch(_series(history, "val_loss"))
    panels = (
        (loss_axes, "Loss", "loss", "val_loss"),
        (accuracy_axes, "Accuracy", "accuracy", "val_accuracy"),
    )
    for axes, name, train_key, validation_key in panels:
        _style(axes, name, "epoch", name.lower())
        drawn = False
        for key, label, colour, marker in (
            (train_key, "training", TRAIN_COLOUR, "o"),
            (validation_key, "validation", VALIDATION_COLOUR, "s"),
        ):
            values = _series(history, key)
            if values is None:
                continue
            epochs = np.arange(1, values.size + 1)
            axes.plot(
                epochs,
                values,
                color=colour,
                marker=marker,
                markersize=4 if values.size <= 40 else 0,
                linewidth=1.8,
                label=label,
            )
            drawn = True
        if not drawn:
            _note(axes, f"no {name.lower()} recorded")
            axes.set_xticks([])
            axes.set_yticks([])
            continue
        if best is not None:
            axes.axvline(
                best,
                color=BEST_COLOUR,
                linestyle="--",
                linewidth=1.2,
                label=f"lowest validation loss (epoch {best})",
            )
        if name == "Accuracy":
            axes.set_ylim(-0.02, 1.02)
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.legend(fontsize=LEGEND_SIZE, loc="best", framealpha=0.9)
    return _save(figure, path)


def plot_roc(
    y_true: np.ndarray,
    probability: np.ndarray,
    path: Path | str,
    title: str = "ROC curve",
) -> Path:
    """ROC curve with its AUC in the legend and the chance diagonal (600 x 560 px).

    With a single class in `y_true` the curve is undefined: the figure says so instead.
    """
    metrics = binary_metrics(y_true, probability)
    figure = _new_figure(600, 560)
    axes = figure.subplots()
    _style(
        axes,
        f"{title}\n(n = {metrics['n']}, {metrics['positives']} positive)",
        "false positive rate (1 − specificity)",
        "true positive rate (sensitivity)",
    )
    axes.plot([0, 1], [0, 1], color=REFERENCE_COLOUR, linestyle="--", linewidth=1.2, label="chance")
    auc = metrics["roc_auc"]
    if isinstance(auc, float):
        fpr, tpr, _ = roc_curve(y_true, probability)
        axes.plot(fpr, tpr, color=TRAIN_COLOUR, linewidth=2.0, label=f"model (AUC = {auc:.3f})")
        axes.fill_between(fpr, tpr, color=TRAIN_COLOUR, alpha=0.08, linewidth=0)
    else:
        _note(axes, "ROC undefined:\nthe labels contain only one class")
    axes.set_xlim(-0.01, 1.01)
    axes.set_ylim(-0.01, 1.01)
    axes.set_aspect("equal")
    axes.legend(fontsize=LEGEND_SIZE, loc="lower right", framealpha=0.9)
    return _save(figure, path)


def plot_reliability(
    y_true: np.ndarray,
    raw_probability: np.ndarray,
    calibrated_probability: np.ndarray,
    path: Path | str,
    bins: int = 10,
    temperature: float | None = None,
) -> Path:
    """Reliability diagram before and after temperature scaling (640 x 680 px).

    Top: observed frequency of class 1 against mean predicted probability per equal-width bin,
    with each curve's ECE in the legend and the diagonal of perfect calibration. Bottom: how
    many slices fall in each bin. `temperature`, when given, is named in the legend.
    """
    raw_curve = reliability_curve(y_true, raw_probability, bins)
    calibrated_curve = reliability_curve(y_true, calibrated_probability, bins)
    raw_ece = expected_calibration_error(y_true, raw_probability, bins)
    calibrated_ece = expected_calibration_error(y_true, calibrated_probability, bins)
    scaled = (
        "temperature-scaled"
        if temperature is None
        else f"temperature-scaled, T = {temperature:.2f}"
    )

    figure = _new_figure(640, 680)
    curve_axes, count_axes = figure.subplots(
        2, 1, sharex=True, gridspec_kw={"height_ratios": [3.2, 1.0]}
    )
    _style(curve_axes, "Reliability diagram", "", "observed frequency of class 1")
    curve_axes.plot(
        [0, 1], [0, 1], color=REFERENCE_COLOUR, linestyle="--", linewidth=1.2, label="perfect"
    )
    for curve, colour, marker, label in (
        (raw_curve, RAW_COLOUR, "o", f"uncalibrated (ECE = {raw_ece:.3f})"),
        (calibrated_curve, CALIBRATED_COLOUR, "s", f"{scaled} (ECE = {calibrated_ece:.3f})"),
    ):
        filled = curve.counts > 0
        curve_axes.plot(
            curve.mean_confidence[filled],
            curve.observed_frequency[filled],
            color=colour,
            marker=marker,
            markersize=5,
            linewidth=1.8,
            label=label,
        )
    curve_axes.set_xlim(0, 1)
    curve_axes.set_ylim(-0.02, 1.02)
    curve_axes.legend(fontsize=LEGEND_SIZE, loc="upper left", framealpha=0.9)

    _style(count_axes, "", "predicted probability of class 1", "slices")
    edges = raw_curve.bin_edges
    width = (edges[1] - edges[0]) * 0.4
    centres = (edges[:-1] + edges[1:]) / 2.0
    count_axes.bar(centres - width / 2, raw_curve.counts, width, color=RAW_COLOUR, alpha=0.85)
    count_axes.bar(
        centres + width / 2, calibrated_curve.counts, width, color=CALIBRATED_COLOUR, alpha=0.85
    )
    count_axes.yaxis.set_major_locator(MaxNLocator(nbins=3, integer=True))
    return _save(figure, path)


def plot_confusion(
    matrix: np.ndarray | Sequence[Sequence[int]],
    class_names: Sequence[str],
    path: Path | str,
    title: str = "Confusion matrix",
) -> Path:
    """Confusion matrix (rows = true class, columns = predicted), counts and row percentages.

    Cells are shaded by their row fraction (the per-class recall on the diagonal).
    """
    counts = np.asarray(matrix)
    if counts.ndim != 2 or counts.shape[0] != counts.shape[1] or counts.shape[0] == 0:
        raise ValueError(f"matrix must be square and 2-D, got shape {counts.shape}")
    if not np.all(np.isfinite(counts)) or np.any(counts < 0):
        raise ValueError("matrix must hold finite, non-negative counts")
    size = counts.shape[0]
    if len(class_names) != size:
        raise ValueError(f"{size} classes in the matrix but {len(class_names)} class names")
    totals = counts.sum(axis=1, keepdims=True).astype(np.float64)
    fractions = np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)

    longest = max(len(str(name)) for name in class_names)
    side = 300 + 110 * size
    figure = _new_figure(side + 80 + 7 * longest, side, layout="compressed")
    axes = figure.subplots()
    image = axes.imshow(fractions, cmap="Blues", vmin=0.0, vmax=1.0)
    for row in range(size):
        for column in range(size):
            share = f"{100 * fractions[row, column]:.1f} %" if totals[row, 0] else "–"
            axes.text(
                column,
                row,
                f"{counts[row, column]:g}\n({share})",
                ha="center",
                va="center",
                fontsize=LABEL_SIZE + 1,
                color="white" if fractions[row, column] > 0.55 else "#222222",
            )
    axes.set_xticks(range(size), [str(name) for name in class_names], fontsize=LABEL_SIZE)
    axes.set_yticks(range(size), [str(name) for name in class_names], fontsize=LABEL_SIZE)
    axes.set_xlabel("predicted class", fontsize=LABEL_SIZE)
    axes.set_ylabel("true class", fontsize=LABEL_SIZE)
    axes.set_title(f"{title} (n = {counts.sum():g})", fontsize=TITLE_SIZE)
    colour_bar = figure.colorbar(image, ax=axes)
    colour_bar.ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0))
    colour_bar.ax.tick_params(labelsize=TICK_SIZE)
    colour_bar.set_label("share of the true class", fontsize=TICK_SIZE + 0.5)
    return _save(figure, path)


def _grey(image: np.ndarray) -> np.ndarray:
    array = np.asarray(image, dtype=np.float64)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    elif array.ndim == 3 and array.shape[2] in (3, 4):
        array = array[:, :, :3].mean(axis=2)
    if array.ndim != 2 or array.size == 0:
        raise ValueError(f"gallery images must be 2-D greyscale, got shape {array.shape}")
    finite = np.isfinite(array)
    if not finite.any():
        return np.zeros(array.shape)
    low, high = np.percentile(array[finite], [0.5, 99.5])
    if high <= low:  # a flat image: mid grey
        return np.full(array.shape, 0.5)
    scaled = (np.where(finite, array, low) - low) / (high - low)
    return np.clip(scaled, 0.0, 1.0)


def _wrap_title(text: str, width: int = 30, max_lines: int = 3) -> str:
    """Break at newlines and " · " first, then wrap each part; at most `max_lines` lines."""
    parts = [part for line in text.splitlines() for part in line.split(" · ")]
    lines = [wrapped for part in parts for wrapped in textwrap.wrap(part, width) or [""]]
    if len(lines) > max_lines:
        rest = " ".join(lines[max_lines - 1 :])
        lines = [*lines[: max_lines - 1], rest if len(rest) <= width else rest[: width - 1] + "…"]
    return "\n".join(lines)


def misclassified_gallery(
    images: Sequence[np.ndarray],
    titles: Sequence[str],
    path: Path | str,
    columns: int = 4,
    max_images: int = 60,
    title: str = "Misclassified test slices",
) -> Path:
    """A grid of grey images, each with its title (e.g. "true degenerative, p=0.12 · study 1").

    Each image is windowed to its own 0.5-99.5 percentiles. Only the first `max_images` are
    drawn (the heading says how many there were). No images: a small figure saying so.
    """
    if len(images) != len(titles):
        raise ValueError(f"{len(images)} images but {len(titles)} titles")
    if isinstance(columns, bool) or columns < 1:
        raise ValueError(f"columns must be a positive integer, got {columns!r}")
    if max_images < 1:
        raise ValueError(f"max_images must be a positive integer, got {max_images!r}")
    if not images:
        figure = _new_figure(480, 160)
        figure.suptitle(title, fontsize=TITLE_SIZE)
        axes = figure.subplots()
        axes.set_axis_off()
        _note(axes, "no misclassified test slices")
        return _save(figure, path)

    shown = min(len(images), max_images)
    grid_columns = min(columns, shown)
    rows = math.ceil(shown / grid_columns)
    # A fixed pixel grid (no layout engine: it costs a second for a few dozen axes).
    cell, picture, caption, heading_height, margin = 220, 200, 56, 44, 10
    width = max(cell * grid_columns + 2 * margin, 420)
    height = heading_height + (picture + caption) * rows + margin
    figure = _new_figure(width, height, layout=None)
    heading = title if shown == len(images) else f"{title} (first {shown} of {len(images)})"
    figure.text(0.5, 1 - 12 / height, heading, ha="center", va="top", fontsize=TITLE_SIZE)
    left_edge = (width - cell * grid_columns) / 2
    for index in range(shown):
        row, column = divmod(index, grid_columns)
        left = left_edge + column * cell + (cell - picture) / 2
        bottom = height - heading_height - (row + 1) * (picture + caption) + 4
        axes = figure.add_axes((left / width, bottom / height, picture / width, picture / height))
        axes.set_axis_off()
        axes.imshow(_grey(images[index]), cmap="gray", vmin=0.0, vmax=1.0)
        axes.set_title(_wrap_title(str(titles[index])), fontsize=10, linespacing=1.15, pad=4)
    return _save(figure, path)

"""How well a level model places the discs: errors in millimetres, order, and its verdict.

A level is placed well when it lies within `WITHIN_MM` of the marked point (5 mm: about a
fifth of a lumbar disc-to-disc step, well inside the half step at which a neighbouring disc
would be named instead). A series is in order when its found levels run head to feet in the
same order as the marked ones (a swapped pair is a mislabelled spine, whatever the millimetres).

The verdict is judged against a model that learnt nothing: the training split's mean position
of each level placed on every test image. A level model is usable only when the 95 % interval
of its within-5-mm rate lies above that baseline's rate and above USABLE_WITHIN.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from spineview.core.levels import LEVELS
from spineview.models.metrics import wilson_interval
from spineview.models.quality_gate import Usability

WITHIN_MM = 5.0
USABLE_WITHIN = 0.8
"""The least share of levels within WITHIN_MM (the lower end of its 95 % interval) a usable
level model places: one misplacing more than 1 level in 5 mislabels most spines."""


def point_errors_mm(
    predicted: np.ndarray,
    targets: np.ndarray,
    mask: np.ndarray,
    shapes: np.ndarray,
    spacings: np.ndarray,
) -> np.ndarray:
    """(series, 5) distances in mm between predicted and marked points; NaN where unmarked.

    `predicted` and `targets` are (series, 5, 2) fractions (x / columns, y / rows), `shapes`
    (series, 2) the images' (rows, columns), `spacings` (series, 2) their pixel spacing (row,
    column) in mm."""
    predicted = np.asarray(predicted, dtype=np.float64)
    targets = np.asarray(targets, dtype=np.float64)
    shapes = np.asarray(shapes, dtype=np.float64)
    spacings = np.asarray(spacings, dtype=np.float64)
    dx_mm = (predicted[..., 0] - targets[..., 0]) * shapes[:, None, 1] * spacings[:, None, 1]
    dy_mm = (predicted[..., 1] - targets[..., 1]) * shapes[:, None, 0] * spacings[:, None, 0]
    errors = np.hypot(dx_mm, dy_mm)
    return np.where(np.asarray(mask, dtype=bool), errors, np.nan)


def in_marked_order(predicted_rows: np.ndarray, marked_rows: np.ndarray, mask: np.ndarray) -> bool:
    """Whether the marked levels' predicted rows run in the same order as their marked rows."""
    chosen = np.asarray(mask, dtype=bool)
    if chosen.sum() < 2:
        return True
    return bool(
        np.array_equal(
            np.argsort(np.asarray(predicted_rows)[chosen], kind="stable"),
            np.argsort(np.asarray(marked_rows)[chosen], kind="stable"),
        )
    )


def level_report(
    errors: np.ndarray, in_order: np.ndarray, baseline_errors: np.ndarray | None = None
) -> dict[str, Any]:
    """The figures of one split: per level and overall mean, median and 90th percentile error
    (mm), the share within WITHIN_MM with its Wilson interval, the share of series in order;
    and, given `baseline_errors` (the same shape), the baseline's figures beside them."""
    errors = np.asarray(errors, dtype=np.float64)
    report: dict[str, Any] = {
        "series": len(errors),
        "within_mm": WITHIN_MM,
        **_error_figures(errors[np.isfinite(errors)]),
        "order_accuracy": _share(int(np.sum(in_order)), len(in_order)),
        "order_accuracy_ci": wilson_interval(int(np.sum(in_order)), len(in_order)),
        "per_level": {
            level: _error_figures(column[np.isfinite(column)])
            for level, column in zip(LEVELS, errors.T, strict=True)
        },
    }
    if baseline_errors is not None:
        baseline = np.asarray(baseline_errors, dtype=np.float64)
        report["mean_position_baseline"] = _error_figures(baseline[np.isfinite(baseline)])
    return report


def _error_figures(errors: np.ndarray) -> dict[str, Any]:
    count = len(errors)
    hits = int(np.sum(errors <= WITHIN_MM))
    if count == 0:
        return {"levels": 0}
    return {
        "levels": count,
        "mean_mm": round(float(np.mean(errors)), 2),
        "median_mm": round(float(np.median(errors)), 2),
        "p90_mm": round(float(np.percentile(errors, 90)), 2),
        "within": _share(hits, count),
        "within_ci": wilson_interval(hits, count),
    }


def _share(hits: int, count: int) -> float | None:
    return round(hits / count, 4) if count else None


def judge_level_usability(metrics: Mapping[str, Any] | None) -> Usability:
    """Usable when the test split's within-5-mm rate lies, with its 95 % interval, above the
    mean-position baseline's; otherwise not, with the figures that decided it."""
    test = (metrics or {}).get("test")
    if not isinstance(test, Mapping) or not test.get("levels"):
        return Usability(
            False, "no test localisation figures were recorded, so it cannot be judged"
        )
    within, interval = test.get("within"), test.get("within_ci")
    baseline = test.get("mean_position_baseline", {}).get("within")
    if not isinstance(within, int | float) or not isinstance(interval, list):
        return Usability(False, "the test figures have no within-5-mm rate with an interval")
    text = (
        f"{within:.0%} of test levels within {WITHIN_MM:g} mm "
        f"(95 % interval {interval[0]:.0%}–{interval[1]:.0%})"
    )
    if not isinstance(baseline, int | float):
        return Usability(False, f"{text}, but no mean-position baseline to compare with")
    baseline_text = f"placing each level at its training mean position gives {baseline:.0%}"
    if interval[0] <= baseline:
        return Usability(
            False, f"{text}, not above the baseline ({baseline_text}): it may have learnt nothing"
        )
    if interval[0] < USABLE_WITHIN:
        return Usability(
            False, f"{text}: below the {USABLE_WITHIN:.0%} a level model must place to be used"
        )
    order = test.get("order_accuracy")
    order_text = f"; {order:.0%} of series in order" if isinstance(order, int | float) else ""
    return Usability(True, f"{text}, above the baseline ({baseline_text}){order_text}")

"""The quality gate: is a model usable, judged from its test metrics? One place for the rule.

Pure Python on the manifest's `metrics` dict (no NumPy, no TensorFlow, no Qt), so the picker,
the CLI and every writer of results can ask before TensorFlow has loaded.

The rule, applied to the calibrated test metrics (else the raw ones, else a flat dict):

1. No test metrics at all → not usable: the model cannot be judged.
2. No ROC AUC (the test split held one class only, or none was recorded) → not usable: the
   model cannot be judged.
3. Every test slice predicted as one class (at the threshold, on the calibrated probability) →
   not usable: the model predicts one class.
4. The lower end of the ROC AUC's bootstrap 95 % interval is ≤ 0.5 → not usable: chance lies
   inside the interval, so the model may have learnt nothing.
5. An interval recorded as none (the test split held fewer than 2 studies of a class, so
   resampling could not vary it) → not usable: the model cannot be judged.
6. Metrics without an interval key (written before intervals existed) are judged on the point
   estimate: ROC AUC ≤ 0.5 → not usable; otherwise usable, and the reason says the interval
   is unknown.

Otherwise the model is usable. Every failing check contributes to the reason. Metrics are
free-form JSON written by whichever spineview trained the model: odd values are treated as
missing, never an error.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeGuard

CHANCE_AUC = 0.5
"""An interval that reaches this ROC AUC does not rule out a model that learnt nothing."""
NOT_USABLE = "not usable"
"""The short mark shown beside a not-usable model's name and results."""


@dataclass(frozen=True)
class Usability:
    usable: bool
    reason: str
    """One or more sentences: why (or, for a usable model, on what evidence)."""

    @property
    def warning(self) -> str | None:
        """The line every result made with a not-usable model carries; None when usable."""
        return None if self.usable else f"model not usable: {self.reason}"

    def to_dict(self) -> dict[str, Any]:
        return {"usable": self.usable, "reason": self.reason}


def judge_usability(
    metrics: Mapping[str, Any] | None, class_names: Sequence[str] = ("healthy", "degenerative")
) -> Usability:
    """Judge a model by its test `metrics` (an `evaluation_report` dict, or an older flat one).

    `class_names` name the classes in the "predicts one class" reason. See the module docstring
    for the rule.
    """
    test = headline_metrics(metrics)
    if not test:
        return Usability(False, "no test metrics were recorded, so the model cannot be judged")
    problems: list[str] = []
    auc = test.get("roc_auc")
    positives, negatives = test.get("positives"), test.get("negatives")
    interval = auc_interval(test)
    if not _is_number(auc):
        if _is_count(positives) and _is_count(negatives) and min(positives, negatives) == 0:
            names = _names(class_names)
            problems.append(
                f"the test split holds one class only ({negatives} {names[0]}, {positives} "
                f"{names[1]}): no ROC AUC can be computed, so the model cannot be judged"
            )
        else:
            problems.append("no test ROC AUC was recorded, so the model cannot be judged")

    one_class = _one_class_prediction(test, class_names)
    if one_class:
        problems.append(one_class)

    if _is_number(auc):
        if interval is not None:
            low, high = interval
            text = f"ROC AUC {auc:.2f} (95 % interval {low:.2f}–{high:.2f})"
            if low <= CHANCE_AUC:
                problems.insert(0, f"{text} reaches 0.5: the model may have learnt nothing")
            elif not problems:
                return Usability(True, f"{text} lies above 0.5 and both classes are predicted")
        elif "roc_auc_ci" in test and test["roc_auc_ci"] is None:  # too few studies for one
            problems.insert(
                0,
                f"ROC AUC {auc:.2f} has no 95 % interval: the test split holds too few "
                "studies of a class to resample, so the model cannot be judged",
            )
        else:
            text = f"ROC AUC {auc:.2f} (95 % interval unknown: these metrics have none)"
            if auc <= CHANCE_AUC:
                problems.insert(0, f"{text} is no better than chance")
            elif not problems:
                return Usability(True, f"{text} lies above 0.5")
    reason = "; ".join(problems)
    return Usability(False, reason[0].upper() + reason[1:])


def headline_metrics(metrics: Mapping[str, Any] | None) -> Mapping[str, Any]:
    """The calibrated test metrics, else the raw ones, else a flat metrics dict ({} if none)."""
    if not isinstance(metrics, Mapping):
        return {}
    for name in ("calibrated", "raw"):
        part = metrics.get(name)
        if isinstance(part, Mapping):
            return part
    return metrics


def auc_interval(test: Mapping[str, Any]) -> tuple[float, float] | None:
    """The (low, high) of the ROC AUC's 95 % interval in `test`, None when absent or odd."""
    return as_interval(test.get("roc_auc_ci"))


def as_interval(value: Any) -> tuple[float, float] | None:
    """A stored interval ([low, high], two finite numbers, low <= high) as a tuple, else None."""
    if isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 2:
        low, high = value
        if _is_number(low) and _is_number(high) and low <= high:
            return float(low), float(high)
    return None


def _one_class_prediction(test: Mapping[str, Any], class_names: Sequence[str]) -> str | None:
    counts = _predicted_counts(test)
    if counts is None:
        return None
    negative, positive = counts
    if negative and positive:
        return None
    total = negative + positive
    if total == 0:
        return None
    name = _names(class_names)[1 if positive else 0]
    return f"all {total} test slices were predicted {name}: the model predicts one class"


def _predicted_counts(test: Mapping[str, Any]) -> tuple[int, int] | None:
    """(predicted negatives, predicted positives), from the counts or the confusion matrix."""
    negative, positive = test.get("predicted_negatives"), test.get("predicted_positives")
    if _is_count(negative) and _is_count(positive):
        return negative, positive
    matrix = test.get("confusion_matrix")  # [[tn, fp], [fn, tp]]
    if (
        isinstance(matrix, Sequence)
        and len(matrix) == 2
        and all(isinstance(row, Sequence) and len(row) == 2 for row in matrix)
        and all(_is_count(cell) for row in matrix for cell in row)
    ):
        (tn, fp), (fn, tp) = matrix
        return tn + fn, fp + tp
    return None


def _names(class_names: Sequence[str]) -> tuple[str, str]:
    if len(class_names) >= 2:
        return str(class_names[0]), str(class_names[1])
    return "negative", "positive"


def _is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_count(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0

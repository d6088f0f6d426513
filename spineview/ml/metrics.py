"""Evaluation of a binary classifier (class 1 = "degenerative"), in plain numpy.

Everything here takes the true labels (0/1) and the model's probability of class 1, validates
both, and returns plain Python numbers where a result leaves the module, so reports can be
written as JSON without conversion.

Rules for undefined quantities (never a crash, never a numpy warning):

- A ratio whose denominator is zero is 0.0: precision with no predicted positives, recall
  (sensitivity) with no true positives in the labels, specificity with no negatives, F1 when
  precision + recall is 0.
- Balanced accuracy is the mean of recall and specificity over the classes present in
  `y_true` (with one class only it is that class's recall).
- ROC AUC needs both classes and is None otherwise; average precision needs at least one
  positive and is None otherwise.
- A slice counts as predicted positive when its probability is >= the threshold.

Calibration is temperature scaling: probabilities are turned back into logits, divided by one
scalar T fitted on held-out data, and passed through the sigmoid again. T > 1 softens an
over-confident model; the ranking of the slices, and so the ROC AUC, does not change.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

#: Probabilities are clipped to [eps, 1 - eps] before a logarithm in the log loss.
LOG_LOSS_EPSILON = 1e-12
#: Probabilities are clipped to [eps, 1 - eps] before they are turned into logits: a float32
#: sigmoid cannot resolve probabilities closer to 0 or 1 than this anyway.
LOGIT_EPSILON = 1e-7
#: The temperature search interval (T is clamped to it).
TEMPERATURE_RANGE = (0.05, 20.0)

MetricValue = float | int | list[list[int]] | None

_GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0  # 0.618...


# ---------------------------------------------------------------------------------------------
# validation


def _as_vector(values: Any, name: str) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array, got shape {array.shape}")
    if array.size == 0:
        raise ValueError(f"{name} is empty: need at least one sample")
    if array.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be numeric, got dtype {array.dtype}")
    return array


def _check_labels(y_true: Any) -> np.ndarray:
    labels = _as_vector(y_true, "y_true")
    if not np.all(np.isfinite(labels)):
        raise ValueError("y_true contains NaN or infinite values; labels must be 0 or 1")
    if not np.all((labels == 0) | (labels == 1)):
        found = sorted({float(v) for v in np.unique(labels)} - {0.0, 1.0})[:5]
        raise ValueError(f"y_true must contain only 0 and 1, found {found}")
    return labels.astype(np.int64)


def _check_probability(probability: Any, name: str = "probability") -> np.ndarray:
    values = _as_vector(probability, name).astype(np.float64)
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{name} contains NaN or infinite values")
    if values.min() < 0.0 or values.max() > 1.0:
        raise ValueError(
            f"{name} must lie in [0, 1], got values in [{values.min():.6g}, {values.max():.6g}]"
        )
    return values


def _check_logits(logits: Any) -> np.ndarray:
    values = _as_vector(logits, "logits").astype(np.float64)
    if not np.all(np.isfinite(values)):
        raise ValueError("logits contain NaN or infinite values")
    return values


def _check_same_length(labels: np.ndarray, other: np.ndarray, name: str) -> None:
    if labels.shape != other.shape:
        raise ValueError(
            f"y_true and {name} must have the same length, got {labels.size} and {other.size}"
        )


def _check_pair(y_true: Any, probability: Any) -> tuple[np.ndarray, np.ndarray]:
    labels = _check_labels(y_true)
    values = _check_probability(probability)
    _check_same_length(labels, values, "probability")
    return labels, values


def _check_unit_interval(value: float, name: str) -> float:
    number = float(value)
    if not math.isfinite(number) or not 0.0 <= number <= 1.0:
        raise ValueError(f"{name} must be a finite number in [0, 1], got {value!r}")
    return number


def _check_bins(bins: int) -> int:
    if isinstance(bins, bool) or not isinstance(bins, int | np.integer) or bins < 1:
        raise ValueError(f"bins must be a positive integer, got {bins!r}")
    return int(bins)


def _check_temperature(temperature: float) -> float:
    value = float(temperature)
    if not math.isfinite(value) or value <= 0.0:
        raise ValueError(f"temperature must be a finite number > 0, got {temperature!r}")
    return value


def _ratio(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else 0.0


# ---------------------------------------------------------------------------------------------
# threshold metrics and ranking metrics


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """1-based ranks of `values`, tied values sharing the mean of their ranks."""
    order = np.argsort(values, kind="mergesort")
    ordered = values[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    ends = np.r_[starts[1:], ordered.size]  # exclusive
    mean_rank = (starts + 1 + ends) / 2.0  # mean of starts+1 .. ends
    ranks = np.empty(values.size, dtype=np.float64)
    ranks[order] = np.repeat(mean_rank, ends - starts)
    return ranks


def _roc_auc(labels: np.ndarray, values: np.ndarray) -> float | None:
    positives = int(labels.sum())
    negatives = labels.size - positives
    if positives == 0 or negatives == 0:
        return None
    rank_sum = float(_average_ranks(values)[labels == 1].sum())
    return (rank_sum - positives * (positives + 1) / 2.0) / (positives * negatives)


def _cumulative_counts(
    labels: np.ndarray, values: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """True/false positives when thresholding at each distinct score, highest score first."""
    order = np.argsort(-values, kind="mergesort")
    ordered = values[order]
    hits = labels[order]
    last_of_group = np.flatnonzero(np.r_[ordered[1:] != ordered[:-1], True])
    true_positives = np.cumsum(hits)[last_of_group]
    false_positives = (last_of_group + 1) - true_positives
    return true_positives, false_positives, ordered[last_of_group]


def _average_precision(labels: np.ndarray, values: np.ndarray) -> float | None:
    """Sum over distinct thresholds of (recall step) x precision, without interpolation."""
    positives = int(labels.sum())
    if positives == 0:
        return None
    true_positives, false_positives, _ = _cumulative_counts(labels, values)
    precision = true_positives / (true_positives + false_positives)
    recall_step = np.diff(np.r_[0, true_positives]) / positives
    return float(np.sum(recall_step * precision))


def binary_metrics(
    y_true: np.ndarray, probability: np.ndarray, threshold: float = 0.5
) -> dict[str, MetricValue]:
    """Threshold, ranking and probabilistic metrics of a binary classifier.

    Keys: n, positives, negatives, threshold, accuracy, balanced_accuracy, precision, recall
    (= sensitivity), specificity, f1, roc_auc (None with one class), average_precision (None
    without positives), brier, log_loss, confusion_matrix ([[tn, fp], [fn, tp]], rows = true
    class, columns = predicted class). See the module docstring for the zero-denominator rules.
    """
    labels, values = _check_pair(y_true, probability)
    cut = _check_unit_interval(threshold, "threshold")
    predicted = values >= cut
    actual = labels == 1
    tp = int(np.sum(predicted & actual))
    fp = int(np.sum(predicted & ~actual))
    fn = int(np.sum(~predicted & actual))
    tn = int(np.sum(~predicted & ~actual))
    positives, negatives = tp + fn, tn + fp
    precision = _ratio(tp, tp + fp)
    recall = _ratio(tp, positives)
    specificity = _ratio(tn, negatives)
    present = [rate for rate, count in ((recall, positives), (specificity, negatives)) if count]
    clipped = np.clip(values, LOG_LOSS_EPSILON, 1.0 - LOG_LOSS_EPSILON)
    log_loss = -np.mean(labels * np.log(clipped) + (1 - labels) * np.log1p(-clipped))
    return {
        "n": int(labels.size),
        "positives": positives,
        "negatives": negatives,
        "threshold": cut,
        "accuracy": (tp + tn) / labels.size,
        "balanced_accuracy": float(sum(present) / len(present)),
        "precision": precision,
        "recall": recall,
        "specificity": specificity,
        "f1": 2.0 * precision * recall / (precision + recall) if precision + recall else 0.0,
        "roc_auc": _roc_auc(labels, values),
        "average_precision": _average_precision(labels, values),
        "brier": float(np.mean((values - labels) ** 2)),
        "log_loss": float(log_loss),
        "confusion_matrix": [[tn, fp], [fn, tp]],
    }


def roc_curve(
    y_true: np.ndarray, probability: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fpr, tpr, thresholds) of the ROC curve, one point per distinct probability.

    The first point is (0, 0) at threshold +inf; point k predicts positive where
    probability >= thresholds[k]. Tied scores give one diagonal step, so the trapezoid area
    under the curve equals the rank-based `roc_auc` of `binary_metrics`. Raises ValueError
    unless both classes are present.
    """
    labels, values = _check_pair(y_true, probability)
    positives = int(labels.sum())
    negatives = labels.size - positives
    if positives == 0 or negatives == 0:
        raise ValueError(
            f"a ROC curve needs both classes, got {positives} positives and {negatives} negatives"
        )
    true_positives, false_positives, thresholds = _cumulative_counts(labels, values)
    fpr = np.r_[0.0, false_positives / negatives]
    tpr = np.r_[0.0, true_positives / positives]
    return fpr, tpr, np.r_[np.inf, thresholds]


# ---------------------------------------------------------------------------------------------
# calibration


@dataclass(frozen=True)
class ReliabilityCurve:
    """Equal-width bins over [0, 1]; the last bin includes 1.0.

    `mean_confidence` is the mean predicted probability of class 1 in a bin and
    `observed_frequency` the fraction of class 1 there; both are NaN for an empty bin.
    """

    bin_edges: np.ndarray  # (bins + 1,)
    mean_confidence: np.ndarray  # (bins,)
    observed_frequency: np.ndarray  # (bins,)
    counts: np.ndarray  # (bins,) int64

    def to_dict(self) -> dict[str, list[float | None] | list[float] | list[int]]:
        """Plain lists for JSON; empty bins are None."""

        def plain(values: np.ndarray) -> list[float | None]:
            return [float(v) if math.isfinite(v) else None for v in values]

        return {
            "bin_edges": [float(v) for v in self.bin_edges],
            "mean_confidence": plain(self.mean_confidence),
            "observed_frequency": plain(self.observed_frequency),
            "counts": [int(v) for v in self.counts],
        }


def _bin_index(values: np.ndarray, bins: int) -> np.ndarray:
    return np.minimum((values * bins).astype(np.int64), bins - 1)


def reliability_curve(
    y_true: np.ndarray, probability: np.ndarray, bins: int = 10
) -> ReliabilityCurve:
    """Per equal-width bin: mean predicted probability, observed frequency of class 1, count."""
    labels, values = _check_pair(y_true, probability)
    count_bins = _check_bins(bins)
    index = _bin_index(values, count_bins)
    counts = np.bincount(index, minlength=count_bins)
    confidence_sum = np.bincount(index, weights=values, minlength=count_bins)
    positive_sum = np.bincount(index, weights=labels.astype(np.float64), minlength=count_bins)
    filled = counts > 0
    mean_confidence = np.full(count_bins, np.nan)
    observed = np.full(count_bins, np.nan)
    mean_confidence[filled] = confidence_sum[filled] / counts[filled]
    observed[filled] = positive_sum[filled] / counts[filled]
    return ReliabilityCurve(
        bin_edges=np.linspace(0.0, 1.0, count_bins + 1),
        mean_confidence=mean_confidence,
        observed_frequency=observed,
        counts=counts.astype(np.int64),
    )


def expected_calibration_error(
    y_true: np.ndarray, probability: np.ndarray, bins: int = 10
) -> float:
    """Sum over bins of (bin count / n) x |observed frequency - mean confidence|."""
    curve = reliability_curve(y_true, probability, bins)
    filled = curve.counts > 0
    gaps = np.abs(curve.observed_frequency[filled] - curve.mean_confidence[filled])
    return float(np.sum(curve.counts[filled] * gaps) / np.sum(curve.counts))


def probability_to_logit(probability: np.ndarray, epsilon: float = LOGIT_EPSILON) -> np.ndarray:
    """log(p / (1 - p)) with p clipped to [epsilon, 1 - epsilon] (float64)."""
    values = _check_probability(probability)
    if not 0.0 < epsilon < 0.5:
        raise ValueError(f"epsilon must lie in (0, 0.5), got {epsilon!r}")
    clipped = np.clip(values, epsilon, 1.0 - epsilon)
    return np.log(clipped) - np.log1p(-clipped)


def _sigmoid(values: np.ndarray) -> np.ndarray:
    return np.exp(-np.logaddexp(0.0, -values))  # stable for large |values|


def apply_temperature(logits: np.ndarray, temperature: float) -> np.ndarray:
    """sigmoid(logits / temperature) as float64 probabilities."""
    values = _check_logits(logits)
    return _sigmoid(values / _check_temperature(temperature))


def calibrate_probability(probability: np.ndarray, temperature: float) -> np.ndarray:
    """Temperature-scaled probabilities: sigmoid(logit(p) / temperature)."""
    return apply_temperature(probability_to_logit(probability), temperature)


def _negative_log_likelihood(labels: np.ndarray, logits: np.ndarray, log_t: float) -> float:
    scaled = logits * math.exp(-log_t)
    # -[y log s(x) + (1 - y) log(1 - s(x))] = softplus(x) - y x
    return float(np.mean(np.logaddexp(0.0, scaled) - labels * scaled))


def fit_temperature(y_true: np.ndarray, logits: np.ndarray) -> float:
    """The T > 0 that minimises the mean negative log-likelihood of sigmoid(logits / T).

    Golden-section search on log T over `TEMPERATURE_RANGE` (the likelihood is unimodal in
    log T, since it is convex in 1/T), to a relative precision of about 1e-9; deterministic.
    The result is clamped to the range: data that the logits separate perfectly push T to the
    lower end. All-zero logits carry no information and give T = 1.
    """
    labels = _check_labels(y_true)
    values = _check_logits(logits)
    _check_same_length(labels, values, "logits")
    if not np.any(values):
        return 1.0
    low, high = math.log(TEMPERATURE_RANGE[0]), math.log(TEMPERATURE_RANGE[1])
    left = high - _GOLDEN * (high - low)
    right = low + _GOLDEN * (high - low)
    f_left = _negative_log_likelihood(labels, values, left)
    f_right = _negative_log_likelihood(labels, values, right)
    while high - low > 1e-9:
        if f_left <= f_right:
            high, right, f_right = right, left, f_left
            left = high - _GOLDEN * (high - low)
            f_left = _negative_log_likelihood(labels, values, left)
        else:
            low, left, f_left = left, right, f_right
            right = low + _GOLDEN * (high - low)
            f_right = _negative_log_likelihood(labels, values, right)
    return float(math.exp((low + high) / 2.0))


# ---------------------------------------------------------------------------------------------
# report


def evaluation_report(
    y_true: np.ndarray,
    probability_raw: np.ndarray,
    temperature: float,
    threshold: float = 0.5,
    bins: int = 10,
) -> dict[str, Any]:
    """Metrics before and after temperature scaling, as JSON-ready plain Python values.

    Keys: n, threshold, temperature, bins, raw, calibrated (each a `binary_metrics` dict),
    ece_raw, ece_calibrated, reliability_raw, reliability_calibrated
    (each `ReliabilityCurve.to_dict()`: bin_edges, mean_confidence, observed_frequency, counts;
    None for empty bins). Calibrated probabilities are `calibrate_probability(raw, temperature)`.
    """
    labels, raw = _check_pair(y_true, probability_raw)
    scale = _check_temperature(temperature)
    count_bins = _check_bins(bins)
    calibrated = calibrate_probability(raw, scale)
    return {
        "n": int(labels.size),
        "threshold": _check_unit_interval(threshold, "threshold"),
        "temperature": scale,
        "bins": count_bins,
        "raw": binary_metrics(labels, raw, threshold),
        "calibrated": binary_metrics(labels, calibrated, threshold),
        "ece_raw": expected_calibration_error(labels, raw, count_bins),
        "ece_calibrated": expected_calibration_error(labels, calibrated, count_bins),
        "reliability_raw": reliability_curve(labels, raw, count_bins).to_dict(),
        "reliability_calibrated": reliability_curve(labels, calibrated, count_bins).to_dict(),
    }

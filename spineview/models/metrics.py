"""Evaluation of a binary classifier (class 1 = "degenerative").

The metrics themselves are scikit-learn's (`sklearn.metrics`: ROC AUC, ROC curve, average
precision, log loss, Brier score, confusion matrix), imported on first use: importing it takes
about a second, which callers that only need temperature scaling should not pay. This module
adds the validation, the rules below for undefined quantities, temperature scaling, the
reliability curve and the bootstrap intervals.

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

Test splits are often small (tens of slices), so `evaluation_report` gives bootstrap 95 %
intervals beside the point estimates: the positives and the negatives are each resampled with
replacement (stratified, so every resample has both classes whenever the data has), the metric
is computed on each of `BOOTSTRAP_RESAMPLES` resamples drawn by a NumPy Generator seeded with
`BOOTSTRAP_SEED`, and the interval is the 2.5th to 97.5th percentile of those values. The same
data always gives the same interval. Given the study (or patient) of each slice, whole studies
are resampled instead: neighbouring slices of one study are far from independent, and treating
them as independent makes the intervals too narrow.
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

#: Bootstrap resamples behind each interval, and the seed of their Generator.
BOOTSTRAP_RESAMPLES = 2_000
BOOTSTRAP_SEED = 20_241_127
#: The coverage of the percentile intervals.
CONFIDENCE = 0.95

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


def wilson_interval(hits: int, count: int, z: float = 1.96) -> list[float] | None:
    """The Wilson score 95 % interval of a proportion (rounded to 3 decimals); None for none."""
    if count == 0:
        return None
    share = hits / count
    centre = (share + z * z / (2 * count)) / (1 + z * z / count)
    half = z * np.sqrt(share * (1 - share) / count + z * z / (4 * count * count))
    half /= 1 + z * z / count
    return [round(max(float(centre - half), 0.0), 3), round(min(float(centre + half), 1.0), 3)]


def _roc_auc(labels: np.ndarray, values: np.ndarray) -> float | None:
    """scikit-learn's ROC AUC (ties count one half); None unless both classes are present."""
    from sklearn.metrics import roc_auc_score

    positives = int(labels.sum())
    if positives in (0, labels.size):
        return None  # roc_auc_score would warn and return NaN
    return float(roc_auc_score(labels, values))


def _average_precision(labels: np.ndarray, values: np.ndarray) -> float | None:
    """scikit-learn's average precision: the sum over distinct thresholds of (recall step) x
    precision, without interpolation; None without positives."""
    from sklearn.metrics import average_precision_score

    if not labels.any():
        return None  # average_precision_score would warn and return 0.0
    return float(average_precision_score(labels, values))


def binary_metrics(
    y_true: np.ndarray, probability: np.ndarray, threshold: float = 0.5
) -> dict[str, MetricValue]:
    """Threshold, ranking and probabilistic metrics of a binary classifier.

    Keys: n, positives, negatives, threshold, accuracy, balanced_accuracy, precision, recall
    (= sensitivity), specificity, f1, roc_auc (None with one class), average_precision (None
    without positives), brier, log_loss, confusion_matrix ([[tn, fp], [fn, tp]], rows = true
    class, columns = predicted class). See the module docstring for the zero-denominator rules.
    """
    from sklearn.metrics import brier_score_loss, confusion_matrix, log_loss

    labels, values = _check_pair(y_true, probability)
    cut = _check_unit_interval(threshold, "threshold")
    predicted = (values >= cut).astype(np.int64)
    # labels=[0, 1]: a 2 x 2 matrix (and a log loss) even when the data hold one class only
    (tn, fp), (fn, tp) = confusion_matrix(labels, predicted, labels=[0, 1]).tolist()
    positives, negatives = tp + fn, tn + fp
    precision = _ratio(tp, tp + fp)
    recall = _ratio(tp, positives)
    specificity = _ratio(tn, negatives)
    present = [rate for rate, count in ((recall, positives), (specificity, negatives)) if count]
    # Clipped here, as before: log_loss itself clips to the float64 machine epsilon, which
    # would turn a certain mistake into 36 instead of -log(1e-12) = 27.6.
    clipped = np.clip(values, LOG_LOSS_EPSILON, 1.0 - LOG_LOSS_EPSILON)
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
        "brier": float(brier_score_loss(labels, values, pos_label=1)),
        "log_loss": float(log_loss(labels, clipped, labels=[0, 1])),
        "confusion_matrix": [[tn, fp], [fn, tp]],
    }


def roc_curve(
    y_true: np.ndarray, probability: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fpr, tpr, thresholds) of the ROC curve, one point per distinct probability.

    The first point is (0, 0) at threshold +inf; point k predicts positive where
    probability >= thresholds[k]. Tied scores give one diagonal step, so the trapezoid area
    under the curve equals the `roc_auc` of `binary_metrics`. Raises ValueError
    unless both classes are present. scikit-learn's `roc_curve` without dropping points.
    """
    from sklearn.metrics import roc_curve as sklearn_roc_curve

    labels, values = _check_pair(y_true, probability)
    positives = int(labels.sum())
    negatives = labels.size - positives
    if positives == 0 or negatives == 0:
        raise ValueError(
            f"a ROC curve needs both classes, got {positives} positives and {negatives} negatives"
        )
    fpr, tpr, thresholds = sklearn_roc_curve(labels, values, drop_intermediate=False)
    return fpr, tpr, thresholds


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


# Not sklearn.calibration.calibration_curve: it leaves out empty bins and returns no counts
# (which the ECE and the reports need), and it puts a probability that lies on an inner edge in
# the lower bin (0.5 in [0.4, 0.5) with 10 bins), where this curve, like the threshold, puts it
# in the upper one.
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
# bootstrap intervals

Interval = list[float] | None
"""[low, high] of a percentile interval, or None where the metric is undefined."""

#: The metrics that get an interval, as keys "<name>_ci" beside the point estimates.
INTERVAL_METRICS = ("roc_auc", "balanced_accuracy", "recall", "specificity")
MIN_RESAMPLED_UNITS = 2
"""A bootstrap interval needs at least this many units (studies with groups, else slices) in
each stratum: resampling one unit gives the same sample every time, an interval of width 0."""


def _resample_counts(size: int, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """(resamples, size) int64: how often each of `size` items is drawn in each resample of
    `size` draws with replacement."""
    if size == 0:
        return np.zeros((resamples, 0), dtype=np.int64)
    draws = rng.integers(0, size, size=(resamples, size))
    offsets = (np.arange(resamples, dtype=np.int64) * size)[:, None]
    return np.bincount((draws + offsets).ravel(), minlength=resamples * size).reshape(
        resamples, size
    )


def _percentile_interval(values: np.ndarray, confidence: float) -> list[float]:
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(values, [tail, 1.0 - tail])
    return [float(low), float(high)]


def _group_resample_weights(
    labels: np.ndarray, groups: Any, resamples: int, rng: np.random.Generator
) -> np.ndarray:
    """(resamples, n) float64: how often each slice is drawn when whole groups are resampled,
    groups holding a positive and the others each to their own number."""
    names = np.asarray(groups)
    if names.shape != labels.shape:
        raise ValueError(
            f"groups must give one group per sample, got {names.size} for {labels.size} samples"
        )
    unique, index = np.unique(names, return_inverse=True)
    has_positive = np.zeros(unique.size, dtype=bool)
    has_positive[index[labels == 1]] = True
    group_counts = np.zeros((resamples, unique.size))
    for stratum in (has_positive, ~has_positive):
        members = np.flatnonzero(stratum)
        if members.size:
            group_counts[:, members] = _resample_counts(members.size, resamples, rng)
    return group_counts[:, index]


def bootstrap_intervals(
    y_true: np.ndarray,
    probability: np.ndarray,
    threshold: float = 0.5,
    *,
    groups: Any = None,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
    confidence: float = CONFIDENCE,
) -> dict[str, Interval]:
    """Stratified bootstrap percentile intervals of ROC AUC, balanced accuracy, recall
    (sensitivity) and specificity: keys "<metric>_ci", each [low, high] or None.

    Without `groups`, positives and negatives are resampled separately, each to its own count.
    With `groups` (one study or patient id per sample) whole groups are resampled instead,
    groups that hold a positive and the others separately: slices of one study are not
    independent, and resampling them one by one gives intervals that are too narrow. A
    `np.random.default_rng(seed)` draws the resamples; the interval runs from the
    (1 - confidence) / 2 to the (1 + confidence) / 2 quantile of the resampled values
    (resamples that lack the class a metric needs are left out of that metric). ROC AUC needs
    both classes, recall positives and specificity negatives (None otherwise); balanced
    accuracy is, as in `binary_metrics`, the mean rate over the classes present.
    Deterministic for a given seed.
    """
    labels, values = _check_pair(y_true, probability)
    cut = _check_unit_interval(threshold, "threshold")
    if isinstance(resamples, bool) or not isinstance(resamples, int) or resamples < 1:
        raise ValueError(f"resamples must be a positive integer, got {resamples!r}")
    level = float(confidence)
    if not 0.0 < level < 1.0:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence!r}")
    rng = np.random.default_rng(seed)
    positive, negative = labels == 1, labels == 0
    if _too_few_units(labels, groups):
        return {f"{name}_ci": None for name in INTERVAL_METRICS}
    positive_scores, negative_scores = values[positive], values[negative]
    n_pos, n_neg = positive_scores.size, negative_scores.size
    if groups is None:
        positive_counts = _resample_counts(n_pos, resamples, rng).astype(np.float64)
        negative_counts = _resample_counts(n_neg, resamples, rng).astype(np.float64)
    else:
        weights = _group_resample_weights(labels, groups, resamples, rng)
        positive_counts, negative_counts = weights[:, positive], weights[:, negative]
    drawn_pos, drawn_neg = positive_counts.sum(axis=1), negative_counts.sum(axis=1)
    has_pos, has_neg = drawn_pos > 0, drawn_neg > 0

    result: dict[str, Interval] = {f"{name}_ci": None for name in INTERVAL_METRICS}
    rates = []
    with np.errstate(invalid="ignore", divide="ignore"):
        if n_pos:
            recall = positive_counts @ (positive_scores >= cut).astype(np.float64) / drawn_pos
            result["recall_ci"] = _percentile_interval(recall[has_pos], level)
            rates.append(recall)
        if n_neg:
            specificity = negative_counts @ (negative_scores < cut).astype(np.float64) / drawn_neg
            result["specificity_ci"] = _percentile_interval(specificity[has_neg], level)
            rates.append(specificity)
    both = (has_pos if n_pos else True) & (has_neg if n_neg else True)
    result["balanced_accuracy_ci"] = _percentile_interval(np.mean(rates, axis=0)[both], level)
    if n_pos and n_neg:
        # Vectorised over all resamples, not sklearn's roc_auc_score per resample: with 2,000
        # resamples that took 3.2 s for 70 slices and 4.1 s for 1,500 (as sample weights),
        # against 5 ms and 164 ms for the whole of this function (measured, scikit-learn 1.9).
        # tests/ml/test_quality_gate.py checks this formula against roc_auc_score.
        # AUC of a resample = sum over its positives of (negatives below + half the negatives
        # level with the positive's score) / (positives drawn * negatives drawn), read from
        # cumulative counts of the resampled negatives in score order.
        order = np.argsort(negative_scores, kind="mergesort")
        ordered = negative_scores[order]
        below = np.searchsorted(ordered, positive_scores, side="left")
        up_to = np.searchsorted(ordered, positive_scores, side="right")
        cumulative = np.zeros((resamples, n_neg + 1))
        np.cumsum(negative_counts[:, order], axis=1, out=cumulative[:, 1:])
        wins = (cumulative[:, below] + cumulative[:, up_to]) / 2.0
        valid = has_pos & has_neg
        auc = np.sum(positive_counts[valid] * wins[valid], axis=1) / (
            drawn_pos[valid] * drawn_neg[valid]
        )
        result["roc_auc_ci"] = _percentile_interval(auc, level) if auc.size else None
    return result


def _too_few_units(labels: np.ndarray, groups: Any) -> bool:
    """Whether a stratum that holds samples has fewer than MIN_RESAMPLED_UNITS units."""
    if groups is None:
        counts = [int(np.sum(labels == 1)), int(np.sum(labels == 0))]
    else:
        names = np.asarray(groups)
        if names.shape != labels.shape:
            return False  # _group_resample_weights says what is wrong
        positive_groups = set(names[labels == 1].tolist())
        other_groups = set(names.tolist()) - positive_groups
        counts = [len(positive_groups), len(other_groups)]
    return any(0 < count < MIN_RESAMPLED_UNITS for count in counts)


def predicted_counts(probability: np.ndarray, threshold: float = 0.5) -> dict[str, int]:
    """How many slices are predicted negative (< threshold) and positive (>= threshold)."""
    values = _check_probability(probability)
    cut = _check_unit_interval(threshold, "threshold")
    positive = int(np.sum(values >= cut))
    return {"predicted_negatives": int(values.size - positive), "predicted_positives": positive}


def _bootstrap_description(groups: Any) -> dict[str, Any]:
    description: dict[str, Any] = {
        "method": "stratified percentile"
        if groups is None
        else "study-level (whole groups), stratified percentile",
        "resamples": BOOTSTRAP_RESAMPLES,
        "seed": BOOTSTRAP_SEED,
        "confidence": CONFIDENCE,
    }
    if groups is not None:
        description["groups"] = len(set(np.asarray(groups).tolist()))
    return description


# ---------------------------------------------------------------------------------------------
# report


def evaluation_report(
    y_true: np.ndarray,
    probability_raw: np.ndarray,
    temperature: float,
    threshold: float = 0.5,
    bins: int = 10,
    *,
    groups: Any = None,
) -> dict[str, Any]:
    """Metrics before and after temperature scaling, as JSON-ready plain Python values.

    Keys: n, threshold, temperature, bins, raw, calibrated, bootstrap, ece_raw, ece_calibrated,
    reliability_raw, reliability_calibrated. `raw` and `calibrated` are each a `binary_metrics`
    dict plus the `bootstrap_intervals` beside the point estimates (roc_auc_ci,
    balanced_accuracy_ci, recall_ci, specificity_ci: [low, high] or None) and the
    `predicted_counts` (predicted_negatives, predicted_positives). `bootstrap` says how the
    intervals were made (method, resamples, seed, confidence, and the number of groups when
    `groups`, one study or patient id per sample, made the resampling study-level). The
    reliability entries are `ReliabilityCurve.to_dict()` (bin_edges, mean_confidence,
    observed_frequency, counts; None for empty bins). Calibrated probabilities are
    `calibrate_probability(raw, temperature)`.
    """
    labels, raw = _check_pair(y_true, probability_raw)
    scale = _check_temperature(temperature)
    count_bins = _check_bins(bins)
    cut = _check_unit_interval(threshold, "threshold")
    calibrated = calibrate_probability(raw, scale)

    def with_intervals(values: np.ndarray) -> dict[str, Any]:
        return {
            **binary_metrics(labels, values, cut),
            **bootstrap_intervals(labels, values, cut, groups=groups),
            **predicted_counts(values, cut),
        }

    return {
        "n": int(labels.size),
        "threshold": cut,
        "temperature": scale,
        "bins": count_bins,
        "raw": with_intervals(raw),
        "calibrated": with_intervals(calibrated),
        "bootstrap": _bootstrap_description(groups),
        "ece_raw": expected_calibration_error(labels, raw, count_bins),
        "ece_calibrated": expected_calibration_error(labels, calibrated, count_bins),
        "reliability_raw": reliability_curve(labels, raw, count_bins).to_dict(),
        "reliability_calibrated": reliability_curve(labels, calibrated, count_bins).to_dict(),
    }

"""spineview.models.metrics against hand-computed cases and brute-force definitions."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

from spineview.models.metrics import (
    TEMPERATURE_RANGE,
    apply_temperature,
    binary_metrics,
    calibrate_probability,
    evaluation_report,
    expected_calibration_error,
    fit_temperature,
    probability_to_logit,
    reliability_curve,
    roc_curve,
)

METRIC_KEYS = {
    "n",
    "positives",
    "negatives",
    "threshold",
    "accuracy",
    "balanced_accuracy",
    "precision",
    "recall",
    "specificity",
    "f1",
    "roc_auc",
    "average_precision",
    "brier",
    "log_loss",
    "confusion_matrix",
}


@pytest.fixture(autouse=True)
def _warnings_are_errors() -> Iterator[None]:
    """No numpy RuntimeWarning (division by zero, log of 0) may escape these functions."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def _brute_force_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """P(score of a positive > score of a negative) + 0.5 P(tie), over all pairs."""
    positive, negative = scores[labels == 1], scores[labels == 0]
    greater = (positive[:, None] > negative[None, :]).sum()
    ties = (positive[:, None] == negative[None, :]).sum()
    return float((greater + 0.5 * ties) / (positive.size * negative.size))


def _brute_force_average_precision(labels: np.ndarray, scores: np.ndarray) -> float:
    """sum_k (R_k - R_{k-1}) P_k over thresholds at each distinct score, highest first."""
    total, previous_recall = 0.0, 0.0
    for cut in sorted(set(scores.tolist()), reverse=True):
        predicted = scores >= cut
        tp = int(np.sum(predicted & (labels == 1)))
        precision = tp / int(predicted.sum())
        recall = tp / int(labels.sum())
        total += (recall - previous_recall) * precision
        previous_recall = recall
    return total


def _random_case(seed: int, n: int = 200, tied: bool = False) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = (rng.random(n) < 0.3).astype(np.int64)
    scores = np.clip(rng.normal(0.35 + 0.3 * labels, 0.2), 0.0, 1.0)
    if tied:
        scores = np.round(scores, 1)  # few distinct values: many ties across the classes
    return labels, scores


# --- binary_metrics ---------------------------------------------------------------------------


def test_hand_computed_case() -> None:
    y = np.array([1, 1, 1, 0, 0, 0, 0, 0])
    p = np.array([0.9, 0.6, 0.3, 0.7, 0.4, 0.2, 0.1, 0.5])
    # threshold 0.5 (>=): predicted positive = 0.9, 0.6, 0.7, 0.5 -> tp 2, fp 2, fn 1, tn 3
    metrics = binary_metrics(y, p)
    assert set(metrics) == METRIC_KEYS
    assert metrics["confusion_matrix"] == [[3, 2], [1, 2]]
    assert (metrics["n"], metrics["positives"], metrics["negatives"]) == (8, 3, 5)
    assert metrics["accuracy"] == pytest.approx(5 / 8)
    assert metrics["precision"] == pytest.approx(2 / 4)
    assert metrics["recall"] == pytest.approx(2 / 3)
    assert metrics["specificity"] == pytest.approx(3 / 5)
    assert metrics["balanced_accuracy"] == pytest.approx((2 / 3 + 3 / 5) / 2)
    assert metrics["f1"] == pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3))
    # positives beat negatives in: 0.9 (5/5), 0.6 (4/5: not 0.7), 0.3 (2/5: 0.2, 0.1) -> 11/15
    assert metrics["roc_auc"] == pytest.approx(11 / 15)
    # ranked: .9 P, .7 N, .6 P, .5 N, .4 N, .3 P -> AP = (1 + 2/3 + 3/6) / 3
    assert metrics["average_precision"] == pytest.approx((1 + 2 / 3 + 1 / 2) / 3)
    assert metrics["brier"] == pytest.approx(np.mean((p - y) ** 2))
    expected_log_loss = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    assert metrics["log_loss"] == pytest.approx(expected_log_loss)


def test_threshold_is_inclusive_and_configurable() -> None:
    y = np.array([0, 1, 1])
    p = np.array([0.2, 0.3, 0.8])
    assert binary_metrics(y, p, threshold=0.3)["confusion_matrix"] == [[1, 0], [0, 2]]
    assert binary_metrics(y, p, threshold=0.31)["confusion_matrix"] == [[1, 0], [1, 1]]
    assert binary_metrics(y, p, threshold=0.0)["confusion_matrix"] == [[0, 1], [0, 2]]


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("tied", [False, True])
def test_against_brute_force_definitions(seed: int, tied: bool) -> None:
    labels, scores = _random_case(seed, tied=tied)
    metrics = binary_metrics(labels, scores, threshold=0.45)
    assert metrics["roc_auc"] == pytest.approx(_brute_force_auc(labels, scores), abs=1e-12)
    expected_ap = _brute_force_average_precision(labels, scores)
    assert metrics["average_precision"] == pytest.approx(expected_ap, abs=1e-12)
    predicted = scores >= 0.45
    tp = int(np.sum(predicted & (labels == 1)))
    fp = int(np.sum(predicted & (labels == 0)))
    fn = int(np.sum(~predicted & (labels == 1)))
    tn = int(np.sum(~predicted & (labels == 0)))
    assert metrics["confusion_matrix"] == [[tn, fp], [fn, tp]]
    assert metrics["accuracy"] == pytest.approx(np.mean(predicted == (labels == 1)))


def test_one_class_gives_none_for_ranking_metrics_and_zero_for_missing_rates() -> None:
    only_negatives = binary_metrics(np.zeros(4), np.array([0.1, 0.2, 0.6, 0.9]))
    assert only_negatives["roc_auc"] is None
    assert only_negatives["average_precision"] is None
    assert only_negatives["recall"] == 0.0  # no positives: recall is 0 by rule
    assert only_negatives["precision"] == 0.0  # 2 predicted positives, none true
    assert only_negatives["f1"] == 0.0
    assert only_negatives["specificity"] == pytest.approx(0.5)
    assert only_negatives["balanced_accuracy"] == pytest.approx(0.5)  # over the class present

    only_positives = binary_metrics(np.ones(3), np.array([0.1, 0.2, 0.3]))
    assert only_positives["roc_auc"] is None
    assert only_positives["average_precision"] == pytest.approx(1.0)
    assert only_positives["precision"] == 0.0  # nothing predicted positive
    assert only_positives["recall"] == 0.0
    assert only_positives["specificity"] == 0.0  # no negatives
    assert only_positives["balanced_accuracy"] == 0.0


def test_all_predictions_equal() -> None:
    y = np.array([0, 1, 0, 1, 1])
    metrics = binary_metrics(y, np.full(5, 0.4))
    assert metrics["roc_auc"] == pytest.approx(0.5)
    assert metrics["average_precision"] == pytest.approx(3 / 5)
    assert metrics["precision"] == 0.0
    assert metrics["balanced_accuracy"] == pytest.approx(0.5)
    fpr, tpr, _ = roc_curve(y, np.full(5, 0.4))
    assert fpr.tolist() == [0.0, 1.0]
    assert tpr.tolist() == [0.0, 1.0]


def test_perfect_and_inverted_rankings() -> None:
    y = np.array([0, 0, 1, 1])
    assert binary_metrics(y, np.array([0.1, 0.2, 0.8, 0.9]))["roc_auc"] == 1.0
    assert binary_metrics(y, np.array([0.9, 0.8, 0.2, 0.1]))["roc_auc"] == 0.0


def test_log_loss_is_clipped_for_certain_mistakes() -> None:
    metrics = binary_metrics(np.array([1, 0]), np.array([0.0, 1.0]))
    log_loss = metrics["log_loss"]
    assert isinstance(log_loss, float)
    assert 20 < log_loss < 30  # -log(1e-12) = 27.6
    assert metrics["brier"] == 1.0


def test_results_are_plain_python_values() -> None:
    labels, scores = _random_case(1)
    metrics = binary_metrics(labels, scores.astype(np.float32))
    for key, value in metrics.items():
        assert type(value) in (int, float, list), (key, type(value))
    json.dumps(metrics)


# --- validation -------------------------------------------------------------------------------

BAD_INPUTS: list[tuple[Any, Any, str]] = [
    ([0, 1], [0.5], "same length"),
    ([[0, 1]], [[0.5, 0.5]], "1-D"),
    ([], [], "empty"),
    ([0, 2], [0.1, 0.2], "only 0 and 1"),
    ([0, 0.5], [0.1, 0.2], "only 0 and 1"),
    ([0, np.nan], [0.1, 0.2], "NaN"),
    ([0, 1], [0.1, np.nan], "NaN"),
    ([0, 1], [0.1, np.inf], "NaN or infinite"),
    ([0, 1], [-0.1, 0.5], r"\[0, 1\]"),
    ([0, 1], [0.1, 1.5], r"\[0, 1\]"),
    (["a", "b"], [0.1, 0.2], "numeric"),
]


@pytest.mark.parametrize(("labels", "probability", "message"), BAD_INPUTS)
@pytest.mark.parametrize(
    "function",
    [binary_metrics, roc_curve, reliability_curve, expected_calibration_error],
)
def test_invalid_inputs_raise_value_error(
    function: Callable[..., Any], labels: Any, probability: Any, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        function(np.asarray(labels), np.asarray(probability))


def test_invalid_parameters_raise_value_error() -> None:
    y, p = np.array([0, 1]), np.array([0.2, 0.7])
    with pytest.raises(ValueError, match="threshold"):
        binary_metrics(y, p, threshold=1.5)
    with pytest.raises(ValueError, match="threshold"):
        binary_metrics(y, p, threshold=float("nan"))
    with pytest.raises(ValueError, match="bins"):
        reliability_curve(y, p, bins=0)
    with pytest.raises(ValueError, match="bins"):
        expected_calibration_error(y, p, bins=True)
    with pytest.raises(ValueError, match="temperature"):
        apply_temperature(np.array([0.0]), 0.0)
    with pytest.raises(ValueError, match="temperature"):
        evaluation_report(y, p, temperature=-1.0)
    with pytest.raises(ValueError, match="logits"):
        fit_temperature(y, np.array([0.0, np.inf]))
    with pytest.raises(ValueError, match="same length"):
        fit_temperature(y, np.array([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match="both classes"):
        roc_curve(np.zeros(3), np.array([0.1, 0.2, 0.3]))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        probability_to_logit(np.array([1.2]))


# --- ROC curve --------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("tied", [False, True])
def test_roc_curve_area_equals_rank_auc(seed: int, tied: bool) -> None:
    labels, scores = _random_case(seed, n=150, tied=tied)
    fpr, tpr, thresholds = roc_curve(labels, scores)
    area = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2.0))
    assert area == pytest.approx(binary_metrics(labels, scores)["roc_auc"], abs=1e-9)
    assert (fpr[0], tpr[0], fpr[-1], tpr[-1]) == (0.0, 0.0, 1.0, 1.0)
    assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0)
    assert thresholds[0] == np.inf and np.all(np.diff(thresholds) < 0)
    for k in (1, len(thresholds) // 2, len(thresholds) - 1):  # each point is its threshold's rates
        predicted = scores >= thresholds[k]
        assert tpr[k] == pytest.approx(np.mean(predicted[labels == 1]))
        assert fpr[k] == pytest.approx(np.mean(predicted[labels == 0]))


def test_roc_curve_tiny_case() -> None:
    fpr, tpr, thresholds = roc_curve(np.array([0, 1, 0, 1]), np.array([0.1, 0.4, 0.4, 0.8]))
    assert thresholds.tolist() == [np.inf, 0.8, 0.4, 0.1]
    assert tpr.tolist() == [0.0, 0.5, 1.0, 1.0]
    assert fpr.tolist() == [0.0, 0.0, 0.5, 1.0]


# --- reliability and ECE ----------------------------------------------------------------------


def test_reliability_curve_hand_computed() -> None:
    y = np.array([0, 0, 1, 1, 1, 0])
    p = np.array([0.05, 0.15, 0.15, 0.95, 1.0, 0.55])
    curve = reliability_curve(y, p, bins=4)  # edges 0, .25, .5, .75, 1
    assert curve.bin_edges.tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert curve.counts.tolist() == [3, 0, 1, 2]  # 1.0 falls in the last bin
    assert curve.mean_confidence[0] == pytest.approx((0.05 + 0.15 + 0.15) / 3)
    assert curve.observed_frequency[0] == pytest.approx(1 / 3)
    assert np.isnan(curve.mean_confidence[1]) and np.isnan(curve.observed_frequency[1])
    assert curve.observed_frequency[2] == 0.0
    assert curve.mean_confidence[3] == pytest.approx(0.975)
    expected = (3 * abs(1 / 3 - 0.35 / 3) + 1 * 0.55 + 2 * abs(1 - 0.975)) / 6
    assert expected_calibration_error(y, p, bins=4) == pytest.approx(expected)
    as_dict = curve.to_dict()
    assert as_dict["mean_confidence"][1] is None
    assert as_dict["counts"] == [3, 0, 1, 2]
    json.dumps(as_dict, allow_nan=False)


def test_ece_is_small_for_calibrated_data_and_large_for_overconfident_data() -> None:
    rng = np.random.default_rng(7)
    logits = rng.normal(0.0, 2.0, size=20_000)
    labels = (rng.random(logits.size) < apply_temperature(logits, 1.0)).astype(int)
    assert expected_calibration_error(labels, apply_temperature(logits, 1.0)) < 0.02
    assert expected_calibration_error(labels, apply_temperature(logits, 0.25)) > 0.1


# --- temperature scaling ----------------------------------------------------------------------


def _sample(
    temperature: float, n: int, seed: int, spread: float = 4.0
) -> tuple[np.ndarray, np.ndarray]:
    """Logits ~ N(0, spread²) and labels drawn from sigmoid(logit / temperature)."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0.0, spread, size=n)
    labels = (rng.random(n) < apply_temperature(logits, temperature)).astype(np.int64)
    return labels, logits


def test_fit_temperature_recovers_the_generating_temperature() -> None:
    labels, logits = _sample(3.0, 20_000, seed=1)
    assert fit_temperature(labels, logits) == pytest.approx(3.0, rel=0.10)


def test_fit_temperature_is_about_one_for_calibrated_data() -> None:
    labels, logits = _sample(1.0, 20_000, seed=2)
    assert fit_temperature(labels, logits) == pytest.approx(1.0, rel=0.10)


def test_fit_temperature_is_the_likelihood_minimum_and_deterministic() -> None:
    labels, logits = _sample(2.0, 2_000, seed=3)
    fitted = fit_temperature(labels, logits)
    assert fit_temperature(labels, logits) == fitted

    def nll(temperature: float) -> float:
        p = np.clip(apply_temperature(logits, temperature), 1e-15, 1 - 1e-15)
        return float(-np.mean(labels * np.log(p) + (1 - labels) * np.log(1 - p)))

    grid = np.exp(np.linspace(np.log(0.5), np.log(8.0), 401))
    best_on_grid = grid[int(np.argmin([nll(t) for t in grid]))]
    assert fitted == pytest.approx(best_on_grid, rel=0.01)
    assert nll(fitted) <= min(nll(fitted * 0.999), nll(fitted * 1.001))


def test_fit_temperature_edge_cases() -> None:
    assert fit_temperature(np.array([0, 1]), np.zeros(2)) == 1.0
    separable = fit_temperature(np.array([0, 0, 1, 1]), np.array([-3.0, -1.0, 1.0, 2.0]))
    assert separable == pytest.approx(TEMPERATURE_RANGE[0], rel=1e-6)
    one_class = fit_temperature(np.ones(3), np.array([-1.0, 1.0, 2.0]))
    assert TEMPERATURE_RANGE[0] <= one_class <= TEMPERATURE_RANGE[1]


def test_temperature_scaling_reduces_ece_of_an_overconfident_model() -> None:
    labels, logits = _sample(1.0, 10_000, seed=4, spread=1.5)
    overconfident = apply_temperature(logits * 3.0, 1.0)  # as if the true T were 3
    temperature = fit_temperature(labels, probability_to_logit(overconfident))
    assert temperature == pytest.approx(3.0, rel=0.10)
    calibrated = calibrate_probability(overconfident, temperature)
    before = expected_calibration_error(labels, overconfident)
    after = expected_calibration_error(labels, calibrated)
    assert after < before / 2
    # scaling keeps the order of the slices, so the AUC does not move
    assert binary_metrics(labels, calibrated)["roc_auc"] == pytest.approx(
        binary_metrics(labels, overconfident)["roc_auc"], abs=1e-6
    )


def test_logit_round_trip_and_clipping() -> None:
    p = np.array([0.0, 1e-9, 0.25, 0.5, 0.9, 1.0])
    logits = probability_to_logit(p)
    assert np.all(np.isfinite(logits))
    assert logits[0] == logits[1] == pytest.approx(math.log(1e-7 / (1 - 1e-7)))
    assert logits[3] == 0.0
    assert apply_temperature(logits, 1.0)[2:5] == pytest.approx(p[2:5])
    assert apply_temperature(np.array([-1000.0, 1000.0]), 1.0).tolist() == [0.0, 1.0]


# --- report -----------------------------------------------------------------------------------


def test_evaluation_report_is_json_and_complete() -> None:
    labels, logits = _sample(1.0, 3_000, seed=5)
    raw = apply_temperature(logits * 2.5, 1.0).astype(np.float32)
    report = evaluation_report(labels, raw, temperature=2.5, threshold=0.4)
    assert set(report) == {
        "n",
        "threshold",
        "temperature",
        "bins",
        "raw",
        "calibrated",
        "bootstrap",
        "ece_raw",
        "ece_calibrated",
        "reliability_raw",
        "reliability_calibrated",
    }
    extra = {
        "roc_auc_ci",
        "balanced_accuracy_ci",
        "recall_ci",
        "specificity_ci",
        "predicted_negatives",
        "predicted_positives",
    }
    assert set(report["raw"]) == set(report["calibrated"]) == METRIC_KEYS | extra
    assert report["raw"]["threshold"] == report["threshold"] == 0.4
    assert report["ece_calibrated"] < report["ece_raw"]
    assert len(report["reliability_raw"]["counts"]) == report["bins"] == 10
    assert sum(report["reliability_calibrated"]["counts"]) == report["n"] == 3_000
    text = json.dumps(report, allow_nan=False)
    assert json.loads(text)["temperature"] == 2.5


def test_evaluation_report_with_one_class_is_still_json() -> None:
    report = evaluation_report(np.zeros(5), np.linspace(0.0, 1.0, 5), temperature=1.0)
    assert report["raw"]["roc_auc"] is None
    json.dumps(report, allow_nan=False)


def test_metrics_import_neither_tensorflow_nor_pyplot() -> None:
    code = (
        "import sys, spineview.models.metrics, spineview.models.report_figures\n"
        "bad = [m for m in ('tensorflow', 'keras', 'matplotlib.pyplot', 'PySide6') "
        "if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)

"""The quality gate: bootstrap intervals, the usability rule, and where the verdict shows."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from spineview.models.catalogue import ModelInfo, bundled_models_dir, read_manifest
from spineview.models.manifest import ModelManifest
from spineview.models.metrics import (
    BOOTSTRAP_RESAMPLES,
    _group_resample_weights,
    binary_metrics,
    bootstrap_intervals,
    evaluation_report,
    predicted_counts,
)
from spineview.models.model_text import model_details, model_listing, model_summary
from spineview.models.quality_gate import Usability, judge_usability

FAKE_SHA = "0" * 64


def _scores(separation: float, n: int, positives: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = np.zeros(n, dtype=np.int64)
    labels[rng.choice(n, positives, replace=False)] = 1
    logits = rng.normal(size=n) + separation * labels
    return labels, 1.0 / (1.0 + np.exp(-logits))


# --- bootstrap intervals -------------------------------------------------------------------------


def test_bootstrap_is_deterministic_with_its_seed() -> None:
    labels, probability = _scores(1.0, 55, 15, seed=1)
    first = bootstrap_intervals(labels, probability)
    assert first == bootstrap_intervals(labels, probability)
    other = bootstrap_intervals(labels, probability, seed=99)
    assert other["roc_auc_ci"] != first["roc_auc_ci"]


def test_intervals_contain_the_point_estimates() -> None:
    labels, probability = _scores(1.2, 55, 15, seed=2)
    point = binary_metrics(labels, probability)
    intervals = bootstrap_intervals(labels, probability)
    for key in ("roc_auc", "balanced_accuracy", "recall", "specificity"):
        low, high = intervals[f"{key}_ci"]  # type: ignore[misc]
        assert low <= point[key] <= high, key  # type: ignore[operator]
        assert 0.0 <= low < high <= 1.0, key


def test_the_vectorised_auc_matches_a_plain_loop_over_the_same_resamples() -> None:
    labels, probability = _scores(0.8, 40, 12, seed=3)
    probability = np.round(probability, 1)  # many ties
    resamples = 300
    intervals = bootstrap_intervals(labels, probability, resamples=resamples, seed=5)
    rng = np.random.default_rng(5)
    positives, negatives = probability[labels == 1], probability[labels == 0]
    draws_pos = rng.integers(0, positives.size, size=(resamples, positives.size))
    draws_neg = rng.integers(0, negatives.size, size=(resamples, negatives.size))
    aucs: list[float] = []
    for pos, neg in zip(draws_pos, draws_neg, strict=True):
        y = np.r_[np.ones(pos.size), np.zeros(neg.size)]
        auc = binary_metrics(y, np.r_[positives[pos], negatives[neg]])["roc_auc"]
        assert isinstance(auc, float)
        aucs.append(auc)
    expected = np.quantile(np.array(aucs), [0.025, 0.975])
    assert intervals["roc_auc_ci"] == pytest.approx(expected.tolist())


def test_the_vectorised_auc_matches_sklearn_roc_auc_score() -> None:
    """The bootstrap's vectorised AUC (kept for speed) against scikit-learn's roc_auc_score on
    the same resamples: slice by slice (tied scores) and whole studies (as sample weights)."""
    from sklearn.metrics import roc_auc_score

    labels, probability = _scores(0.8, 40, 12, seed=3)
    probability = np.round(probability, 1)  # many ties
    resamples = 300
    rng = np.random.default_rng(5)
    positives, negatives = probability[labels == 1], probability[labels == 0]
    draws_pos = rng.integers(0, positives.size, size=(resamples, positives.size))
    draws_neg = rng.integers(0, negatives.size, size=(resamples, negatives.size))
    aucs = [
        roc_auc_score(
            np.r_[np.ones(pos.size), np.zeros(neg.size)], np.r_[positives[pos], negatives[neg]]
        )
        for pos, neg in zip(draws_pos, draws_neg, strict=True)
    ]
    intervals = bootstrap_intervals(labels, probability, resamples=resamples, seed=5)
    expected = np.quantile(np.array(aucs), [0.025, 0.975])
    assert intervals["roc_auc_ci"] == pytest.approx(expected.tolist(), abs=1e-12)

    studies = np.array([f"study{i // 2}" for i in range(labels.size)])  # two slices a study
    weights = _group_resample_weights(labels, studies, resamples, np.random.default_rng(7))
    valid = [w for w in weights if w[labels == 1].any() and w[labels == 0].any()]
    aucs = [roc_auc_score(labels, probability, sample_weight=w) for w in valid]
    grouped = bootstrap_intervals(labels, probability, groups=studies, resamples=resamples, seed=7)
    expected = np.quantile(np.array(aucs), [0.025, 0.975])
    assert grouped["roc_auc_ci"] == pytest.approx(expected.tolist(), abs=1e-12)


def test_a_perfect_classifier_has_a_narrow_interval() -> None:
    labels = np.r_[np.zeros(40), np.ones(15)].astype(np.int64)
    probability = np.r_[np.linspace(0.01, 0.3, 40), np.linspace(0.8, 0.99, 15)]
    intervals = bootstrap_intervals(labels, probability)
    assert intervals["roc_auc_ci"] == [1.0, 1.0]
    assert intervals["balanced_accuracy_ci"] == [1.0, 1.0]


def test_a_random_classifier_interval_reaches_one_half() -> None:
    labels, probability = _scores(0.0, 55, 15, seed=4)
    low, high = bootstrap_intervals(labels, probability)["roc_auc_ci"]  # type: ignore[misc]
    assert low <= 0.5 <= high
    assert high - low > 0.2  # 55 slices cannot pin an AUC down


def test_one_class_has_no_auc_interval() -> None:
    intervals = bootstrap_intervals(np.zeros(6), np.linspace(0.1, 0.9, 6))
    assert intervals["roc_auc_ci"] is None and intervals["recall_ci"] is None
    assert intervals["specificity_ci"] == intervals["balanced_accuracy_ci"]


def test_whole_studies_are_resampled_when_groups_are_given() -> None:
    """Ten identical slices per study carry no more evidence than one: resampling slices
    treats them as ten, resampling studies does not."""
    labels, probability = _scores(1.0, 30, 10, seed=8)
    copies = 10
    many_labels, many_probability = np.repeat(labels, copies), np.repeat(probability, copies)
    studies = np.repeat([f"study{i}" for i in range(30)], copies)

    def width(interval: Any) -> float:
        return float(interval[1] - interval[0])

    alone = bootstrap_intervals(labels, probability)["roc_auc_ci"]
    slices = bootstrap_intervals(many_labels, many_probability)["roc_auc_ci"]
    grouped = bootstrap_intervals(many_labels, many_probability, groups=studies)
    assert width(slices) < 0.5 * width(alone)  # too narrow
    assert width(grouped["roc_auc_ci"]) == pytest.approx(width(alone), rel=0.25)
    point = binary_metrics(many_labels, many_probability)
    for key in ("roc_auc", "balanced_accuracy", "recall", "specificity"):
        low, high = grouped[f"{key}_ci"]  # type: ignore[misc]
        assert low <= point[key] <= high, key  # type: ignore[operator]
    assert grouped == bootstrap_intervals(many_labels, many_probability, groups=list(studies))
    report = evaluation_report(many_labels, many_probability, 1.0, groups=studies)
    assert report["bootstrap"]["groups"] == 30 and "study-level" in report["bootstrap"]["method"]
    assert report["calibrated"]["roc_auc_ci"] == grouped["roc_auc_ci"]
    with pytest.raises(ValueError, match="one group per sample"):
        bootstrap_intervals(labels, probability, groups=studies)


def test_bootstrap_refuses_bad_settings() -> None:
    with pytest.raises(ValueError, match="resamples"):
        bootstrap_intervals(np.array([0, 1]), np.array([0.2, 0.8]), resamples=0)
    with pytest.raises(ValueError, match="confidence"):
        bootstrap_intervals(np.array([0, 1]), np.array([0.2, 0.8]), confidence=1.5)


def test_report_carries_intervals_counts_and_how_they_were_made() -> None:
    labels, probability = _scores(1.0, 55, 15, seed=6)
    report = evaluation_report(labels, probability, temperature=1.7)
    calibrated = report["calibrated"]
    assert calibrated["roc_auc_ci"] == report["raw"]["roc_auc_ci"]  # ranking kept
    assert calibrated["predicted_negatives"] + calibrated["predicted_positives"] == 55
    (_, fp), (_, tp) = calibrated["confusion_matrix"]
    assert calibrated["predicted_positives"] == fp + tp
    assert report["bootstrap"]["resamples"] == BOOTSTRAP_RESAMPLES
    assert report["bootstrap"]["confidence"] == 0.95
    json.dumps(report, allow_nan=False)
    assert predicted_counts(np.array([0.2, 0.5, 0.9])) == {
        "predicted_negatives": 1,
        "predicted_positives": 2,
    }


# --- the rule ------------------------------------------------------------------------------------


def _metrics(**calibrated: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "n": 55,
        "positives": 15,
        "negatives": 40,
        "roc_auc": 0.9,
        "roc_auc_ci": [0.8, 0.97],
        "confusion_matrix": [[35, 5], [3, 12]],
        "predicted_negatives": 38,
        "predicted_positives": 17,
    }
    base.update(calibrated)
    return {"raw": dict(base), "calibrated": base}


def test_an_interval_above_one_half_is_usable() -> None:
    verdict = judge_usability(_metrics())
    assert verdict == Usability(
        True, "ROC AUC 0.90 (95 % interval 0.80–0.97) lies above 0.5 and both classes are predicted"
    )
    assert verdict.warning is None


def test_an_interval_reaching_one_half_is_not_usable() -> None:
    verdict = judge_usability(_metrics(roc_auc=0.62, roc_auc_ci=[0.41, 0.8]))
    assert not verdict.usable
    assert verdict.reason == (
        "ROC AUC 0.62 (95 % interval 0.41–0.80) reaches 0.5: the model may have learnt nothing"
    )
    assert verdict.warning == f"model not usable: {verdict.reason}"
    assert not judge_usability(_metrics(roc_auc=0.7, roc_auc_ci=[0.5, 0.85])).usable  # ≤ 0.5


def test_predicting_one_class_is_not_usable() -> None:
    metrics = _metrics(
        confusion_matrix=[[40, 0], [15, 0]], predicted_negatives=55, predicted_positives=0
    )
    verdict = judge_usability(metrics)
    assert not verdict.usable
    assert verdict.reason == (
        "All 55 test slices were predicted healthy: the model predicts one class"
    )
    # Older metrics without the counts: the confusion matrix says the same.
    calibrated = metrics["calibrated"]
    del calibrated["predicted_negatives"], calibrated["predicted_positives"]
    calibrated["confusion_matrix"] = [[0, 40], [0, 15]]
    verdict = judge_usability(metrics, ["normal", "sick"])
    assert not verdict.usable and "predicted sick" in verdict.reason


def test_both_failures_are_given() -> None:
    metrics = _metrics(roc_auc=0.55, roc_auc_ci=[0.4, 0.7], predicted_positives=0,
                       predicted_negatives=55)  # fmt: skip
    reason = judge_usability(metrics).reason
    assert reason.startswith("ROC AUC 0.55 (95 % interval 0.40–0.70) reaches 0.5")
    assert "; all 55 test slices were predicted healthy" in reason


def test_a_test_split_of_one_class_cannot_be_judged() -> None:
    metrics = _metrics(positives=0, negatives=55, roc_auc=None, roc_auc_ci=None)
    verdict = judge_usability(metrics)
    assert not verdict.usable
    assert "test split holds one class only (55 healthy, 0 degenerative)" in verdict.reason
    assert "cannot be judged" in verdict.reason


@pytest.mark.parametrize("metrics", [{}, None, {"raw": "odd"}, {"auc": 0.9}])
def test_missing_metrics_cannot_be_judged(metrics: Any) -> None:
    verdict = judge_usability(metrics)
    assert not verdict.usable and "cannot be judged" in verdict.reason


def test_old_metrics_without_intervals_are_judged_on_the_point_estimate() -> None:
    old = _metrics(roc_auc=0.965)
    for part in old.values():
        del part["roc_auc_ci"], part["predicted_negatives"], part["predicted_positives"]
    verdict = judge_usability(old)
    assert verdict.usable
    assert verdict.reason == "ROC AUC 0.96 (95 % interval unknown: these metrics have none) " \
        "lies above 0.5"  # fmt: skip
    flat = {"n": 40, "accuracy": 0.5, "roc_auc": 0.48}
    verdict = judge_usability(flat)
    assert not verdict.usable
    assert "interval unknown" in verdict.reason and "no better than chance" in verdict.reason


def test_odd_values_are_treated_as_missing() -> None:
    odd = _metrics(roc_auc_ci=["low", 0.9], predicted_positives=True, confusion_matrix="x")
    verdict = judge_usability(odd)
    assert verdict.usable and "interval unknown" in verdict.reason
    assert not judge_usability(_metrics(roc_auc=math.nan, roc_auc_ci=None)).usable


def test_the_gate_imports_neither_numpy_nor_tensorflow() -> None:
    code = (
        "import sys, spineview.models.quality_gate\n"
        "bad = [m for m in ('numpy', 'tensorflow', 'keras', 'PySide6') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


# --- the manifest and the texts ----------------------------------------------------------------


def _manifest(metrics: dict[str, Any]) -> ModelManifest:
    return ModelManifest.for_architecture("cnn", "mine", weights_sha256=FAKE_SHA, metrics=metrics)


def test_manifest_writes_the_verdict_and_reads_without_it() -> None:
    manifest = _manifest(_metrics(roc_auc=0.55, roc_auc_ci=[0.4, 0.7]))
    data = json.loads(manifest.to_json())
    keys = list(data)
    assert keys.index("usable") == keys.index("metrics") + 1
    assert data["usable"] is False
    assert data["usability_reason"] == manifest.usability.reason
    assert ModelManifest.from_dict(data) == manifest  # round trip
    for key in ("usable", "usability_reason"):
        del data[key]
    assert ModelManifest.from_dict(data) == manifest  # an older manifest
    data["usable"] = True  # a hand-edited verdict does not override the rule
    assert ModelManifest.from_dict(data).usability.usable is False


def test_texts_mark_a_not_usable_model() -> None:
    metrics = _metrics(roc_auc=0.55, roc_auc_ci=[0.4, 0.7])
    info = ModelInfo(Path("/models/mine"), _manifest(metrics), bundled=False)
    summary = model_summary(info.manifest)
    assert summary.startswith("mine · cnn · NOT USABLE · test ROC AUC 0.550 (95 % interval ")
    details = model_details(info)
    assert details.splitlines()[2].startswith("*** NOT USABLE: ROC AUC 0.55 (95 % interval")
    assert "Verdict        not usable" in details
    assert "95 % intervals (bootstrap" in details
    listing = model_listing(info)
    assert "[NOT USABLE]" in listing.splitlines()[0]
    assert "NOT USABLE: ROC AUC 0.55" in listing


def test_bundled_models_show_their_intervals_and_are_usable() -> None:
    for name in ("cnn-demo", "resnet50-demo"):
        folder = bundled_models_dir() / name
        manifest = read_manifest(folder)
        calibrated = manifest.metrics["calibrated"]
        low, high = calibrated["roc_auc_ci"]
        assert 0.5 < low <= calibrated["roc_auc"] <= high, name
        assert manifest.usability.usable, manifest.usability.reason
        on_disk = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        assert on_disk["usable"] is True
        assert on_disk["usability_reason"] == manifest.usability.reason
        info = ModelInfo(folder, manifest, bundled=True)
        assert f"(95 % interval {low:.3f}–{high:.3f})" in model_summary(manifest)
        assert f"ROC AUC            {low:.3f} – {high:.3f}" in model_details(info)
        assert "NOT USABLE" not in model_listing(info)


def test_one_study_of_a_class_gives_no_interval_and_no_usable_model() -> None:
    """Resampling a single study gives the same sample every time: a width-0 "interval" that
    once let a model trained on shuffled labels pass (ROC AUC 0.55, interval 0.55–0.55)."""
    labels = np.array([1, 1, 1, 0, 0, 0, 0, 0])
    probability = np.array([0.7, 0.4, 0.6, 0.3, 0.5, 0.2, 0.65, 0.1])
    one_positive_study = np.array(["a", "a", "a", "b", "b", "c", "c", "c"])
    intervals = bootstrap_intervals(labels, probability, groups=one_positive_study)
    assert all(value is None for value in intervals.values())
    two_each = np.array(["a", "a", "d", "b", "b", "c", "c", "c"])
    assert bootstrap_intervals(labels, probability, groups=two_each)["roc_auc_ci"] is not None
    report = evaluation_report(labels, probability, 1.0, groups=one_positive_study)
    verdict = judge_usability(report)
    assert not verdict.usable and "too few studies" in verdict.reason

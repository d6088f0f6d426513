"""model_summary / model_details: what the picker, the details dialog and the CLI say."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from spineview.core.preprocess import INTENSITY_SCALINGS
from spineview.models.catalogue import ModelInfo, bundled_models_dir, read_manifest
from spineview.models.manifest import DEMO_NOTICE, ModelManifest
from spineview.models.model_text import (
    DEMO_SHORT_NOTICE,
    TEXT_WIDTH,
    model_details,
    model_summary,
)

FAKE_SHA = "0" * 64


@pytest.fixture(scope="module")
def demo() -> ModelInfo:
    folder = bundled_models_dir() / "cnn-demo"
    return ModelInfo(folder, read_manifest(folder), bundled=True)


def _user_model(**fields: Any) -> ModelInfo:
    manifest = ModelManifest.for_architecture("cnn", "mine", weights_sha256=FAKE_SHA, **fields)
    return ModelInfo(Path("/models/mine"), manifest, bundled=False)


def _row(text: str, label: str) -> list[str]:
    """The cells after `label` on its line of the metrics table."""
    lines = text.splitlines()
    table = next(i for i, line in enumerate(lines) if line.startswith("Test metrics"))
    for line in lines[table:]:
        if line.strip().startswith(label + "  "):
            return line.strip()[len(label) :].split()
    raise AssertionError(f"no {label!r} row in:\n{text}")


def test_summary_of_the_bundled_demo(demo: ModelInfo) -> None:
    summary = model_summary(demo.manifest)
    assert "\n" not in summary
    assert summary.startswith("cnn-demo · cnn · ")
    assert DEMO_SHORT_NOTICE in summary
    # calibrated test metrics from the manifest, the AUC with its bootstrap interval
    calibrated = demo.manifest.metrics["calibrated"]
    low, high = calibrated["roc_auc_ci"]
    assert summary.endswith(
        f"test ROC AUC {calibrated['roc_auc']:.3f} (95 % interval {low:.3f}–{high:.3f}), "
        f"balanced accuracy {calibrated['balanced_accuracy']:.3f}"
    )


def test_summary_without_demo_or_metrics() -> None:
    summary = model_summary(_user_model().manifest)
    assert summary == "mine · cnn · NOT USABLE"  # no test metrics: the model cannot be judged


def test_summary_prefers_calibrated_then_raw_then_flat_metrics() -> None:
    both = {"raw": {"roc_auc": 0.71}, "calibrated": {"roc_auc": 0.72}}
    assert model_summary(_user_model(metrics=both).manifest).endswith("test ROC AUC 0.720")
    raw_only = {"raw": {"roc_auc": 0.71, "balanced_accuracy": 0.6}}
    assert model_summary(_user_model(metrics=raw_only).manifest).endswith(
        "test ROC AUC 0.710, balanced accuracy 0.600"
    )
    flat = {"roc_auc": None, "balanced_accuracy": 0.65}
    assert model_summary(_user_model(metrics=flat).manifest).endswith(
        "test balanced accuracy 0.650"
    )


def test_details_of_the_bundled_demo(demo: ModelInfo) -> None:
    manifest, text = demo.manifest, model_details(demo)
    training, metrics = manifest.training, manifest.metrics
    raw, calibrated = metrics["raw"], metrics["calibrated"]
    lines = text.splitlines()
    assert lines[0] == "cnn-demo"
    assert lines[2] == f"*** DEMO MODEL: {DEMO_NOTICE} ***"
    assert f"bundled model, {demo.path}" in text
    assert "Architecture   cnn" in text
    assert "Reference CNN" in text  # the registry's description
    assert f"Training dtype {manifest.precision} (weights stored as float16)" in text
    scaling = manifest.intensity_scaling
    words = " ".join(text.split())  # the line may wrap
    assert f"Input {scaling} intensity scaling ({INTENSITY_SCALINGS[scaling]})" in words
    assert "none (trained from scratch)" in text
    assert "/tmp/demo-data (rsna layout)" in text
    counts = training["class_counts"]
    assert (
        f"{training['examples']} slices: healthy {counts['healthy']}, "
        f"degenerative {counts['degenerative']}"
    ) in text
    split = training["split"]
    assert (
        f"train {split['train']}, validation {split['validation']}, test {split['test']} (seed 0)"
    ) in text
    run, requested = training["epochs_run"], training["epochs_requested"]
    assert f"Epochs         {run if run == requested else f'{run} of {requested}'}" in text
    assert "Sagittal T2/STIR" in text  # the labelling rule
    assert f"Temperature    {manifest.temperature:.3f}" in text
    assert "Threshold      0.50" in text
    # packaging/evaluate_bundled_models.py: 64 fresh synthetic studies, whole-study bootstrap
    assert f"Test metrics ({metrics['n']} slices, {raw['positives']} positive)" in text
    for label, key in [("Accuracy", "accuracy"), ("Balanced accuracy", "balanced_accuracy"),
                       ("Precision", "precision"), ("Recall", "recall"), ("F1", "f1"),
                       ("ROC AUC", "roc_auc")]:  # fmt: skip
        assert _row(text, label) == [f"{raw[key]:.3f}", f"{calibrated[key]:.3f}"], label
    assert _row(text, "ECE") == [
        f"{metrics['ece_raw']:.3f}",
        f"{metrics['ece_calibrated']:.3f}",
    ]
    assert "95 % intervals (bootstrap over whole studies, 2000 resamples)" in text
    assert "64 fresh synthetic studies" in text
    assert "Verdict        usable" in text
    assert lines[-1].startswith("Created 2026-") and lines[-1].endswith("with spineview 0.1.0")
    # The description repeats the demo notice: it is not printed twice.
    assert text.count(DEMO_NOTICE) == 1


def test_details_header_names_the_metric_columns(demo: ModelInfo) -> None:
    text = model_details(demo)
    lines = text.splitlines()
    heading = next(i for i, line in enumerate(lines) if line.startswith("Test metrics"))
    assert lines[heading + 1].split() == ["raw", "calibrated"]


def test_details_lines_wrap_except_unbreakable_words(demo: ModelInfo) -> None:
    for line in model_details(demo).splitlines():
        if str(demo.path) not in line:
            assert len(line) <= TEXT_WIDTH, line


def test_details_of_a_bare_user_model_skip_what_is_missing() -> None:
    info = _user_model(description="my own", created="", spineview_version="")
    text = model_details(info)
    assert "DEMO" not in text
    assert "user model, /models/mine" in text
    assert "Description    my own" in text
    assert "Training data" not in text
    assert "Test metrics" not in text
    assert "Created" not in text
    assert "Heatmaps" not in text
    assert text.splitlines()[-4:] == [
        "Where its knowledge ends",
        "  Distribution   none: only the headers are checked (fit one with spineview models",
        "                 fit-check)",
        "  Uncertainty    Monte-Carlo dropout: the spread of 64 thinned networks (dropout 0.5)",
    ]


def test_details_say_how_a_resnet_knows_its_limits() -> None:
    manifest = ModelManifest.for_architecture(
        "resnet50",
        "big",
        weights_sha256=FAKE_SHA,
        distribution_check={
            "threshold": 17.04,
            "threshold_rule": "99th percentile of the validation slices' distances",
            "fitted_slices": 4000,
            "validation_slices": 812,
            "sha256": FAKE_SHA,
        },
    )
    info = ModelInfo(Path("/models/big"), manifest, bundled=False)
    words = " ".join(model_details(info).split())
    assert (
        "Distribution fitted on 4000 training slices; slices beyond 17.04 (the 99th percentile "
        "of the validation slices' distances, 812 slices) are far from the training data"
    ) in words
    assert "Uncertainty none: results say nothing about how sure the model is" in words
    posterior = {"prior_precision": 12.59, "sha256": FAKE_SHA}
    info = ModelInfo(info.path, dataclasses.replace(manifest, head_posterior=posterior), False)
    words = " ".join(model_details(info).split())
    assert (
        "Uncertainty last-layer Laplace: the spread of 64 output layers drawn from the "
        "posterior (prior precision 12.6)"
    ) in words


def test_heatmap_figures_are_listed_per_method_with_their_intervals() -> None:
    heatmaps = {
        "source": "12 fresh synthetic studies (seed 5) with known lesions",
        "layer": "conv2",
        "true_positive_slices": 58,
        "dilation_pixels": 3,
        "default_method": "hirescam",
        "methods": {
            "hirescam": {
                "peak_near_lesion": 0.655,
                "peak_near_lesion_interval": [0.527, 0.765],
                "median_peak_to_lesion_px": 0.5,
                "flat_maps": 0,
            },
            "gradcam": {"peak_near_lesion": 0.345, "flat_maps": 3},
        },
        "random_peak_near_lesion": 0.021,
        "randomisation_spearman": 0.14,
    }
    manifest = ModelManifest.for_architecture(
        "cnn", "mine", weights_sha256=FAKE_SHA, metrics={"heatmaps": heatmaps}
    )
    text = model_details(ModelInfo(Path("/models/mine"), manifest, bundled=False))
    words = " ".join(text.split())
    assert (
        "Heatmaps at conv2: peak within 3 px of the lesion on 58 true-positive slices of 12 fresh "
        "synthetic studies (seed 5) with known lesions"
    ) in words
    assert "hirescam 66 % (53 %–76 %); median 0.5 px away (the default)" in words
    assert "gradcam 34 %; 3 blank maps" in words
    assert "By chance 2 % (a peak placed at random)" in words
    assert "correlate 0.14 (Spearman) with the trained ones: the maps depend on what" in words
    heatmaps["randomisation_spearman"] = 0.93
    text = model_details(ModelInfo(Path("/models/mine"), manifest, bundled=False))
    assert "may show the image more than what it learnt" in " ".join(text.split())


def test_details_tolerate_odd_training_and_metrics_values() -> None:
    info = _user_model(
        imagenet_weights=True,
        training={
            "dataset": "/data/lumbar",
            "examples": "many",
            "class_counts": [1, 2],
            "split": {"train": "x"},
            "epochs_run": True,
            "rule": 42,
        },
        metrics={"raw": {"accuracy": None, "roc_auc": 0.7}, "ece_raw": "n/a"},
        created="last Tuesday",
    )
    text = model_details(info)
    assert "Pretraining    ImageNet weights" in text
    assert "Dataset        /data/lumbar" in text
    for absent in ("Examples", "Split", "Epochs", "Labels", "Accuracy", "ECE"):
        assert absent not in text, absent
    assert _row(text, "ROC AUC") == ["0.700"]
    assert "Created last Tuesday" in text


def test_details_of_a_flat_metrics_dict() -> None:
    info = _user_model(metrics={"n": 40, "accuracy": 0.8, "roc_auc": 0.9, "ece": 0.05})
    text = model_details(info)
    assert "Test metrics (40 slices)" in text
    assert _row(text, "Accuracy") == ["0.800"]
    assert _row(text, "ECE") == ["0.050"]


def test_details_show_class_counts_in_class_order() -> None:
    training = {"examples": 10, "class_counts": {"degenerative": 3, "healthy": 7}}
    text = model_details(_user_model(training=training))
    assert "10 slices: healthy 7, degenerative 3" in text


def test_details_of_a_demo_model_lead_with_the_notice() -> None:
    info = _user_model(demo=True)
    info = dataclasses.replace(info, manifest=dataclasses.replace(info.manifest, name="d"))
    lines = model_details(info).splitlines()
    assert "DEMO MODEL" in lines[2] and DEMO_NOTICE in lines[2]

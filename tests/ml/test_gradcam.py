"""Grad-CAM: map maths without TF; heat maps of the bundled CNN (bfloat16 and float32) and of an
untrained ResNet50 (nested backbone), checked against a finite-difference Grad-CAM."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from spineview.ml.gradcam import map_peak, normalise_map, upsample_map

# --- map maths (numpy only) -------------------------------------------------------------------


@pytest.mark.parametrize(
    "cam",
    [
        np.zeros((7, 7)),
        np.full((7, 7), 0.25),  # constant: no spread, nothing to show
        -np.ones((5, 6)),  # all negative evidence: the ReLU leaves nothing
        np.array([[1.0, np.nan], [0.5, 0.0]]),
        np.array([[1.0, np.inf], [0.5, 0.0]]),
        np.zeros((0, 4)),
    ],
)
def test_normalise_map_without_evidence_gives_zeros(cam: np.ndarray) -> None:
    result = normalise_map(cam)
    assert result.shape == cam.shape and result.dtype == np.float32
    assert not np.isnan(result).any()
    assert not result.any()


def test_normalise_map_relus_and_scales_to_unit_range() -> None:
    cam = np.array([[-3.0, 0.0], [1.0, 4.0]])
    result = normalise_map(cam)
    assert result.dtype == np.float32
    np.testing.assert_allclose(result, [[0.0, 0.0], [0.25, 1.0]])


def test_upsample_map_shape_and_range() -> None:
    cam = normalise_map(np.arange(49, dtype=np.float32).reshape(7, 7))
    result = upsample_map(cam, 300, 200)
    assert result.shape == (300, 200) and result.dtype == np.float32
    assert result.min() >= 0.0 and result.max() <= 1.0
    assert map_peak(result)[0] > 250 and map_peak(result)[1] > 150  # the maximum sits bottom right
    np.testing.assert_array_equal(upsample_map(cam, 7, 7), cam)
    with pytest.raises(ValueError):
        upsample_map(np.zeros(5), 3, 3)


def test_map_peak_of_a_flat_map_is_the_centre() -> None:
    assert map_peak(np.zeros((300, 200), dtype=np.float32)) == (150, 100)


# --- heat maps of real networks -----------------------------------------------------------------


def _slice(rows: int, cols: int) -> np.ndarray:
    """A deterministic MR-like slice: a bright column with bumps on a noisy background."""
    rng = np.random.default_rng(7)
    r = np.linspace(-1, 1, rows)[:, None]
    c = np.linspace(-1, 1, cols)[None, :]
    column = np.exp(-((c - 0.1 * np.sin(3 * r)) ** 2) / 0.02)
    bumps = sum(np.exp(-((r - y) ** 2 + (c - 0.15) ** 2) / 0.004) for y in (-0.5, 0.0, 0.5))
    image = 800 * column + 500 * bumps + 60 * rng.random((rows, cols))
    return image.astype(np.float32)


@pytest.fixture(scope="module")
def spine_slices(tmp_path_factory: pytest.TempPathFactory) -> list[np.ndarray]:
    """The sagittal slices of two small synthetic studies (160×160), as the benchmark reads
    them: the bundled CNN finds positive evidence on some of them only."""
    from spineview.bench.gradcam import read_masked_sagittal_slices
    from spineview.data.synth import SynthOptions, synthesize

    root = tmp_path_factory.mktemp("gradcam") / "rsna"
    synthesize(root, SynthOptions(studies=2, seed=3, size=192), workers=1)
    return [item.pixels for item in read_masked_sagittal_slices(root)]


def _explained_slice(gradcam: Any, slices: list[np.ndarray]) -> Any:
    """The slice whose Grad-CAM shows the most positive-class evidence relative to its
    negative-class evidence. (The bundled CNN gives most slices a flat, all-zero, positive-class
    Grad-CAM, and the rest only faint evidence: its flatten + dense head lets the spatial mean of
    the gradients cancel.)"""
    best, best_ratio = None, 0.0
    for pixels in slices:
        positive = float(gradcam.layer_map(pixels, target="positive").values.max())
        negative = float(gradcam.layer_map(pixels, target="negative").values.max())
        if positive > 0 and negative > 0 and positive / negative > best_ratio:
            best, best_ratio = pixels, positive / negative
    assert best is not None, "no slice has Grad-CAM evidence for both classes"
    return best


@pytest.fixture(scope="module")
def cnn_demo() -> Any:
    from spineview.ml.inference import Classifier
    from spineview.models.catalogue import bundled_models_dir

    return Classifier.load(bundled_models_dir() / "cnn-demo")


@pytest.fixture(scope="module")
def cnn_demo_float32() -> Any:
    from spineview.ml.inference import Classifier
    from spineview.models.catalogue import bundled_models_dir

    return Classifier.load(bundled_models_dir() / "cnn-demo", precision="float32")


def _at_conv3(classifier: Any) -> Any:
    """The same network explained at conv3 (the layer older manifests name; the checks below
    spell out its pooling by hand)."""
    import dataclasses

    from spineview.ml.inference import Classifier

    manifest = dataclasses.replace(classifier.manifest, gradcam_layer="conv3")
    return Classifier(classifier.model, manifest, None, classifier.precision)


@pytest.mark.tf
@pytest.mark.parametrize("method", ["gradcam", "gradcam++"])
def test_cnn_map_on_the_slice_grid(
    cnn_demo: Any, spine_slices: list[np.ndarray], method: str
) -> None:
    from spineview.core.preprocess import resize_bilinear
    from spineview.ml.gradcam import GradCam

    gradcam = GradCam(cnn_demo)
    # a spine slice with evidence for its decided class, on a grid of its own (300 x 200)
    grids = [resize_bilinear(pixels, 300, 200) for pixels in spine_slices]
    pixels = next(p for p in grids if not gradcam.compute(p, method=method).flat)  # type: ignore[arg-type]
    heat = gradcam.compute(pixels, method=method)  # type: ignore[arg-type]
    assert heat.values.shape == (300, 200) and heat.values.dtype == np.float32
    assert heat.values.min() >= 0.0 and heat.values.max() <= 1.0
    assert not heat.flat and heat.values.max() == 1.0
    assert heat.values[heat.peak] == 1.0
    assert heat.method == method
    # the forward pass that made the map is the classifier's own
    expected = float(cnn_demo.predict_prepared(cnn_demo.prepare(pixels)[None])[0])
    assert heat.probability == pytest.approx(expected, abs=1e-3)
    decided = bool(cnn_demo.calibrate(np.array([expected]))[0] >= cnn_demo.manifest.threshold)
    assert heat.class_name == cnn_demo.class_name(decided)


@pytest.mark.tf
def test_positive_and_negative_gradcam_maps_have_disjoint_support(
    cnn_demo: Any, spine_slices: list[np.ndarray]
) -> None:
    """The negative class's score is minus the positive one's, so its Grad-CAM weights are the
    negated weights and, before the ReLU, its map is the negated map (exactly, in bfloat16 too:
    rounding is symmetric in sign): on the layer's grid, where one map shows evidence the other
    is zero."""
    from spineview.ml.gradcam import GradCam

    gradcam = GradCam(_at_conv3(cnn_demo))
    pixels = _explained_slice(gradcam, spine_slices)
    positive = gradcam.layer_map(pixels, target="positive")
    negative = gradcam.layer_map(pixels, target="negative")
    assert positive.positive and not negative.positive
    assert positive.values.shape == negative.values.shape == (52, 52)  # conv3 of a 224 input
    assert GradCam(cnn_demo).layer_map(pixels).values.shape == (109, 109)  # conv2: the default
    assert positive.values.max() > 0 and negative.values.max() > 0
    assert not np.any((positive.values > 0) & (negative.values > 0))
    # most of the grid shows evidence for one class (none only where conv3's channels are 0)
    assert np.mean((positive.values > 0) | (negative.values > 0)) > 0.5
    assert positive.probability == negative.probability
    heat = gradcam.compute(pixels, target="negative")
    assert heat.class_name == cnn_demo.negative_class
    expected = upsample_map(normalise_map(negative.values), *pixels.shape)
    np.testing.assert_allclose(heat.values, expected / expected.max(), atol=1e-6)
    plus_plus = gradcam.compute(pixels, method="gradcam++", target="negative")
    assert plus_plus.method == "gradcam++" and not plus_plus.flat
    assert not np.allclose(plus_plus.values, heat.values, atol=0.05)


@pytest.mark.tf
def test_gradcam_matches_finite_differences(
    cnn_demo_float32: Any, spine_slices: list[np.ndarray]
) -> None:
    """Grad-CAM's channel weights are the spatial means of d(logit)/dA. Shifting one channel of
    conv3's output uniformly by ±eps moves the logit by ±eps·Σ_ij d(logit)/dA_ijk (max pooling
    keeps its choices, the rest is piecewise linear), so central differences give the weights
    without any gradient code; the map built from them (in logit units, on conv3's grid) must
    be the one GradCam computes, for both classes. Grad-CAM++ is checked the same way against
    a hand-written backward pass of the head."""
    import keras

    from spineview.ml.gradcam import GradCam

    classifier = _at_conv3(cnn_demo_float32)
    model = classifier.model
    gradcam = GradCam(classifier)
    trunk = keras.Model(model.input, model.get_layer("conv3").output)
    dense_kernel, dense_bias = (np.asarray(w, np.float64) for w in model.get_layer("dense").weights)
    out_kernel, out_bias = (np.asarray(w, np.float64) for w in model.get_layer("output").weights)

    def conv3(pixels: np.ndarray) -> np.ndarray:
        image = classifier.prepare(pixels)[None]
        return np.asarray(trunk(image, training=False), dtype=np.float32)

    def pool(volume: np.ndarray) -> np.ndarray:  # pool3: 2×2 max pooling
        rows, cols = volume.shape[:2]
        return volume.reshape(rows // 2, 2, cols // 2, 2, -1).max(axis=(1, 3))

    def kink_margin(pixels: np.ndarray) -> float:
        """How far the dense units are from their ReLU kink: the hand-written differences and
        backward pass below hold only where no unit switches on or off."""
        pooled = pool(conv3(pixels)[0].astype(np.float64))
        return float(np.abs(pooled.ravel() @ dense_kernel + dense_bias).min())

    pixels = max(spine_slices, key=kink_margin)
    activations = conv3(pixels)
    _, rows, cols, channels = activations.shape
    base = activations[0].astype(np.float64)
    pooled = pool(base)
    pre_activation = pooled.ravel() @ dense_kernel + dense_bias  # flatten, dense
    per_channel = dense_kernel.reshape(*pooled.shape, -1)

    def logit_shifted(k: int, shift: float) -> float:
        """The logit with channel k of conv3's output shifted by `shift` everywhere."""
        change = pool(base[:, :, k : k + 1] + shift)[:, :, 0] - pooled[:, :, k]
        hidden = np.maximum(
            pre_activation + change.ravel() @ per_channel[:, :, k].reshape(-1, len(dense_bias)), 0.0
        )
        return float((hidden @ out_kernel + out_bias)[0])

    eps = 1e-3
    weights = np.array(
        [
            (logit_shifted(k, eps) - logit_shifted(k, -eps)) / (2 * eps * rows * cols)
            for k in range(channels)
        ]
    )
    raw = np.einsum("hwk,k->hw", activations[0].astype(np.float64), weights)

    positive = gradcam.layer_map(pixels, target="positive")
    negative = gradcam.layer_map(pixels, target="negative")
    assert positive.values.shape == negative.values.shape == (rows, cols)
    scale = np.abs(raw).max()  # the differences' error is relative to the logit's scale
    assert scale > 0  # (cnn-demo's positive-class map is empty on most slices: compared as 0)
    for side, reference in ((positive, np.maximum(raw, 0)), (negative, np.maximum(-raw, 0))):
        np.testing.assert_allclose(side.values, reference, atol=1e-3 * scale)
        if reference.max() > 0.01 * scale:  # a peak far above the differences' error
            assert map_peak(side.values) == map_peak(reference)
    target, signed = ("positive", raw) if raw.max() > 0 else ("negative", -raw)
    heat = gradcam.compute(pixels, target=target)  # type: ignore[arg-type]
    assert heat.values.shape == pixels.shape and not heat.flat
    expected = upsample_map(normalise_map(signed), *pixels.shape)
    np.testing.assert_allclose(heat.values, expected / expected.max(), atol=2e-3)

    # Grad-CAM++ needs the gradient at every position: backpropagate the same head by hand
    # (each 2×2 window passes its gradient to one maximum), check it against the differences,
    # then apply alpha = g² / (2 g² + Σ_ab A_ab g³), weights = Σ_ij alpha relu(g).
    active = (pre_activation > 0).astype(np.float64)
    pooled_grad = (dense_kernel @ (active * out_kernel[:, 0])).reshape(pooled.shape)
    windows = base.reshape(rows // 2, 2, cols // 2, 2, channels).transpose(0, 2, 4, 1, 3)
    winner = windows.reshape(*windows.shape[:3], 4).argmax(axis=-1)
    routed = (np.arange(4) == winner[..., None]) * pooled_grad[..., None]
    grads = routed.reshape(*windows.shape).transpose(0, 3, 1, 4, 2).reshape(base.shape)
    np.testing.assert_allclose(grads.mean(axis=(0, 1)), weights, atol=1e-6 * np.abs(weights).max())
    for sign, side in ((1.0, "positive"), (-1.0, "negative")):
        g = sign * grads
        denominator = 2 * g**2 + base.sum(axis=(0, 1)) * g**3
        alphas = np.divide(g**2, denominator, out=np.zeros_like(g), where=denominator != 0)
        plus_weights = (alphas * np.maximum(g, 0)).sum(axis=(0, 1))
        reference = np.maximum(base @ plus_weights, 0)
        plus_plus = gradcam.layer_map(pixels, method="gradcam++", target=side)  # type: ignore[arg-type]
        assert reference.max() > 0
        np.testing.assert_allclose(plus_plus.values, reference, atol=1e-3 * reference.max())


@pytest.mark.tf
def test_saturated_output_still_explains(
    cnn_demo_float32: Any, spine_slices: list[np.ndarray]
) -> None:
    """The score is the logit: pushing the output bias far enough to saturate the sigmoid (the
    probability's gradient is then exactly zero in float32) leaves the map unchanged, and
    "predicted" follows the decision."""
    from spineview.ml.gradcam import GradCam

    classifier = cnn_demo_float32
    gradcam = GradCam(classifier)
    pixels = _explained_slice(gradcam, spine_slices)
    before = gradcam.compute(pixels, target="positive")
    bias = classifier.model.get_layer("output").bias
    original = np.asarray(bias).copy()
    try:
        bias.assign(original + 60.0)
        saturated = gradcam.compute(pixels, target="positive")
        predicted_high = gradcam.compute(pixels, method="gradcam++")
        bias.assign(original - 60.0)
        predicted_low = gradcam.compute(pixels, method="gradcam++")
    finally:
        bias.assign(original)
    assert saturated.probability == 1.0 and not saturated.flat
    np.testing.assert_allclose(saturated.values, before.values, atol=1e-4)
    assert predicted_high.class_name == classifier.positive_class and not predicted_high.flat
    assert predicted_low.class_name == classifier.negative_class and not predicted_low.flat
    assert predicted_low.probability < 1e-20


@pytest.mark.tf
def test_compute_from_a_worker_thread(cnn_demo: Any) -> None:
    from spineview.ml.gradcam import GradCam, HeatMap

    gradcam = GradCam(cnn_demo)
    pixels = _slice(64, 80)
    results: list[HeatMap] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            results.append(gradcam.compute(pixels, method="gradcam++"))
        except BaseException as exc:
            errors.append(exc)

    worker = threading.Thread(target=work)
    worker.start()
    worker.join(timeout=60)
    assert not worker.is_alive() and not errors
    np.testing.assert_array_equal(
        results[0].values, gradcam.compute(pixels, method="gradcam++").values
    )
    with pytest.raises(ValueError):
        gradcam.compute(np.zeros((3, 4, 5)))
    with pytest.raises(ValueError):
        gradcam.compute(pixels, method="cam")  # type: ignore[arg-type]


@pytest.mark.tf
def test_resnet50_nested_backbone(tmp_path: Path) -> None:
    from spineview.ml.architectures import build_model
    from spineview.ml.gradcam import GradCam
    from spineview.ml.inference import Classifier
    from spineview.ml.store import save_model
    from spineview.models.catalogue import ModelManifest

    model = build_model("resnet50", seed=0)
    manifest = ModelManifest.for_architecture("resnet50", "tiny-rn", demo=True)
    save_model(model, manifest, tmp_path / "tiny-rn")
    classifier = Classifier.load(tmp_path / "tiny-rn")
    gradcam = GradCam(classifier)
    pixels = _slice(150, 110)
    expected = float(classifier.predict_prepared(classifier.prepare(pixels)[None])[0])
    maps = {}
    for method in ("gradcam", "gradcam++"):
        for target in ("positive", "negative"):
            heat = gradcam.compute(pixels, method=method, target=target)  # type: ignore[arg-type]
            assert heat.values.shape == (150, 110) and heat.values.dtype == np.float32
            assert heat.values.min() >= 0.0 and heat.values.max() <= 1.0
            assert np.isfinite(heat.values).all()
            assert heat.probability == pytest.approx(expected, abs=1e-3)
            maps[method, target] = heat
    # one of the two Grad-CAM classes has positive evidence (the weights are negated)
    assert not (maps["gradcam", "positive"].flat and maps["gradcam", "negative"].flat)
    assert not maps["gradcam++", "positive"].flat


@pytest.mark.tf
def test_hirescam_and_layercam_and_the_randomisation_check(
    cnn_demo: Any, spine_slices: list[np.ndarray]
) -> None:
    """HiResCAM sums gradient × activation per position; Layer-CAM keeps only the positive
    gradients, so on conv2's non-negative (post-ReLU) activations its raw map is never below
    HiResCAM's. Maps of the trained network and of freshly initialised weights differ."""
    from spineview.bench.gradcam import MaskedSlice, randomisation_check
    from spineview.ml.gradcam import GradCam

    gradcam = GradCam(cnn_demo)
    pixels = _explained_slice(gradcam, spine_slices)
    hires = gradcam.layer_map(pixels, method="hirescam", target="positive")
    layer = gradcam.layer_map(pixels, method="layercam", target="positive")
    assert hires.values.shape == layer.values.shape == (109, 109)
    assert np.all(layer.values >= hires.values - 1e-6)
    assert gradcam.compute(pixels, method="hirescam").method == "hirescam"
    with pytest.raises(ValueError, match="unknown Grad-CAM method"):
        gradcam.layer_map(pixels, method="cam")

    items = [
        MaskedSlice("s", "x", i, p, np.zeros(p.shape, dtype=bool))
        for i, p in enumerate(spine_slices[:3])
    ]
    check = randomisation_check(cnn_demo, items)
    assert check["slices"] == 3 and check["max_spearman"] < 0.5


@pytest.mark.tf
def test_measured_heatmap_figures_go_into_the_models_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json
    import shutil

    from spineview.cli import run
    from spineview.core.heatmap import HeatmapMethod
    from spineview.models.catalogue import (
        WEIGHTS_FILE_NAME,
        bundled_models_dir,
        file_sha256,
        find_model,
    )
    from spineview.models.model_text import model_details

    folder = tmp_path / "mine"
    shutil.copytree(bundled_models_dir() / "cnn-demo", folder)
    (folder / "report" / "heatmaps.json").unlink(missing_ok=True)
    weights = file_sha256(folder / WEIGHTS_FILE_NAME)
    assert (
        run(["models", "measure-heatmaps", str(folder), "--studies", "2", "--max-slices", "40"])
        == 0
    )
    printed = capsys.readouterr().out
    report = json.loads((folder / "report" / "heatmaps.json").read_text())
    summary = find_model(str(folder)).manifest.metrics["heatmaps"]
    assert (
        set(summary["methods"])
        == set(report["methods"])
        == {method.value for method in HeatmapMethod}
    )
    assert summary["true_positive_slices"] == report["true_positive_slices"] > 0
    assert summary["source"] == "2 fresh synthetic studies (seed 5) with known lesions"
    for method, figures in summary["methods"].items():
        measured = report["methods"][method]
        assert figures["peak_near_lesion"] == measured["peak_in_dilated_mask_fraction"]
        low, high = figures["peak_near_lesion_interval"]
        assert low <= figures["peak_near_lesion"] <= high
    assert -1.0 <= summary["randomisation_spearman"] <= 1.0
    assert file_sha256(folder / WEIGHTS_FILE_NAME) == weights  # the weights are untouched
    details = model_details(find_model(str(folder)))
    assert "Heatmaps at conv2: peak within 3 px" in details
    assert printed.startswith("Heatmaps at conv2")

"""Batched inference with the bundled CNN: the compiled path agrees with Keras, in order."""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from spineview.core.preprocess import INTENSITY_SCALINGS, preprocess_slice
from spineview.errors import InferenceCancelled
from spineview.ml.inference import Classifier
from spineview.models.catalogue import bundled_models_dir
from spineview.models.metrics import calibrate_probability

pytestmark = pytest.mark.tf

DEMO = bundled_models_dir() / "cnn-demo"


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    return Classifier.load(DEMO)


def _volume(count: int = 11, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:160, 0:120]
    volume = np.stack(
        [np.sin(rows / (5 + i)) * np.cos(cols / 7) * 400 + rng.normal(0, 30, rows.shape)
         for i in range(count)]
    )  # fmt: skip
    return volume.astype(np.float32)


def test_loads_in_the_precision_the_cpu_computes_fastest(classifier: Classifier) -> None:
    assert classifier.precision in ("float32", "mixed_bfloat16")
    assert classifier.name == "cnn-demo" and classifier.positive_class == "degenerative"


def test_slices_are_prepared_with_the_intensity_scaling_the_model_learnt_on(
    classifier: Classifier,
) -> None:
    pixels = _volume(1)[0]
    pixels[3, 3] = 50_000.0  # one bright outlier: the two scalings differ
    prepared = {}
    for scaling in INTENSITY_SCALINGS:
        manifest = replace(classifier.manifest, intensity_scaling=scaling)
        prepared[scaling] = Classifier(classifier.model, manifest, None, "float32").prepare(pixels)
        np.testing.assert_array_equal(prepared[scaling], preprocess_slice(pixels, scaling=scaling))
    assert not np.array_equal(prepared["min-max"], prepared["percentile"])


def test_results_do_not_depend_on_the_batch_size(classifier: Classifier) -> None:
    volume = _volume()
    whole = classifier.classify_volume(volume, batch_size=32)
    small = classifier.classify_volume(volume, batch_size=3)
    assert len(whole) == len(volume)
    np.testing.assert_allclose(whole.raw, small.raw, atol=2e-3)


def test_agrees_with_the_keras_model_called_directly(classifier: Classifier) -> None:
    volume = _volume(5)
    prepared = np.stack([classifier.prepare(pixels) for pixels in volume])
    direct = np.asarray(classifier.model(prepared, training=False), dtype=np.float64)[:, 0]
    ours = classifier.classify_volume(volume)
    # the same network in bfloat16 where the CPU has it (about 3 significant digits)
    np.testing.assert_allclose(ours.raw, direct, atol=1e-3)
    expected = calibrate_probability(ours.raw, classifier.manifest.temperature)
    np.testing.assert_allclose(ours.calibrated, expected)
    assert ours.positive.tolist() == (expected >= classifier.manifest.threshold).tolist()


def test_an_undecoded_slice_gets_no_result_and_the_rest_stay_in_order(
    classifier: Classifier,
) -> None:
    volume = _volume(6)
    reference = classifier.classify_volume(volume).raw
    volume[2] = np.nan
    predictions = classifier.classify_volume(volume)
    assert np.isnan(predictions.raw[2]) and np.isnan(predictions.calibrated[2])
    assert not predictions.positive[2]
    keep = [0, 1, 3, 4, 5]
    np.testing.assert_allclose(predictions.raw[keep], reference[keep], atol=2e-3)
    assert predictions.valid.tolist() == [True, True, False, True, True, True]


def test_progress_per_batch_and_cancel_between_batches(classifier: Classifier) -> None:
    seen: list[tuple[int, int]] = []
    classifier.classify_volume(_volume(7), batch_size=3, progress=lambda d, t: seen.append((d, t)))
    assert seen == [(3, 7), (6, 7), (7, 7)]
    cancel = threading.Event()

    def cancel_after_first(done: int, total: int) -> None:
        cancel.set()

    with pytest.raises(InferenceCancelled):
        classifier.classify_volume(
            _volume(7), batch_size=3, progress=cancel_after_first, cancel=cancel
        )


def test_an_empty_input_gives_empty_results(classifier: Classifier) -> None:
    predictions = classifier.classify(iter([]))
    assert len(predictions) == 0


def test_a_corrupt_model_folder_is_refused_before_anything_runs(tmp_path: Path) -> None:
    import shutil

    from spineview.errors import ModelLoadError

    folder = tmp_path / "broken"
    shutil.copytree(DEMO, folder)
    weights = folder / "model.weights.h5"
    weights.write_bytes(weights.read_bytes()[:-100] + b"\0" * 100)
    with pytest.raises(ModelLoadError, match="checksum"):
        Classifier.load(folder)

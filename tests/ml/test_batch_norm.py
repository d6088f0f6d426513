"""BatchNorm statistics recomputed from training-mode passes (ml.batch_norm)."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.tf


def _tiny_model():  # type: ignore[no-untyped-def]
    import keras

    inputs = keras.Input((4,))
    x = keras.layers.BatchNormalization(name="bn")(inputs)
    inner = keras.Model(inputs, x, name="inner")
    outer_in = keras.Input((4,))
    return keras.Model(outer_in, keras.layers.Dense(1)(inner(outer_in)))


def test_statistics_become_the_average_over_the_batches_and_momentum_is_restored() -> None:
    from spineview.ml.batch_norm import batch_norm_layers, recalibrate_batch_norm

    model = _tiny_model()
    (layer,) = batch_norm_layers(model)  # found inside the nested model
    rng = np.random.default_rng(0)
    batches = [rng.normal(5.0 + i, 2.0, size=(64, 4)).astype("float32") for i in range(3)]
    assert recalibrate_batch_norm(model, iter(batches)) == 3
    expected_mean = np.mean([b.mean(axis=0) for b in batches], axis=0)
    expected_var = np.mean([b.var(axis=0) for b in batches], axis=0)
    np.testing.assert_allclose(np.asarray(layer.moving_mean), expected_mean, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(layer.moving_variance), expected_var, rtol=1e-3)
    assert layer.momentum == pytest.approx(0.99)
    before = [np.asarray(w) for w in model.trainable_weights]
    recalibrate_batch_norm(model, iter(batches))
    for old, new in zip(before, model.trainable_weights, strict=True):
        np.testing.assert_array_equal(old, np.asarray(new))  # weights untouched


def test_a_model_without_batch_norm_is_left_alone() -> None:
    import keras

    from spineview.ml.batch_norm import recalibrate_batch_norm

    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(1)(inputs))
    assert recalibrate_batch_norm(model, iter([np.ones((2, 3), "float32")])) == 0


def test_validation_metrics_match_hand_computed_values() -> None:
    from spineview.ml.batch_norm import validation_metrics

    class Fixed:
        def __call__(self, x: np.ndarray, training: bool = False) -> np.ndarray:
            return x

    p = np.array([[0.9], [0.2], [0.6]], dtype="float32")
    y = np.array([1.0, 0.0, 0.0])
    loss, accuracy, auc = validation_metrics(Fixed(), [(p, y)], softmax=False)
    expected = -(np.log(0.9) + np.log(0.8) + np.log(0.4)) / 3
    assert loss == pytest.approx(expected, rel=1e-5) and accuracy == pytest.approx(2 / 3)
    assert auc == pytest.approx(1.0)  # the one positive outranks both negatives

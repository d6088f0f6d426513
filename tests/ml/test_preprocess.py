"""The one preprocessing shared by training and inference."""

from __future__ import annotations

import numpy as np
import pytest

from spineview.ml.preprocess import INPUT_SIZE, preprocess_slice, resize_bilinear


def test_min_max_resize_and_channels() -> None:
    image = np.arange(40 * 30, dtype=np.float32).reshape(40, 30) * 3 + 100
    out = preprocess_slice(image)
    assert out.shape == (INPUT_SIZE, INPUT_SIZE, 1) and out.dtype == np.float32
    assert out.min() == pytest.approx(0.0) and out.max() == pytest.approx(1.0)
    three = preprocess_slice(image, channels=3)
    assert three.shape == (INPUT_SIZE, INPUT_SIZE, 3)
    np.testing.assert_array_equal(three[..., 0], three[..., 2])


def test_constant_and_non_finite_slices() -> None:
    assert not preprocess_slice(np.full((8, 8), 7.0)).any()
    image = np.ones((16, 16), dtype=np.float32)
    image[0, 0] = np.nan
    image[1, 1] = 5.0
    out = preprocess_slice(image)
    assert np.isfinite(out).all() and out.max() <= 1.0


def test_rejects_non_2d_input() -> None:
    with pytest.raises(ValueError, match="2-D"):
        preprocess_slice(np.zeros((2, 3, 4)))


@pytest.mark.tf
@pytest.mark.parametrize("shape", [(512, 512), (320, 256), (60, 100), (224, 224)])
def test_resize_matches_tensorflow(shape: tuple[int, int]) -> None:
    import tensorflow as tf

    image = np.random.default_rng(0).random(shape).astype(np.float32)
    expected = tf.image.resize(image[None, :, :, None], (224, 224), method="bilinear")
    np.testing.assert_allclose(resize_bilinear(image, 224, 224), expected.numpy()[0, :, :, 0],
                               atol=1e-5)  # fmt: skip

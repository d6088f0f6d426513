"""The one preprocessing shared by training and inference."""

from __future__ import annotations

import numpy as np
import pytest

from spineview.core.preprocess import (
    INPUT_SIZE,
    INTENSITY_SCALINGS,
    describe,
    preprocess_slice,
    resize_bilinear,
    scale_intensity,
)


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


def test_percentile_scaling_keeps_the_contrast_that_one_bright_pixel_takes_from_min_max() -> None:
    rng = np.random.default_rng(4)
    image = rng.uniform(100, 200, (64, 64)).astype(np.float32)
    image[5, 5] = 10_000.0  # one outlier, as fat or a vessel
    by_min_max = scale_intensity(image, "min-max")
    by_percentile = scale_intensity(image, "percentile")
    assert by_min_max.max() == 1.0 and np.median(by_min_max) < 0.02
    assert by_percentile.min() == 0.0 and by_percentile.max() == 1.0
    assert 0.4 < np.median(by_percentile) < 0.6  # the tissue spans the range
    assert by_percentile[5, 5] == 1.0  # clipped, not beyond
    assert by_percentile.dtype == np.float32


def test_percentile_scaling_of_a_mostly_blank_slice_and_unknown_scalings() -> None:
    blank = np.zeros((50, 50), dtype=np.float32)
    blank[0, :3] = 9.0  # under 0.5 % of the slice: both percentiles are 0
    assert scale_intensity(blank, "percentile").max() == 1.0  # falls back to min-max
    assert not preprocess_slice(np.full((8, 8), 3.0), scaling="percentile").any()
    with pytest.raises(ValueError, match="unknown intensity scaling 'z'"):
        preprocess_slice(blank, scaling="z")
    assert all(INTENSITY_SCALINGS[name] in describe(name) for name in INTENSITY_SCALINGS)


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

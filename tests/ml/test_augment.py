"""The one-warp training augmentation: identity when off, flips, bounded shifts, repeatable."""

from __future__ import annotations

import numpy as np
import pytest

from spineview.ml.augment import affine_augmenter

pytestmark = pytest.mark.tf


def _batch(count: int = 16, size: int = 32) -> np.ndarray:
    rng = np.random.default_rng(4)
    return rng.random((count, size, size, 1)).astype(np.float32)


def test_no_settings_leave_the_images_as_they_are() -> None:
    images = _batch()
    out = np.asarray(affine_augmenter({}, seed=0)(images, 0))
    np.testing.assert_allclose(out, images, atol=1e-6)


def test_flip_mirrors_about_half_of_the_images_exactly() -> None:
    images = _batch(count=32)
    out = np.asarray(affine_augmenter({"flip": 1.0}, seed=1)(images, 3))
    mirrored = [np.allclose(o, i[:, ::-1], atol=1e-6) for o, i in zip(out, images, strict=True)]
    same = [np.allclose(o, i, atol=1e-6) for o, i in zip(out, images, strict=True)]
    assert all(m or s for m, s in zip(mirrored, same, strict=True))
    assert 4 <= sum(mirrored) <= 28


def test_a_shift_moves_a_point_by_at_most_the_fraction_of_the_side() -> None:
    images = np.zeros((16, 40, 40, 1), dtype=np.float32)
    images[:, 20, 20, 0] = 1.0
    out = np.asarray(affine_augmenter({"shift": 0.1}, seed=2)(images, 0))
    moved = 0
    for image in out[..., 0]:
        row, col = np.unravel_index(np.argmax(image), image.shape)
        assert abs(row - 20) <= 4 and abs(col - 20) <= 4
        moved += (row, col) != (20, 20)
    assert moved > 0


def test_the_same_seed_and_batch_repeat_and_another_batch_differs() -> None:
    images = _batch()
    settings = {"rotation": 10.0, "shift": 0.05, "shear": 0.1, "zoom": 0.1, "flip": 1.0}
    augment = affine_augmenter(settings, seed=5)
    first, again = np.asarray(augment(images, 7)), np.asarray(augment(images, 7))
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, np.asarray(augment(images, 8)))
    assert first.shape == images.shape and np.all(np.isfinite(first))


def test_a_rotation_fills_the_corners_with_black_and_keeps_the_centre() -> None:
    images = np.ones((8, 32, 32, 1), dtype=np.float32)
    out = np.asarray(affine_augmenter({"rotation": 45.0}, seed=3)(images, 0))
    assert out.min() == 0.0  # rotated corners come from outside the image
    assert np.allclose(out[:, 16, 16, 0], 1.0)  # the centre stays inside

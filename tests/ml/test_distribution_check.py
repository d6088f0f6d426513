"""The in-distribution check's arithmetic: fit, threshold, distances, storage."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from spineview.errors import ModelLoadError
from spineview.models.distribution_check import (
    MAX_DIMENSIONS,
    DistributionCheck,
    fit_distribution_check,
)


def _features(rng: np.random.Generator, count: int, width: int, shift: float = 0.0) -> np.ndarray:
    mixing = np.linspace(0.5, 2.0, width)
    return rng.normal(size=(count, width)) * mixing + shift


def test_the_threshold_leaves_about_one_percent_of_familiar_slices_beyond_it() -> None:
    rng = np.random.default_rng(0)
    check = fit_distribution_check(("a",), _features(rng, 3000, 16), _features(rng, 2000, 16))
    fresh = check.distances(_features(rng, 5000, 16))
    assert 0.003 < np.mean(fresh > check.threshold) < 0.03
    assert check.validation_quantiles["50"] < check.validation_quantiles["99"]
    assert check.validation_quantiles["99"] == pytest.approx(check.threshold)
    shifted = check.distances(_features(rng, 200, 16, shift=3.0))
    assert np.mean(shifted > check.threshold) > 0.95


def test_distances_are_mahalanobis_and_nan_rows_stay_nan() -> None:
    rng = np.random.default_rng(1)
    check = fit_distribution_check(("a",), _features(rng, 500, 4), _features(rng, 100, 4))
    point = np.array([[1.0, -2.0, 0.5, 3.0], [np.nan, 0.0, 0.0, 0.0]])
    centred = point[0] - check.mean
    expected = np.sqrt(centred @ check.precision @ centred)
    distances = check.distances(point)
    assert distances[0] == pytest.approx(expected)
    assert np.isnan(distances[1])
    with pytest.raises(ValueError, match="expected"):
        check.distances(np.zeros((2, 5)))


def test_it_reads_back_exactly_as_fitted(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    check = fit_distribution_check(
        ("pool1", "pool2"), _features(rng, 400, 8), _features(rng, 80, 8)
    )
    path = tmp_path / "distribution.npz"
    path.write_bytes(check.to_bytes())
    loaded = DistributionCheck.load(path)
    probe = _features(rng, 50, 8, shift=1.0)
    assert np.array_equal(loaded.distances(probe), check.distances(probe))
    assert loaded.layers == ("pool1", "pool2")
    assert loaded.threshold == check.threshold
    assert loaded.summary()["features"] == 8


def test_wide_features_are_projected_first() -> None:
    rng = np.random.default_rng(3)
    width = MAX_DIMENSIONS + 64
    check = fit_distribution_check(
        ("pool",), _features(rng, 600, width), _features(rng, 200, width)
    )
    assert check.projection is not None and check.projection.shape == (MAX_DIMENSIONS, width)
    assert check.feature_count == width
    assert np.mean(check.distances(_features(rng, 100, width, shift=2.0)) > check.threshold) > 0.9


def test_too_few_slices_and_bad_files_are_refused(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    with pytest.raises(ValueError, match="at least 10"):
        fit_distribution_check(("a",), _features(rng, 100, 4), _features(rng, 5, 4))
    broken = tmp_path / "distribution.npz"
    broken.write_bytes(b"not an npz file")
    with pytest.raises(ModelLoadError, match=r"distribution\.npz"):
        DistributionCheck.load(broken)

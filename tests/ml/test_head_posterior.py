"""The last-layer Laplace posterior: its samples, its prior precision and its file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from spineview.errors import ModelLoadError
from spineview.models.head_posterior import (
    PRIOR_PRECISIONS,
    HeadPosterior,
    fit_head_posterior,
    log_marginal_likelihood,
)


def _logistic_data(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, float]:
    """Features of a trained logistic output layer: its weights fitted by plain Newton steps."""
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(n, 5))
    truth = np.array([1.5, -1.0, 0.5, 0.0, 2.0])
    labels = rng.random(n) < 1.0 / (1.0 + np.exp(-(features @ truth - 0.3)))
    augmented = np.hstack([features, np.ones((n, 1))])
    w = np.zeros(6)
    for _ in range(25):
        p = 1.0 / (1.0 + np.exp(-(augmented @ w)))
        hessian = (augmented * (p * (1 - p))[:, None]).T @ augmented + 1e-3 * np.eye(6)
        w -= np.linalg.solve(hessian, augmented.T @ (p - labels) + 1e-3 * w)
    return features, w[:-1], float(w[-1])


def test_samples_follow_the_exact_logit_variance() -> None:
    features, weights, bias = _logistic_data(400)
    posterior = fit_head_posterior(features, weights, bias)
    heads = posterior.sampled_heads(20_000, seed=1)
    logits = heads.logits(features[:6])
    exact = posterior.logit_variance(features[:6])
    assert np.var(logits, axis=1) == pytest.approx(exact, rel=0.05)
    centre = features[:6] @ weights + bias
    assert np.mean(logits, axis=1) == pytest.approx(centre, abs=4 * np.sqrt(exact.max() / 20_000))


def test_far_slices_and_less_data_mean_more_uncertainty() -> None:
    features, weights, bias = _logistic_data(400)
    posterior = fit_head_posterior(features, weights, bias)
    near = posterior.logit_variance(features[:50])
    far = posterior.logit_variance(features[:50] * 8.0)
    assert np.all(far > near)
    more_data = fit_head_posterior(features, weights, bias, training_slices=4000)
    assert np.all(more_data.logit_variance(features[:50]) < near)


def test_the_prior_precision_maximises_the_laplace_evidence() -> None:
    features, weights, bias = _logistic_data(300, seed=2)
    posterior = fit_head_posterior(features, weights, bias)
    mean = posterior.mean
    augmented = np.hstack([features, np.ones((len(features), 1))])
    p = 1.0 / (1.0 + np.exp(-(augmented @ mean)))
    hessian = (augmented * (p * (1 - p))[:, None]).T @ augmented

    def evidence(lam: float) -> float:  # written out with a determinant, no eigenvalues
        sign, logdet = np.linalg.slogdet(hessian + lam * np.eye(len(mean)))
        assert sign > 0
        return -0.5 * lam * mean @ mean + 0.5 * len(mean) * np.log(lam) - 0.5 * logdet

    grid = log_marginal_likelihood(PRIOR_PRECISIONS, posterior.eigenvalues, mean)
    for lam, value in zip(PRIOR_PRECISIONS[::40], grid[::40], strict=True):
        assert value == pytest.approx(evidence(float(lam)), rel=1e-5, abs=1e-5)
    best = posterior.prior_precision
    assert evidence(best) >= max(evidence(best * 2), evidence(best / 2))
    assert PRIOR_PRECISIONS[0] < best < PRIOR_PRECISIONS[-1]


def test_the_centre_moves_the_samples_not_their_spread() -> None:
    features, weights, bias = _logistic_data(200)
    posterior = fit_head_posterior(features, weights, bias)
    plain = posterior.sampled_heads(64)
    stored_weights, stored_bias = posterior.mean[:-1], posterior.mean[-1]  # float32-rounded
    moved = posterior.sampled_heads(64, centre=(stored_weights + 0.01, stored_bias - 0.2))
    assert moved.weights - plain.weights == pytest.approx(np.full_like(plain.weights, 0.01))
    assert moved.biases - plain.biases == pytest.approx(np.full(64, -0.2))
    assert posterior.sampled_heads(64).weights == pytest.approx(plain.weights)  # fixed draws
    with pytest.raises(ValueError, match="centre of 3 values"):
        posterior.sampled_heads(4, centre=(np.zeros(2), 0.0))


def test_too_few_slices_or_mismatched_shapes_are_refused() -> None:
    features, weights, bias = _logistic_data(200)
    with pytest.raises(ValueError, match="at least 10"):
        fit_head_posterior(features[:9], weights, bias)
    with pytest.raises(ValueError, match="for 4 weights"):
        fit_head_posterior(features, weights[:4], bias)


def test_the_file_round_trips_and_a_damaged_one_is_named(tmp_path: Path) -> None:
    features, weights, bias = _logistic_data(200)
    posterior = fit_head_posterior(features, weights, bias)
    path = tmp_path / "head_posterior.npz"
    path.write_bytes(posterior.to_bytes())
    loaded = HeadPosterior.load(path)
    assert loaded.prior_precision == posterior.prior_precision
    assert loaded.logit_variance(features[:5]) == pytest.approx(
        posterior.logit_variance(features[:5]), rel=1e-4
    )
    assert posterior.summary()["features"] == 5
    path.write_bytes(b"not an npz")
    with pytest.raises(ModelLoadError, match=r"head_posterior\.npz: not a readable head posterior"):
        HeadPosterior.load(path)
    broken = HeadPosterior(
        posterior.mean, posterior.eigenvectors, -posterior.eigenvalues - 1, 1.0, 10
    )
    path.write_bytes(broken.to_bytes())
    with pytest.raises(ModelLoadError, match="not a finite 6-dimensional Gaussian"):
        HeadPosterior.load(path)

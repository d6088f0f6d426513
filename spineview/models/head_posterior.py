"""A last-layer Laplace posterior: per-slice uncertainty for a network without dropout.

ResNet50's head has no dropout, so Monte-Carlo dropout cannot say how sure it is. The standard
post-hoc alternative ("Laplace Redux", Daxberger et al. 2021) keeps the trained network and
treats only its output layer as uncertain: around the trained weights w* of the positive
class's logit (for a two-class softmax, the difference of the two classes' weights; the bias
is the last entry, the feature vector gets a constant 1), the log posterior is approximated by
a Gaussian with precision H + λI, where H = Σ p(1 - p) φ φᵀ is the logistic loss's Hessian
over the training slices' head inputs φ and λ the prior precision. λ is the one that maximises
the Laplace approximation of the marginal likelihood (a closed form over H's eigenvalues), so
nothing is tuned by hand and no validation slice is spent on it.

At inference a fixed set of weight vectors is drawn from the posterior (the same draws for
every slice, like fixed dropout masks), so a slice's samples cost one matrix product on the
features the forward pass already gives. The arrays are stored as float32 beside the weights
(`head_posterior.npz`), the manifest records the summary and the file's sha256
(`ModelManifest.head_posterior`).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from spineview.errors import ModelLoadError

HEAD_POSTERIOR_FILE_NAME = "head_posterior.npz"
PRIOR_PRECISIONS = np.logspace(-4, 6, 201)
"""The λ grid the marginal likelihood is maximised over (20 steps per decade)."""


@dataclass(frozen=True)
class SampledHeads:
    """The output layer's positive-class logit under a fixed set of sampled weights."""

    weights: np.ndarray
    """(samples, d) weights of the logit, one row per sample."""
    biases: np.ndarray
    """(samples,) the matching biases."""

    def logits(self, features: np.ndarray) -> np.ndarray:
        """(n, samples): the logit of each slice under each sample."""
        return np.asarray(features @ self.weights.T + self.biases)


@dataclass(frozen=True)
class HeadPosterior:
    """The Gaussian posterior of the output layer's logit weights (bias last)."""

    mean: np.ndarray
    """(d + 1,) the trained weights w* of the positive class's logit, bias last."""
    eigenvectors: np.ndarray
    """(d + 1, d + 1) eigenvectors of H (columns)."""
    eigenvalues: np.ndarray
    """(d + 1,) eigenvalues of H (clipped at 0)."""
    prior_precision: float
    fitted_slices: int

    @property
    def feature_count(self) -> int:
        return len(self.mean) - 1

    def sampled_heads(
        self, count: int, centre: tuple[np.ndarray, float] | None = None, seed: int = 0
    ) -> SampledHeads:
        """`count` draws w ~ N(w*, (H + λI)⁻¹), fixed by `seed` so a series always gets the
        same uncertainty. `centre` (weights, bias) replaces w* by the loaded network's own
        logit weights (stored as float16, they differ from w* by rounding), so the samples
        scatter around the probability the network gives."""
        rng = np.random.default_rng(seed)
        scale = 1.0 / np.sqrt(self.eigenvalues + self.prior_precision)
        mean = self.mean if centre is None else np.append(centre[0], centre[1])
        if mean.shape != self.mean.shape:
            raise ValueError(f"a centre of {len(mean)} values for a {len(self.mean)}-d posterior")
        draws = mean + (rng.standard_normal((count, len(mean))) * scale) @ self.eigenvectors.T
        return SampledHeads(draws[:, :-1], draws[:, -1])

    def logit_variance(self, features: np.ndarray) -> np.ndarray:
        """The posterior variance of each slice's logit, φᵀ (H + λI)⁻¹ φ (exact, no sampling)."""
        augmented = _augmented(np.asarray(features, dtype=np.float64))
        projected = augmented @ self.eigenvectors
        return np.asarray(np.sum(projected**2 / (self.eigenvalues + self.prior_precision), axis=1))

    def summary(self) -> dict[str, Any]:
        """What the manifest says about the posterior (the arrays live in the .npz)."""
        return {
            "method": "last-layer Laplace approximation (Gaussian posterior of the output "
            "layer's logit weights; prior precision maximising the marginal likelihood)",
            "features": self.feature_count,
            "prior_precision": float(f"{self.prior_precision:.6g}"),
            "fitted_slices": self.fitted_slices,
            "file": HEAD_POSTERIOR_FILE_NAME,
        }

    def to_bytes(self) -> bytes:
        """The .npz file's content (arrays as float32)."""
        buffer = io.BytesIO()
        np.savez(
            buffer,
            mean=self.mean.astype(np.float32),
            eigenvectors=self.eigenvectors.astype(np.float32),
            eigenvalues=self.eigenvalues.astype(np.float32),
            prior_precision=np.array(self.prior_precision),
            fitted_slices=np.array(self.fitted_slices),
        )
        return buffer.getvalue()

    @classmethod
    def load(cls, path: Path) -> HeadPosterior:
        """Read a head_posterior.npz; ModelLoadError naming the file when it is not one."""
        try:
            with np.load(path, allow_pickle=False) as data:
                posterior = cls(
                    mean=np.asarray(data["mean"], dtype=np.float64),
                    eigenvectors=np.asarray(data["eigenvectors"], dtype=np.float64),
                    eigenvalues=np.asarray(data["eigenvalues"], dtype=np.float64),
                    prior_precision=float(data["prior_precision"]),
                    fitted_slices=int(data["fitted_slices"]),
                )
        except (OSError, KeyError, ValueError) as exc:
            raise ModelLoadError(f"{path}: not a readable head posterior ({exc})") from exc
        d = len(posterior.mean)
        arrays = (posterior.mean, posterior.eigenvectors, posterior.eigenvalues)
        if (
            posterior.eigenvectors.shape != (d, d)
            or posterior.eigenvalues.shape != (d,)
            or not all(np.isfinite(values).all() for values in arrays)
            or (posterior.eigenvalues < 0).any()
        ):
            raise ModelLoadError(
                f"{path}: the posterior's arrays are not a finite {d}-dimensional Gaussian"
            )
        if not np.isfinite(posterior.prior_precision) or posterior.prior_precision <= 0:
            raise ModelLoadError(
                f"{path}: the prior precision {posterior.prior_precision} is not positive"
            )
        return posterior


def fit_head_posterior(
    features: np.ndarray,
    weights: np.ndarray,
    bias: float,
    *,
    training_slices: int | None = None,
) -> HeadPosterior:
    """Fit the posterior around the trained logit `weights` (d,) and `bias` from the head
    inputs (n × d) of training slices. When `features` are a subset of the training slices,
    `training_slices` (their number in all) scales the Hessian to the whole set. ValueError
    when fewer than 10 finite rows are given or the shapes disagree."""
    values = np.asarray(features, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64).ravel()
    if values.ndim != 2 or values.shape[1] != len(w):
        raise ValueError(f"features of shape {values.shape} for {len(w)} weights")
    values = values[np.isfinite(values).all(axis=1)]
    if len(values) < 10:
        raise ValueError(
            f"{len(values)} training slices: at least 10 are needed to fit a head posterior"
        )
    mean = np.append(w, float(bias))
    augmented = _augmented(values)
    probability = 1.0 / (1.0 + np.exp(-(augmented @ mean)))
    curvature = probability * (1.0 - probability)
    hessian = (augmented * curvature[:, np.newaxis]).T @ augmented
    hessian *= max(training_slices or len(values), len(values)) / len(values)
    eigenvalues, eigenvectors = np.linalg.eigh((hessian + hessian.T) / 2.0)
    eigenvalues = np.clip(eigenvalues, 0.0, None)
    return HeadPosterior(
        mean=_stored(mean),
        eigenvectors=_stored(eigenvectors),
        eigenvalues=_stored(eigenvalues),
        prior_precision=float(_best_prior_precision(eigenvalues, mean)),
        fitted_slices=len(values),
    )


def log_marginal_likelihood(
    prior_precision: np.ndarray, eigenvalues: np.ndarray, mean: np.ndarray
) -> np.ndarray:
    """The λ-dependent part of the Laplace log marginal likelihood for each λ:
    -λ/2 |w*|² + d/2 log λ - 1/2 log det(H + λI) (the data term at w* does not depend on λ)."""
    lam = np.asarray(prior_precision, dtype=np.float64)[:, np.newaxis]
    d = len(mean)
    return np.asarray(
        -0.5 * lam[:, 0] * float(mean @ mean)
        + 0.5 * d * np.log(lam[:, 0])
        - 0.5 * np.sum(np.log(eigenvalues[np.newaxis, :] + lam), axis=1)
    )


def _best_prior_precision(eigenvalues: np.ndarray, mean: np.ndarray) -> float:
    values = log_marginal_likelihood(PRIOR_PRECISIONS, eigenvalues, mean)
    return float(PRIOR_PRECISIONS[int(np.argmax(values))])


def _augmented(features: np.ndarray) -> np.ndarray:
    return np.hstack([features, np.ones((len(features), 1))])


def _stored(values: np.ndarray) -> np.ndarray:
    """`values` as they read back from the file (float32)."""
    return np.asarray(values, dtype=np.float32).astype(np.float64)

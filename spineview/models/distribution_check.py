"""Whether a slice looks like the slices a model was trained on, judged from the image itself.

A slice classifier answers for any image: a brain scan gets a confident "degenerative" as easily
as a lumbar spine does. The check here is the standard feature-space one: the network's
features of every training slice (its convolution blocks' outputs averaged over the image, see
`Architecture.distribution_layers`) define a Gaussian (their mean and a Ledoit–Wolf shrunk
covariance, so dead units and few slices still give an invertible matrix), and a slice's
Mahalanobis distance to it says how far it lies from the training data. Features wider than
MAX_DIMENSIONS are first projected on their leading principal components. The threshold is a
percentile (99th by default) of the distances of the validation slices, which the fit never
saw: by construction about 1 % of familiar slices lie beyond it.

Inference needs only NumPy; scikit-learn is imported only to fit. The arrays are stored (as
float32, the threshold computed with the stored values) beside the weights as
`distribution.npz`; the manifest records the summary and the file's sha256
(`ModelManifest.distribution_check`).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from spineview.errors import ModelLoadError

DISTRIBUTION_FILE_NAME = "distribution.npz"
THRESHOLD_PERCENTILE = 99.0
"""Validation slices beyond the threshold: 100 - this, in percent."""
FIT_SLICES = 4000
"""At most this many training slices define the distribution (a random subset regardless of
label: the distribution is of images, not of classes)."""
MAX_DIMENSIONS = 256
"""Wider features are projected on this many principal components before the fit."""


@dataclass(frozen=True)
class DistributionCheck:
    """The fitted feature distribution of one model and its threshold."""

    layers: tuple[str, ...]
    """The layers whose pooled outputs are the features (`Architecture.distribution_layers`)."""
    mean: np.ndarray
    precision: np.ndarray
    """Inverse of the shrunk covariance (d × d)."""
    threshold: float
    """Distances above this are far from the training data."""
    percentile: float
    validation_quantiles: dict[str, float]
    """Median, 90th and 99th percentile of the validation distances ("50", "90", "99")."""
    shrinkage: float
    fitted_slices: int
    validation_slices: int
    projection: np.ndarray | None = None
    """(k, d) principal axes the features are projected on first (None: used as they are)."""
    projection_mean: np.ndarray | None = None

    @property
    def feature_count(self) -> int:
        return len(self.mean) if self.projection is None else self.projection.shape[1]

    def distances(self, features: np.ndarray) -> np.ndarray:
        """Mahalanobis distance of each row of `features` (n × d) to the training mean; NaN
        for a row that is not finite."""
        values = np.asarray(features, dtype=np.float64)
        if values.ndim != 2 or values.shape[1] != self.feature_count:
            raise ValueError(
                f"features of shape {values.shape}; expected (n, {self.feature_count})"
            )
        finite = np.asarray(np.isfinite(values).all(axis=1), dtype=bool)
        values = np.where(finite[:, np.newaxis], values, 0.0)
        if self.projection is not None and self.projection_mean is not None:
            values = (values - self.projection_mean) @ self.projection.T
        centred = values - self.mean
        squared = np.einsum("ij,jk,ik->i", centred, self.precision, centred)
        result = np.sqrt(np.maximum(squared, 0.0))
        result[~finite] = np.nan
        return result

    def summary(self) -> dict[str, Any]:
        """What the manifest says about the check (the arrays live in the .npz)."""
        return {
            "method": "Mahalanobis distance of the image-averaged layer outputs (Ledoit-Wolf "
            "shrunk covariance of the training slices)",
            "layers": list(self.layers),
            "features": self.feature_count,
            "principal_components": None if self.projection is None else len(self.projection),
            "threshold": round(self.threshold, 4),
            "threshold_rule": f"{self.percentile:g}th percentile of the validation slices' "
            "distances",
            "validation_quantiles": {k: round(v, 4) for k, v in self.validation_quantiles.items()},
            "shrinkage": round(self.shrinkage, 6),
            "fitted_slices": self.fitted_slices,
            "validation_slices": self.validation_slices,
            "file": DISTRIBUTION_FILE_NAME,
        }

    def to_bytes(self) -> bytes:
        """The .npz file's content (arrays as float32, as fitted: see `_stored`)."""
        buffer = io.BytesIO()
        arrays: dict[str, Any] = {
            "layers": np.array(self.layers),
            "mean": self.mean.astype(np.float32),
            "precision": self.precision.astype(np.float32),
        }
        if self.projection is not None and self.projection_mean is not None:
            arrays["projection"] = self.projection.astype(np.float32)
            arrays["projection_mean"] = self.projection_mean.astype(np.float32)
        np.savez(
            buffer,
            **arrays,
            threshold=np.array(self.threshold),
            percentile=np.array(self.percentile),
            quantile_names=np.array(list(self.validation_quantiles)),
            quantile_values=np.array(list(self.validation_quantiles.values())),
            shrinkage=np.array(self.shrinkage),
            fitted_slices=np.array(self.fitted_slices),
            validation_slices=np.array(self.validation_slices),
        )
        return buffer.getvalue()

    @classmethod
    def load(cls, path: Path) -> DistributionCheck:
        """Read a distribution.npz; ModelLoadError naming the file when it is not one."""
        try:
            with np.load(path, allow_pickle=False) as data:
                mean = np.asarray(data["mean"], dtype=np.float64)
                precision = np.asarray(data["precision"], dtype=np.float64)
                names = [str(name) for name in data["quantile_names"]]
                values = [float(value) for value in data["quantile_values"]]
                projection = None
                projection_mean = None
                if "projection" in data:
                    projection = np.asarray(data["projection"], dtype=np.float64)
                    projection_mean = np.asarray(data["projection_mean"], dtype=np.float64)
                check = cls(
                    layers=tuple(str(name) for name in data["layers"]),
                    mean=mean,
                    precision=precision,
                    threshold=float(data["threshold"]),
                    percentile=float(data["percentile"]),
                    validation_quantiles=dict(zip(names, values, strict=True)),
                    shrinkage=float(data["shrinkage"]),
                    fitted_slices=int(data["fitted_slices"]),
                    validation_slices=int(data["validation_slices"]),
                    projection=projection,
                    projection_mean=projection_mean,
                )
        except (OSError, KeyError, ValueError) as exc:
            raise ModelLoadError(f"{path}: not a readable distribution check ({exc})") from exc
        d = len(check.mean)
        if check.precision.shape != (d, d) or not np.isfinite(check.precision).all():
            raise ModelLoadError(f"{path}: the precision matrix is not {d} × {d} and finite")
        if not np.isfinite(check.threshold) or check.threshold <= 0:
            raise ModelLoadError(f"{path}: the threshold {check.threshold} is not positive")
        return check


def fit_distribution_check(
    layers: tuple[str, ...],
    training_features: np.ndarray,
    validation_features: np.ndarray,
    *,
    percentile: float = THRESHOLD_PERCENTILE,
) -> DistributionCheck:
    """Fit the Gaussian on the training features and take the threshold from the validation
    features' distances (callers pass at most FIT_SLICES training slices). ValueError when
    either set is too small to say anything (fewer than 10 slices)."""
    from sklearn.covariance import LedoitWolf
    from sklearn.decomposition import PCA

    training = np.asarray(training_features, dtype=np.float64)
    validation = np.asarray(validation_features, dtype=np.float64)
    training = training[np.isfinite(training).all(axis=1)]
    validation = validation[np.isfinite(validation).all(axis=1)]
    if len(training) < 10 or len(validation) < 10:
        raise ValueError(
            f"{len(training)} training and {len(validation)} validation slices: at least 10 of "
            "each are needed to fit a distribution check"
        )
    projection = projection_mean = None
    reduced = training
    if training.shape[1] > MAX_DIMENSIONS:
        components = min(MAX_DIMENSIONS, len(training))
        pca = PCA(n_components=components, random_state=0).fit(training)
        projection = _stored(pca.components_)
        projection_mean = _stored(pca.mean_)
        reduced = (training - projection_mean) @ projection.T
    estimator = LedoitWolf(assume_centered=False).fit(reduced)
    provisional = DistributionCheck(
        layers=tuple(layers),
        mean=_stored(estimator.location_),
        precision=_stored(estimator.precision_),
        threshold=1.0,
        percentile=percentile,
        validation_quantiles={},
        shrinkage=float(estimator.shrinkage_),
        fitted_slices=len(training),
        validation_slices=len(validation),
        projection=projection,
        projection_mean=projection_mean,
    )
    distances = provisional.distances(validation)
    quantiles = {name: float(np.percentile(distances, float(name))) for name in ("50", "90", "99")}
    return replace(
        provisional,
        threshold=float(np.percentile(distances, percentile)),
        validation_quantiles=quantiles,
    )


def _stored(values: np.ndarray) -> np.ndarray:
    """`values` as they read back from the file (float32), so the threshold is computed with
    exactly the numbers inference will use."""
    return np.asarray(values, dtype=np.float32).astype(np.float64)

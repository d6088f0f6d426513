"""The one preprocessing of a slice for the models, the same in training and inference.

Intensity scaling to [0, 1], then a resize to 224×224, one channel (replicated to three for
ResNet50). Pure numpy, so the viewer can prepare slices before TensorFlow loads.

Two intensity scalings exist, and a model's manifest names the one it was trained with:

- "min-max" (the reference's, and every model made before "percentile" existed): the slice's
  minimum to 0, its maximum to 1. One bright pixel (fat, a vessel, a scanner artefact) squeezes
  the rest of the slice into a fraction of the range.
- "percentile": the slice's 0.5th percentile to 0, its 99.5th to 1, clipped to [0, 1]; a few
  outlying pixels no longer set the contrast. The default for new models.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

INPUT_SIZE = 224

IntensityScaling = Literal["min-max", "percentile"]

INTENSITY_SCALINGS: dict[str, str] = {
    "min-max": "per-image min-max to [0, 1]",
    "percentile": "per-image 0.5th-99.5th percentile to [0, 1], clipped",
}
"""Each scaling's description, in the words manifests and the training report use."""

PERCENTILES = (0.5, 99.5)
"""The "percentile" scaling's low and high percentiles."""


def describe(scaling: str) -> str:
    """The whole preprocessing in words (a manifest's `preprocessing` field)."""
    return (
        f"{INTENSITY_SCALINGS[scaling]}, bilinear resize to 224x224 (half-pixel centres), "
        "single channel (replicated to 3 channels for resnet50)"
    )


def preprocess_slice(
    pixels: np.ndarray,
    size: int = INPUT_SIZE,
    channels: int = 1,
    scaling: str = "min-max",
) -> np.ndarray:
    """A 2-D slice (any size, any units) as a (size, size, channels) float32 array in [0, 1]."""
    image = np.nan_to_num(np.asarray(pixels, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    if image.ndim != 2 or min(image.shape) < 1:
        raise ValueError(f"expected a 2-D slice, got shape {image.shape}")
    resized = resize_bilinear(scale_intensity(image, scaling), size, size)
    return np.repeat(resized[:, :, None], channels, axis=2)


def scale_intensity(image: np.ndarray, scaling: str) -> np.ndarray:
    """The slice scaled to [0, 1] by `scaling` (a key of INTENSITY_SCALINGS); zeros where the
    slice holds one value."""
    if scaling == "min-max":
        low, high = float(image.min()), float(image.max())
    elif scaling == "percentile":
        low, high = (float(v) for v in np.percentile(image, PERCENTILES))
        if high <= low:  # mostly one value (a blank field with a few pixels): fall back
            low, high = float(image.min()), float(image.max())
    else:
        raise ValueError(
            f"unknown intensity scaling {scaling!r}: use {', '.join(INTENSITY_SCALINGS)}"
        )
    if high <= low:
        return np.zeros_like(image)
    return np.clip((image - low) / (high - low), 0.0, 1.0)


def resize_bilinear(image: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Bilinear resize with half-pixel centres (the convention of tf.image.resize)."""
    source_rows, source_cols = image.shape
    r0, r1, rw = _sample_positions(source_rows, rows)
    c0, c1, cw = _sample_positions(source_cols, cols)
    top = image[r0] * (1 - rw)[:, None] + image[r1] * rw[:, None]
    out = top[:, c0] * (1 - cw)[None, :] + top[:, c1] * cw[None, :]
    return np.asarray(out, dtype=np.float32)


def _sample_positions(source: int, target: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    position = (np.arange(target, dtype=np.float32) + 0.5) * (source / target) - 0.5
    position = np.clip(position, 0.0, source - 1)
    low = np.floor(position).astype(np.intp)
    high = np.minimum(low + 1, source - 1)
    return low, high, (position - low).astype(np.float32)

"""The one preprocessing of a slice for the models, the same in training and inference.

As the reference did it: per-image min–max to [0, 1], resize to 224×224, one channel (replicated
to three for ResNet50). Pure numpy, so the viewer can prepare slices before TensorFlow loads.
"""

from __future__ import annotations

import numpy as np

INPUT_SIZE = 224
DESCRIPTION = (
    "per-image min-max to [0, 1], bilinear resize to 224x224 (half-pixel centres), "
    "single channel (replicated to 3 channels for resnet50)"
)


def preprocess_slice(pixels: np.ndarray, size: int = INPUT_SIZE, channels: int = 1) -> np.ndarray:
    """A 2-D slice (any size, any units) as a (size, size, channels) float32 array in [0, 1]."""
    image = np.nan_to_num(np.asarray(pixels, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    if image.ndim != 2 or min(image.shape) < 1:
        raise ValueError(f"expected a 2-D slice, got shape {image.shape}")
    low, high = float(image.min()), float(image.max())
    scaled = (image - low) / (high - low) if high > low else np.zeros_like(image)
    resized = resize_bilinear(scaled, size, size)
    return np.repeat(resized[:, :, None], channels, axis=2)


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

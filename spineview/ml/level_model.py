"""The disc level localiser's network, its loss, and how its heatmaps become points.

The network sees a sagittal slice and its two neighbours (128 × 128 × 3) and gives one map of
logits per disc level on a 32 × 32 grid. A spatial softmax turns each map into a distribution
over the image; the point is that distribution's mean (a soft-argmax: sub-cell precise and
differentiable, so training can minimise the error of the point itself), and its confidence the
share of the distribution that lies near the point. Telling L4/L5 from L5/S1 needs the whole
spine in view: the bottleneck's dilated convolutions see about the whole image (the sacrum is
the anchor; lumbar fields of view rarely show C2).
"""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

from spineview.models.architectures import Architecture

if TYPE_CHECKING:
    import keras

GRID = 32
"""Side of each level's heatmap (cells): one cell is 4 input pixels."""
CONFIDENCE_RADIUS = 2.0
"""Cells around the point whose probability mass is the confidence: 2 cells, about 19 mm on a
300 mm field of view, half a disc-to-disc step: the confidence is the model's own share of
belief that the disc is this one, not a neighbour."""
HEATMAP_SIGMA = 1.0
"""Width (cells) of the Gaussian the heatmaps are trained towards, besides the point error."""
MAX_CONFIDENCE = 0.99
"""A localiser never says it is certain."""


def build_level_network(keras: ModuleType, architecture: Architecture) -> keras.Model:
    layers = keras.layers
    size = architecture.input_size

    def convolutions(x: Any, filters: int, name: str, dilations: tuple[int, ...] = (1, 1)) -> Any:
        for index, dilation in enumerate(dilations, start=1):
            x = layers.Conv2D(
                filters, 3, padding="same", dilation_rate=dilation, use_bias=False,
                name=f"{name}_conv{index}",
            )(x)  # fmt: skip
            x = layers.BatchNormalization(momentum=0.9, name=f"{name}_bn{index}")(x)
            x = layers.Activation("relu", name=name if index == len(dilations) else None)(x)
        return x

    inputs = keras.Input((size, size, architecture.channels), name="image")
    enc1 = convolutions(inputs, 16, "enc1")  # 128
    enc2 = convolutions(layers.MaxPooling2D(2)(enc1), 32, "enc2")  # 64
    enc3 = convolutions(layers.MaxPooling2D(2)(enc2), 64, "enc3")  # 32
    bottleneck = convolutions(
        layers.MaxPooling2D(2)(enc3), 96, "bottleneck", dilations=(1, 2, 4)
    )  # 16 × 16, seeing about the whole image
    up = layers.Concatenate()([layers.UpSampling2D(2)(bottleneck), enc3])
    decoded = convolutions(up, 64, "dec")  # 32
    heatmaps = layers.Conv2D(
        architecture.num_classes, 1, dtype="float32", name=architecture.gradcam_layer
    )(decoded)
    return keras.Model(inputs, heatmaps, name=architecture.id)


def _cell_centres() -> np.ndarray:
    return (np.arange(GRID, dtype=np.float32) + 0.5) / GRID


def decode_heatmaps(logits: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Points, confidences and probability maps from (batch, GRID, GRID, levels) logits.

    Returns (batch, levels, 2) points as fractions (x / width, y / height), (batch, levels)
    confidences (the mass within CONFIDENCE_RADIUS cells of the point, at most MAX_CONFIDENCE)
    and the (batch, levels, GRID, GRID) probability maps."""
    values = np.asarray(logits, dtype=np.float64)
    flat = values.reshape(values.shape[0], GRID * GRID, values.shape[-1])
    flat = np.exp(flat - flat.max(axis=1, keepdims=True))
    flat /= flat.sum(axis=1, keepdims=True)
    maps = flat.reshape(values.shape[0], GRID, GRID, values.shape[-1]).transpose(0, 3, 1, 2)
    centres = _cell_centres().astype(np.float64)
    x = np.einsum("blij,j->bl", maps, centres)
    y = np.einsum("blij,i->bl", maps, centres)
    points = np.stack([x, y], axis=-1)
    rows = (y * GRID - 0.5)[..., None, None]
    columns = (x * GRID - 0.5)[..., None, None]
    grid = np.arange(GRID, dtype=np.float64)
    near = (grid[:, None] - rows) ** 2 + (grid[None, :] - columns) ** 2 <= CONFIDENCE_RADIUS**2
    confidence = np.minimum((maps * near).sum(axis=(2, 3)), MAX_CONFIDENCE)
    return points, confidence, maps


def level_loss(targets: Any, mask: Any, logits: Any) -> Any:
    """Mean over marked levels of the point's L1 error (in cells) plus the cross-entropy of the
    heatmap against a Gaussian around the marked point (which keeps the maps peaked)."""
    import tensorflow as tf

    logits = tf.cast(logits, tf.float32)
    batch = tf.shape(logits)[0]
    levels = logits.shape[-1]
    flat = tf.reshape(tf.transpose(logits, (0, 3, 1, 2)), (batch, levels, GRID * GRID))
    log_p = tf.nn.log_softmax(flat, axis=-1)
    p = tf.reshape(tf.exp(log_p), (batch, levels, GRID, GRID))
    centres = tf.constant(_cell_centres())
    x = tf.einsum("blij,j->bl", p, centres)
    y = tf.einsum("blij,i->bl", p, centres)
    weight = tf.cast(mask, tf.float32)
    marked = tf.maximum(tf.reduce_sum(weight), 1.0)
    point_error = (tf.abs(x - targets[..., 0]) + tf.abs(y - targets[..., 1])) * GRID
    cells = centres * GRID
    dy = cells[None, None, :] - targets[..., 1:2] * GRID  # (b, l, GRID) rows
    dx = cells[None, None, :] - targets[..., 0:1] * GRID
    gaussian = tf.exp(-(dy[..., :, None] ** 2 + dx[..., None, :] ** 2) / (2 * HEATMAP_SIGMA**2))
    gaussian = tf.reshape(gaussian, (batch, levels, GRID * GRID))
    gaussian /= tf.reduce_sum(gaussian, axis=-1, keepdims=True)
    cross_entropy = -tf.reduce_sum(gaussian * log_p, axis=-1)
    return tf.reduce_sum((point_error + cross_entropy) * weight) / marked

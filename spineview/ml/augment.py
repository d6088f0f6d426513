"""Training augmentation as one random affine warp per image (TensorFlow).

Rotation, shift, shear, zoom and horizontal flip are composed into one matrix per image and
applied by a single bilinear resampling (`ImageProjectiveTransformV3`), where a chain of Keras
preprocessing layers resamples the whole batch once per step (four times with every step on).
On a 2-core CPU that chain cost a third of the training throughput. Randomness is stateless:
the numbers depend on (seed, batch index, parameter), so a run repeats exactly.

The ranges follow the Keras layers the settings are named after: rotation ±degrees, shift ±a
fraction of the side, shear ±a coefficient on each axis, zoom 1 ± a fraction on each axis, flip
left-right with probability one half. Outside the image is filled with 0 (black).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

Augment = Callable[[Any, Any], Any]
"""(batch NHWC float32, batch index int64) → the augmented batch."""


def affine_augmenter(settings: dict[str, float], seed: int) -> Augment:
    """A function that warps each image of a batch at random within `settings` (see the module
    docstring; missing or zero keys are off)."""
    import tensorflow as tf

    rotation = math.radians(settings.get("rotation", 0.0))
    shift = settings.get("shift", 0.0)
    shear = settings.get("shear", 0.0)
    zoom = settings.get("zoom", 0.0)
    flip = bool(settings.get("flip", 0.0))

    def augment(images: Any, index: Any) -> Any:
        shape = tf.shape(images)
        count, rows, cols = shape[0], shape[1], shape[2]
        height, width = tf.cast(rows, tf.float32), tf.cast(cols, tf.float32)

        def uniform(stream: int, limit: float) -> Any:
            key = tf.stack([tf.constant(seed * 16 + stream, tf.int64), tf.cast(index, tf.int64)])
            return tf.random.stateless_uniform([count], key, -limit, limit)

        angle = uniform(0, rotation) if rotation else tf.zeros([count])
        shear_x = uniform(1, shear) if shear else tf.zeros([count])
        shear_y = uniform(2, shear) if shear else tf.zeros([count])
        zoom_x = 1.0 + (uniform(3, zoom) if zoom else tf.zeros([count]))
        zoom_y = 1.0 + (uniform(4, zoom) if zoom else tf.zeros([count]))
        mirror = tf.where(uniform(5, 1.0) < 0.0, -1.0, 1.0) if flip else tf.ones([count])
        move_x = (uniform(6, shift) if shift else tf.zeros([count])) * width
        move_y = (uniform(7, shift) if shift else tf.zeros([count])) * height
        cos, sin = tf.cos(angle), tf.sin(angle)
        # output pixel → input pixel: rotation · shear · zoom · flip about the centre, then shift
        a00 = (cos - sin * shear_y) * zoom_x * mirror
        a01 = (cos * shear_x - sin) * zoom_y
        a10 = (sin + cos * shear_y) * zoom_x * mirror
        a11 = (sin * shear_x + cos) * zoom_y
        centre_x, centre_y = (width - 1.0) / 2.0, (height - 1.0) / 2.0
        a02 = centre_x - a00 * centre_x - a01 * centre_y - move_x
        a12 = centre_y - a10 * centre_x - a11 * centre_y - move_y
        zeros = tf.zeros([count])
        transforms = tf.stack([a00, a01, a02, a10, a11, a12, zeros, zeros], axis=1)
        return tf.raw_ops.ImageProjectiveTransformV3(
            images=images,
            transforms=transforms,
            output_shape=tf.stack([rows, cols]),
            fill_value=0.0,
            interpolation="BILINEAR",
            fill_mode="CONSTANT",
        )

    return augment

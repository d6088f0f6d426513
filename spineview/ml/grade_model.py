"""The grading network and its loss, the RSNA 2024 metric's own terms.

One network reads any crop and answers a 3-way softmax for each of the five conditions; the
crop's own condition is the answer used (the others are not trained on it). The loss is the
competition's: per condition group (spinal; foraminal; subarticular) the log loss weighted 1/2/4
for Normal/Mild, Moderate and Severe, and the any-severe-spinal term (per study: the largest
predicted Severe over its spinal levels against whether any is Severe, weighted by the largest
row weight), averaged over the four; a batch is whole studies so the fourth term can be formed.
"""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

from spineview.data.rsna_format import CONDITIONS, LEVELS
from spineview.models.architectures import Architecture

if TYPE_CHECKING:
    import keras

FINDINGS = len(CONDITIONS) * len(LEVELS)
CLASS_WEIGHTS = (1.0, 2.0, 4.0)
SLOT_CONDITION = np.repeat(np.arange(len(CONDITIONS)), len(LEVELS))
"""The condition of each of the 25 slots (train.csv order: condition-major)."""
GROUPS = ((0,), (1, 2), (3, 4))
"""Conditions per metric group: spinal; foraminal left + right; subarticular left + right."""


def build_grade_network(keras: ModuleType, architecture: Architecture) -> keras.Model:
    layers = keras.layers
    size = architecture.input_size
    inputs = keras.Input((size, size, architecture.channels), name="image")
    x = inputs
    for index, filters in enumerate((32, 64, 96, 128), start=1):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"conv{index}")(x)
        x = layers.BatchNormalization(momentum=0.9, name=f"bn{index}")(x)
        x = layers.Activation("relu")(x)
        if index < 4:
            x = layers.MaxPooling2D(2)(x)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    x = layers.Dense(128, activation="relu", name="dense")(x)
    x = layers.Dropout(0.3, name="dropout")(x)
    x = layers.Dense(len(CONDITIONS) * architecture.num_classes, dtype="float32", name="logits")(x)
    outputs = layers.Reshape((len(CONDITIONS), architecture.num_classes), name="output")(x)
    return keras.Model(inputs, outputs, name=architecture.id)


def with_features(model: Any) -> Any:
    """The network giving its outputs and its pooled features (what the distribution check
    measures) in one pass."""
    import keras

    return keras.Model(model.inputs[0], [model.output, model.get_layer("pool").output])


def slot_logits(logits: Any) -> Any:
    """(studies * 25, 5, 3) network outputs → (studies, 25, 3): each slot's own condition."""
    import tensorflow as tf

    per_slot = tf.reshape(tf.cast(logits, tf.float32), (-1, FINDINGS, len(CONDITIONS), 3))
    own = tf.constant(np.eye(len(CONDITIONS), dtype=np.float32)[SLOT_CONDITION])  # (25, 5)
    return tf.einsum("bscl,sc->bsl", per_slot, own)


def slot_logits_numpy(logits: np.ndarray) -> np.ndarray:
    """`slot_logits` for NumPy outputs (inference)."""
    per_slot = np.asarray(logits, dtype=np.float64).reshape(-1, FINDINGS, len(CONDITIONS), 3)
    return per_slot[:, np.arange(FINDINGS), SLOT_CONDITION, :]


def metric_loss(logits: Any, grades: Any, present: Any) -> Any:
    """The RSNA 2024 score of a batch of whole studies: `logits` (studies, 25, 3), `grades`
    (studies, 25) with −1 unlabelled, `present` (studies, 25) where a crop was read."""
    import tensorflow as tf

    log_p = tf.nn.log_softmax(tf.cast(logits, tf.float32), axis=-1)
    labelled = tf.logical_and(grades >= 0, present)
    safe = tf.where(labelled, grades, 0)
    weights = tf.gather(tf.constant(CLASS_WEIGHTS), safe) * tf.cast(labelled, tf.float32)
    picked = -tf.gather(log_p, safe, axis=2, batch_dims=2)
    slot_group = np.zeros(FINDINGS, dtype=np.int64)
    for group, conditions in enumerate(GROUPS):
        for condition in conditions:
            slot_group[condition == SLOT_CONDITION] = group
    terms = []
    for group in range(len(GROUPS)):
        in_group = tf.constant(slot_group == group)[None, :]
        w = weights * tf.cast(in_group, tf.float32)
        terms.append(tf.reduce_sum(w * picked) / tf.maximum(tf.reduce_sum(w), 1e-6))
    spinal = slice(0, len(LEVELS))
    spinal_labelled = labelled[:, spinal]
    studies = tf.reduce_any(spinal_labelled, axis=1)
    severe = tf.where(spinal_labelled, tf.exp(log_p[:, spinal, 2]), 0.0)
    q = tf.clip_by_value(tf.reduce_max(severe, axis=1), 1e-7, 1 - 1e-7)
    worst = tf.reduce_max(tf.where(spinal_labelled, grades[:, spinal], 0), axis=1)
    target = tf.cast(worst == 2, tf.float32)
    study_weight = tf.gather(tf.constant(CLASS_WEIGHTS), worst) * tf.cast(studies, tf.float32)
    bce = -(target * tf.math.log(q) + (1 - target) * tf.math.log(1 - q))
    terms.append(tf.reduce_sum(study_weight * bce) / tf.maximum(tf.reduce_sum(study_weight), 1e-6))
    return tf.add_n(terms) / len(terms)

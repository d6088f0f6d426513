"""One compiled training step with Adam on a cosine-decayed learning rate, for the training
loops that are not Keras `fit` (the level and grading models: their losses need targets and
masks Keras' `fit` cannot pass)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def compiled_step(
    model: Any,
    loss: Callable[..., Any],
    *,
    learning_rate: float,
    total_steps: int,
    final_fraction: float,
) -> Callable[..., Any]:
    """`step(images, *targets) -> loss`: one gradient step on `loss(outputs, *targets)`, the
    learning rate decaying to `final_fraction` of itself over `total_steps` (cosine)."""
    import keras
    import tensorflow as tf

    schedule = keras.optimizers.schedules.CosineDecay(
        learning_rate, decay_steps=max(1, total_steps), alpha=final_fraction
    )
    optimizer = keras.optimizers.Adam(schedule)

    @tf.function(reduce_retracing=True)
    def step(images: Any, *targets: Any) -> Any:
        with tf.GradientTape() as tape:
            value = loss(model(images, training=True), *targets)
        variables = model.trainable_variables
        optimizer.apply_gradients(zip(tape.gradient(value, variables), variables, strict=True))
        return value

    return step

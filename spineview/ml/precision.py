"""Building a network under a Keras dtype policy (`models.precision` names them).

Keras reads the global dtype policy when a layer is constructed, so a network is built in a
precision by switching the policy around its construction. Keras keeps that "global" policy per
thread, so a build on the viewer's inference thread never changes a training run's policy.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def dtype_policy(precision: str) -> Iterator[None]:
    """Build layers under the Keras dtype policy `precision`, then restore the previous one."""
    import keras

    previous = keras.mixed_precision.global_policy().name
    keras.mixed_precision.set_global_policy(precision)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)

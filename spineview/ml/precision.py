"""Which Keras dtype policy spineview computes in, and building a network under one.

Keras reads the global dtype policy when a layer is constructed, so a network is built in a
precision by switching the policy around its construction. Keras keeps that "global" policy per
thread, so a build on the viewer's inference thread never changes a training run's policy.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

Precision = Literal["auto", "float32", "mixed_bfloat16"]
PRECISIONS: tuple[str, ...] = ("auto", "float32", "mixed_bfloat16")


def cpu_has_bf16() -> bool:
    """True when the CPU has AVX512-BF16 (bfloat16 matrix products in hardware)."""
    try:
        return "avx512_bf16" in Path("/proc/cpuinfo").read_text()
    except OSError:
        return False


def resolve_precision(precision: Precision | str) -> str:
    """ "auto" becomes mixed_bfloat16 where the CPU computes it natively, float32 elsewhere."""
    if precision == "auto":
        return "mixed_bfloat16" if cpu_has_bf16() else "float32"
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}: use one of {', '.join(PRECISIONS)}")
    return precision


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

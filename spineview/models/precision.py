"""Which Keras dtype policy spineview computes in: the names, and "auto" resolved for this CPU
(no TensorFlow needed; building a network under a policy is `ml.precision`'s)."""

from __future__ import annotations

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

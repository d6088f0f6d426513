"""Tissue signal per MR sequence, and the scanner's imperfections (noise, coil bias).

Relative signal of each tissue label of `anatomy` on T1-, T2-weighted and STIR images, as seen on
clinical lumbar MRI: CSF dark on T1 and bright on T2/STIR, fat bright on T1 and T2 but nulled on
STIR, cortical bone and ligaments dark everywhere, the healthy nucleus bright on T2 and the
degenerate ("black") disc dark, vessels as flow voids.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from spineview.data import anatomy as a

Contrast = Literal["T1", "T2", "STIR"]

_SIGNAL: dict[int, tuple[float, float, float]] = {  # T1, T2, STIR
    a.AIR: (0.0, 0.0, 0.0),
    a.SKIN: (0.55, 0.45, 0.4),
    a.FAT: (0.92, 0.78, 0.07),
    a.SOFT_TISSUE: (0.36, 0.42, 0.38),
    a.MUSCLE: (0.34, 0.2, 0.17),
    a.VESSEL: (0.03, 0.03, 0.03),
    a.CORTEX: (0.05, 0.04, 0.04),
    a.MARROW: (0.68, 0.46, 0.16),
    a.ANNULUS: (0.28, 0.14, 0.16),
    a.NUCLEUS: (0.36, 0.86, 0.9),
    a.CSF: (0.12, 0.98, 1.0),
    a.NERVE: (0.42, 0.34, 0.32),
    a.LIGAMENT: (0.06, 0.06, 0.06),
    a.JOINT_FLUID: (0.16, 0.82, 0.85),
    a.EPIDURAL_FAT: (0.88, 0.7, 0.07),
    a.DEGENERATE_NUCLEUS: (0.3, 0.24, 0.25),
}
_COLUMN = {"T1": 0, "T2": 1, "STIR": 2}
TEXTURED = (a.SOFT_TISSUE, a.MUSCLE, a.MARROW)

# Repetition/echo/inversion times (ms) written into the headers of each sequence.
TIMING: dict[str, tuple[float, float, float | None]] = {
    "T1": (550.0, 10.0, None),
    "T2": (3500.0, 100.0, None),
    "STIR": (4000.0, 60.0, 160.0),
}


def signal_table(contrast: Contrast) -> np.ndarray:
    table = np.zeros(a.TISSUE_COUNT, dtype=np.float32)
    for tissue, values in _SIGNAL.items():
        table[tissue] = values[_COLUMN[contrast]]
    return table


def smooth_noise(shape: tuple[int, int], rng: np.random.Generator, cells: int = 12) -> np.ndarray:
    """A smooth random field in [-1, 1] (bilinear upsampling of a coarse grid)."""
    coarse = rng.uniform(-1, 1, size=(cells + 1, cells + 1)).astype(np.float32)
    rows = np.linspace(0, cells, shape[0], dtype=np.float32)
    cols = np.linspace(0, cells, shape[1], dtype=np.float32)
    r0 = np.minimum(rows.astype(int), cells - 1)
    c0 = np.minimum(cols.astype(int), cells - 1)
    fr, fc = (rows - r0)[:, None], (cols - c0)[None, :]
    top = coarse[r0][:, c0] * (1 - fc) + coarse[r0][:, c0 + 1] * fc
    bottom = coarse[r0 + 1][:, c0] * (1 - fc) + coarse[r0 + 1][:, c0 + 1] * fc
    return np.asarray(top * (1 - fr) + bottom * fr, dtype=np.float32)


def to_signal(
    tissue: np.ndarray,
    contrast: Contrast,
    rng: np.random.Generator,
    *,
    bias: np.ndarray,
    noise_level: float,
    texture: np.ndarray,
) -> np.ndarray:
    """Relative signal of a tissue map, with texture, coil bias and Rician noise."""
    signal = signal_table(contrast)[tissue]
    textured = np.isin(tissue, TEXTURED)
    signal[textured] *= 1.0 + 0.12 * texture[textured]
    bowel = tissue == a.SOFT_TISSUE  # bowel loops: a coarse, strong mottling
    if bowel.any():
        loops = smooth_noise(tissue.shape, rng, cells=20)
        signal[bowel] *= 1.0 + 0.45 * loops[bowel] * np.abs(loops[bowel])
    signal = _blur(signal) * bias
    real = signal + rng.normal(0.0, noise_level, signal.shape).astype(np.float32)
    imaginary = rng.normal(0.0, noise_level, signal.shape).astype(np.float32)
    return np.sqrt(real * real + imaginary * imaginary)  # magnitude images are Rician


def _blur(image: np.ndarray) -> np.ndarray:
    """A light 3×3 smoothing: edges of a rendered slice as soft as a reconstructed one."""
    padded = np.pad(image, 1, mode="edge")
    total = (
        4 * padded[1:-1, 1:-1]
        + padded[:-2, 1:-1] + padded[2:, 1:-1] + padded[1:-1, :-2] + padded[1:-1, 2:]
    )  # fmt: skip
    return total / 8.0

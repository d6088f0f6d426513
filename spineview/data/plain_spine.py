"""A second, deliberately simple source of labelled sagittal lumbar-like slices (numpy only).

`spineview.data.synth` draws anatomy, MR contrast and scanner habits with care; a training recipe
tuned on it can fail on anything else. This generator shares none of its code or parameters:
five rounded vertebral bodies on a straight or gently curved column, discs as flat ellipses, a
canal band behind them, smooth background tissue, and its own intensity scale, offset, gamma
and noise per study. A degenerative study has one disc that is darker and bulges backwards into
the canal; the bulge is visible on the few slices near the midline (those are positive, as the
RSNA slice rule makes them), the study's other slices are left out, and every slice of a
healthy study is negative. `spineview bench learn` trains on it to see whether a recipe learns
on data it was never tuned on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LESION_SLICES = 3
"""Slices around the midline on which a degenerative study's bulge is drawn (positives)."""


@dataclass(frozen=True)
class PlainSpineOptions:
    studies: int = 80
    slices_per_study: int = 15
    positive_rate: float = 0.4  # share of studies with a degenerative disc
    size: int = 192  # matrix (rows = columns)
    seed: int = 0


@dataclass(frozen=True)
class SliceSet:
    """Raw slices (any intensity units) with labels and the study each belongs to."""

    images: list[np.ndarray]
    labels: np.ndarray  # 0 healthy, 1 degenerative
    groups: list[str]


def plain_spine_slices(options: PlainSpineOptions) -> SliceSet:
    """The labelled slices of `options.studies` studies; the same options give the same set."""
    rng = np.random.default_rng(options.seed)
    images: list[np.ndarray] = []
    labels: list[int] = []
    groups: list[str] = []
    for study in range(options.studies):
        degenerative = rng.random() < options.positive_rate
        for image, label in _study(rng, options, degenerative):
            images.append(image)
            labels.append(label)
            groups.append(f"plain-{options.seed}-{study}")
    return SliceSet(images, np.asarray(labels, dtype=np.int64), groups)


def _study(
    rng: np.random.Generator, options: PlainSpineOptions, degenerative: bool
) -> list[tuple[np.ndarray, int]]:
    size = options.size
    rows, cols = np.mgrid[0:size, 0:size].astype(np.float32) / size
    scale = float(rng.uniform(200.0, 30000.0))
    offset = float(rng.uniform(-0.1, 0.3)) * scale
    gamma = float(rng.uniform(0.6, 1.6))
    curve = float(rng.uniform(-0.08, 0.08))
    column_x = float(rng.uniform(0.42, 0.58))
    bad_disc = int(rng.integers(2, 5)) if degenerative else -1
    middle = options.slices_per_study // 2
    slices: list[tuple[np.ndarray, int]] = []
    for index in range(options.slices_per_study):
        lateral = (index - middle) / max(middle, 1)  # -1 … 1 across the study
        near_midline = abs(index - middle) <= LESION_SLICES // 2
        if degenerative and not near_midline:
            continue  # a degenerative study's other slices are neither class
        image = _slice(rng, rows, cols, column_x, curve, lateral, bad_disc if near_midline else -1)
        image = np.clip(image, 0.0, None) ** gamma
        image = image * scale + offset + rng.normal(0.0, 0.04 * scale, image.shape)
        slices.append((image.astype(np.float32), int(degenerative)))
    return slices


def _slice(
    rng: np.random.Generator,
    rows: np.ndarray,
    cols: np.ndarray,
    column_x: float,
    curve: float,
    lateral: float,
    bad_disc: int,
) -> np.ndarray:
    """One slice in [0, ~1]: `lateral` (-1 … 1) fades the column away from the midline."""
    visibility = max(0.0, 1.0 - abs(lateral) * 0.9)
    image = 0.15 + 0.1 * np.sin(rows * 7.0 + cols * 3.0) * np.cos(cols * 5.0)
    centre_x = column_x + curve * np.sin((rows - 0.5) * np.pi)  # the column's curve, per row
    canal = np.abs(cols - (centre_x + 0.13)) < 0.025
    image = np.where(canal, 0.7 * visibility + 0.15, image)
    body_height, disc_height = 0.12, 0.04
    top = 0.12
    for level in range(6):
        body_y = top + level * (body_height + disc_height) + body_height / 2
        if body_y > 0.95:
            break
        body = (np.abs(rows - body_y) < body_height / 2) & (np.abs(cols - centre_x) < 0.09)
        image = np.where(body, 0.55 * visibility + 0.15, image)
        disc_y = body_y + body_height / 2 + disc_height / 2
        disc = ((rows - disc_y) / (disc_height / 2)) ** 2 + ((cols - centre_x) / 0.085) ** 2 < 1
        brightness = 0.5 if level == bad_disc else 0.85
        image = np.where(disc, brightness * visibility + 0.1, image)
        if level == bad_disc:
            bulge_x = centre_x + 0.1
            bulge = ((rows - disc_y) / 0.025) ** 2 + ((cols - bulge_x) / 0.03) ** 2 < 1
            image = np.where(bulge, 0.3 + 0.1 * rng.random(), image)
    return np.asarray(image, dtype=np.float32)

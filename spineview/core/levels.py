"""Lumbar disc levels as points in patient space, and where they fall on any series.

A level is found once, on a sagittal series (in pixels of one of its instances, as
`train_label_coordinates.csv` gives them); as a point in patient coordinates (DICOM LPS, mm)
it then labels every other series of the study through ImagePositionPatient and
ImageOrientationPatient alone: the nearest disc of each axial slice with its signed distance,
the level of each axial stack, and where each label goes on a sagittal slice. Oblique stacks
need nothing special: everything is measured along each plane's own normal.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from spineview.core.geometry import SlicePlane, pixel_to_patient, row_col_normal

LEVELS = ("L1/L2", "L2/L3", "L3/L4", "L4/L5", "L5/S1")
"""The lumbar intervertebral disc levels, head to feet (the RSNA 2024 task's five)."""
DEFAULT_DISC_SPACING_MM = 35.0
"""Disc to disc along an adult lumbar spine, used when the map holds a single disc."""


@dataclass(frozen=True)
class DiscPoint:
    level: str
    position: tuple[float, float, float]
    """Patient coordinates (LPS, mm)."""
    confidence: float = 1.0
    """How sure whatever found it is (0-1; 1 for a reader's own label)."""


@dataclass(frozen=True)
class NearestLevel:
    """The disc nearest to a plane: its level, its signed distance along the plane's normal
    turned to the head (positive: the plane lies above the disc) and the disc's confidence."""

    level: str
    distance_mm: float
    confidence: float

    @property
    def text(self) -> str:
        """ "L4/L5 +2.5 mm" """
        return f"{self.level} {round(self.distance_mm, 1) + 0.0:+.1f} mm"  # never "-0.0"


@dataclass(frozen=True)
class LabelInImage:
    """Where a disc falls on one image: pixel (row, column) of its projection onto the plane
    and how far off the plane it lies (mm, unsigned)."""

    level: str
    row: float
    column: float
    off_plane_mm: float


@dataclass(frozen=True)
class LevelMap:
    """The disc levels found in one study, head to feet (some may be missing)."""

    points: tuple[DiscPoint, ...]

    def __post_init__(self) -> None:
        levels = [point.level for point in self.points]
        unknown = [level for level in levels if level not in LEVELS]
        if unknown:
            raise ValueError(f"unknown disc level {unknown[0]!r}; expected one of {LEVELS}")
        if len(set(levels)) != len(levels):
            raise ValueError(f"a disc level is given twice: {levels}")
        if levels != sorted(levels, key=LEVELS.index):
            raise ValueError(f"disc levels out of order: {levels}; expected head to feet")
        for point in self.points:
            if len(point.position) != 3 or not np.isfinite(point.position).all():
                raise ValueError(f"{point.level}: position {point.position} is not 3 finite mm")

    @classmethod
    def from_pixels(
        cls,
        points: Mapping[str, tuple[SlicePlane, tuple[float, float], float, float]],
        confidences: Mapping[str, float] | None = None,
    ) -> LevelMap:
        """Levels given in pixels: level → (the instance's plane, its pixel spacing (row,
        column), x = column, y = row), as in `train_label_coordinates.csv`."""
        found = []
        for level in LEVELS:
            if level not in points:
                continue
            plane, spacing, x, y = points[level]
            position = pixel_to_patient(plane.position, plane.orientation, spacing, y, x)
            confidence = 1.0 if confidences is None else float(confidences.get(level, 1.0))
            found.append(DiscPoint(level, _triple(position), confidence))
        return cls(tuple(found))

    @property
    def reach_mm(self) -> float:
        """How far from a disc a plane still takes its level: half the spacing of adjacent
        discs (median, per level step), so a plane nearer to where a missing disc lies is not
        given a neighbour's name."""
        steps = [
            float(np.linalg.norm(np.subtract(lower.position, upper.position)))
            / (LEVELS.index(lower.level) - LEVELS.index(upper.level))
            for upper, lower in itertools.pairwise(self.points)
        ]
        return 0.5 * (float(np.median(steps)) if steps else DEFAULT_DISC_SPACING_MM)

    def nearest(self, plane: SlicePlane) -> NearestLevel | None:
        """The disc nearest to `plane`; None without discs or when the nearest one is beyond
        `reach_mm` (the plane is nearer to a disc the map does not hold)."""
        if not self.points:
            return None
        normal = _headward_normal(plane)
        origin = np.asarray(plane.position, dtype=np.float64)
        distances = [float((origin - np.asarray(p.position)) @ normal) for p in self.points]
        best = int(np.argmin(np.abs(distances)))
        if abs(distances[best]) > self.reach_mm:
            return None
        point = self.points[best]
        return NearestLevel(point.level, distances[best], point.confidence)

    def stack_level(self, planes: Sequence[SlicePlane]) -> NearestLevel | None:
        """The level of a stack of slices (an axial block through one disc): the disc that
        comes closest to any of its slices, with that slice's signed distance."""
        candidates = [level for plane in planes if (level := self.nearest(plane)) is not None]
        if not candidates:
            return None
        return min(candidates, key=lambda level: abs(level.distance_mm))

    def in_image(self, plane: SlicePlane, spacing: tuple[float, float]) -> list[LabelInImage]:
        """Every disc projected onto the image plane of `plane`, in pixels of that image."""
        row_dir, col_dir, normal = row_col_normal(plane.orientation)
        origin = np.asarray(plane.position, dtype=np.float64)
        row_spacing, column_spacing = spacing
        labels = []
        for point in self.points:
            offset = np.asarray(point.position) - origin
            labels.append(
                LabelInImage(
                    point.level,
                    row=float(offset @ col_dir) / row_spacing,
                    column=float(offset @ row_dir) / column_spacing,
                    off_plane_mm=abs(float(offset @ normal)),
                )
            )
        return labels

    def in_order(self) -> bool:
        """Whether the discs lie head to feet in the order of their levels (a level model's
        answer can be checked so: a swapped pair is a mislabelled spine)."""
        heights = [point.position[2] for point in self.points]  # LPS: +z is the head
        return all(upper > lower for upper, lower in itertools.pairwise(heights))


def _headward_normal(plane: SlicePlane) -> np.ndarray:
    """The plane's unit normal, turned to point to the head (+z) where it has a z component;
    a plane parallel to the body axis (sagittal, coronal) keeps the DICOM normal."""
    normal = row_col_normal(plane.orientation)[2]
    return -normal if normal[2] < 0 else normal


def _triple(values: np.ndarray) -> tuple[float, float, float]:
    x, y, z = (float(v) for v in values)
    return (x, y, z)

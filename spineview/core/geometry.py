"""Patient-space geometry of image planes (DICOM LPS coordinates, millimetres)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

Plane = Literal["sagittal", "coronal", "axial"]
Floats = Sequence[float] | np.ndarray

# Axis of the slice normal → anatomical plane (x: left-right, y: front-back, z: head-feet).
_PLANE_BY_AXIS: tuple[Plane, Plane, Plane] = ("sagittal", "coronal", "axial")


def row_col_normal(orientation: Floats) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row and column direction cosines of ImageOrientationPatient and their unit normal."""
    cosines = np.asarray(orientation, dtype=np.float64)
    row, col = cosines[:3], cosines[3:6]
    normal = np.cross(row, col)
    length = float(np.linalg.norm(normal))
    return row, col, normal / length if length > 0 else normal


def slice_normal(orientation: Floats) -> np.ndarray:
    return row_col_normal(orientation)[2]


def plane_of(orientation: Floats) -> tuple[Plane, float]:
    """The standard plane closest to the image plane, and the angle between them in degrees."""
    normal = np.abs(slice_normal(orientation))
    axis = int(np.argmax(normal))
    angle = float(np.degrees(np.arccos(np.clip(normal[axis], -1.0, 1.0))))
    return _PLANE_BY_AXIS[axis], angle


def distances_along(positions: np.ndarray, normal: np.ndarray) -> np.ndarray:
    """Signed distance of each ImagePositionPatient (rows of `positions`) along `normal`."""
    return np.asarray(positions, dtype=np.float64) @ np.asarray(normal, dtype=np.float64)


def pixel_to_patient(
    position: Floats,
    orientation: Floats,
    spacing: tuple[float, float],
    row: float,
    column: float,
) -> np.ndarray:
    """Patient coordinates (mm) of the centre of pixel (row, column); spacing is (row, column)."""
    row_dir, col_dir, _ = row_col_normal(orientation)
    row_spacing, column_spacing = spacing
    return (
        np.asarray(position, dtype=np.float64)
        + column * column_spacing * row_dir
        + row * row_spacing * col_dir
    )


def typical_spacing(distances: np.ndarray) -> float | None:
    """The median gap between consecutive sorted slice distances, ignoring repeats."""
    gaps = np.abs(np.diff(np.sort(np.asarray(distances, dtype=np.float64))))
    gaps = gaps[gaps > 1e-3]
    return float(np.median(gaps)) if gaps.size else None

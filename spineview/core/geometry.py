"""Patient-space geometry of image planes (DICOM LPS coordinates, millimetres)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
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


@dataclass(frozen=True)
class SlicePlane:
    """One slice's plane: ImagePositionPatient (first pixel centre) and orientation cosines."""

    position: tuple[float, float, float]
    orientation: tuple[float, float, float, float, float, float]


def plane_intersection_in_image(
    image: SlicePlane, spacing: tuple[float, float], shape: tuple[int, int], other: SlicePlane
) -> tuple[tuple[float, float], tuple[float, float]] | None:
    """Where another slice's plane cuts this image, as a segment in image millimetres.

    The image pixel (row r, column c) has its centre at image-plane coordinates
    x = (c + 0.5) * column_spacing, y = (r + 0.5) * row_spacing (the viewer's scene units, so
    non-square pixels keep their aspect). Returns the two end points ((x0, y0), (x1, y1)) of
    the intersection clipped to the image, or None when the planes are parallel or the line
    misses the image. Computed from ImagePositionPatient/ImageOrientationPatient only.
    """
    row_dir, col_dir, _ = row_col_normal(image.orientation)
    plane_normal = row_col_normal(other.orientation)[2]
    row_spacing, column_spacing = spacing
    rows, cols = shape
    # Scene point (x, y) is patient point origin + x * row_dir + y * col_dir.
    origin = (
        np.asarray(image.position, dtype=np.float64)
        - 0.5 * column_spacing * row_dir
        - 0.5 * row_spacing * col_dir
    )
    a = float(plane_normal @ row_dir)  # d(distance)/dx
    b = float(plane_normal @ col_dir)  # d(distance)/dy
    d = float(plane_normal @ (origin - np.asarray(other.position, dtype=np.float64)))
    if abs(a) < 1e-6 and abs(b) < 1e-6:
        return None
    width, height = cols * column_spacing, rows * row_spacing
    points: list[tuple[float, float]] = []
    if abs(b) > 1e-9:  # intersections with the left and right edges
        for x in (0.0, width):
            y = -(a * x + d) / b
            if -1e-9 <= y <= height + 1e-9:
                points.append((x, y))
    if abs(a) > 1e-9:  # with the top and bottom edges
        for y in (0.0, height):
            x = -(b * y + d) / a
            if -1e-9 <= x <= width + 1e-9:
                points.append((x, y))
    unique = sorted(set((round(x, 6), round(y, 6)) for x, y in points))
    if len(unique) < 2:
        return None
    return unique[0], unique[-1]

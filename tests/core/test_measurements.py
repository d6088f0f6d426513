"""Measurements: values from PixelSpacing (row and column spacing apart), patient points, the
store and the export rows, worked by hand."""

from __future__ import annotations

import csv
import io
import json
import math

import numpy as np
import pytest

from spineview.core.measurements import (
    ROW_FIELDS,
    MeasuredValue,
    Measurement,
    MeasurementKind,
    MeasurementStore,
    angle,
    clamp_to_image,
    distance,
    inside_image,
    measured_value,
    point_from_scene,
    rows_to_csv,
    rows_to_json,
    scene_from_point,
)
from spineview.core.series import Series

SAGITTAL = np.array([0.0, 1.0, 0.0, 0.0, 0.0, -1.0])


def _series(spacing: tuple[float, float] | None = (0.5, 0.8), geometry: bool = True) -> Series:
    n = 4
    positions = np.array([[10.0 + 4 * i, -100.0, 50.0] for i in range(n)])
    return Series(
        series_uid="1.2.3",
        description="Sag T2",
        series_number=7,
        modality="MR",
        series_type="T2",
        volume=np.zeros((n, 20, 30), dtype=np.float32),
        pixel_spacing=spacing,
        slice_thickness=3.0,
        positions=positions if geometry else np.full((n, 3), np.nan),
        orientation=SAGITTAL if geometry else None,
        photometric="MONOCHROME2",
        slice_tags=[{"InstanceNumber": str(100 + i)} for i in range(n)],
    )


def test_distance_uses_row_and_column_spacing_apart() -> None:
    # 10 rows at 0.5 mm and 0 columns: 5 mm; 0 rows and 10 columns at 0.8 mm: 8 mm
    assert distance((0, 0), (10, 0), (0.5, 0.8)) == pytest.approx(5.0)
    assert distance((0, 0), (0, 10), (0.5, 0.8)) == pytest.approx(8.0)
    assert distance((2, 3), (5, 7), (0.5, 0.8)) == pytest.approx(math.hypot(1.5, 3.2))
    assert distance((2, 3), (5, 7), None) == pytest.approx(5.0)


def test_angle_is_measured_in_millimetres() -> None:
    assert angle((0, 10), (0, 0), (10, 0), (1.0, 1.0)) == pytest.approx(90.0)
    assert angle((0, 10), (0, 0), (0, -10), None) == pytest.approx(180.0)
    # on the pixel grid 45°; rows 2 mm apart and columns 1 mm: atan(2/1) from the row axis
    assert angle((0, 10), (0, 0), (10, 10), (2.0, 1.0)) == pytest.approx(
        math.degrees(math.atan2(2, 1))
    )
    assert math.isnan(angle((3, 3), (3, 3), (5, 5), None))


def test_values_and_labels() -> None:
    distance_3_4 = Measurement(1, MeasurementKind.DISTANCE, 0, ((0, 0), (6, 5)))
    value = measured_value(distance_3_4, (0.5, 0.8))
    assert value == MeasuredValue(pytest.approx(5.0), "mm", True)
    assert value.label == "5.0 mm"
    uncalibrated = measured_value(distance_3_4, None)
    assert uncalibrated.unit == "px" and not uncalibrated.calibrated
    assert uncalibrated.label == f"{math.hypot(6, 5):.1f} px (uncalibrated)"
    right = Measurement(2, MeasurementKind.ANGLE, 0, ((0, 9), (0, 0), (9, 0)))
    assert measured_value(right, (0.5, 0.8)).label == "90.0°"
    assert measured_value(right, None).label == "90.0° (uncalibrated)"
    assert MeasuredValue(math.nan, "deg", True).label == "—"


def test_a_measurement_needs_its_number_of_points() -> None:
    with pytest.raises(ValueError, match="angle takes 3 points"):
        Measurement(1, MeasurementKind.ANGLE, 0, ((0, 0), (1, 1)))


def test_store_keeps_measurements_per_series_and_slice() -> None:
    store = MeasurementStore()
    series = _series()
    first = store.add("a", series, MeasurementKind.DISTANCE, 1, [(0, 0), (10, 0)])
    second = store.add("a", series, MeasurementKind.ANGLE, 2, [(0, 5), (0, 0), (5, 0)])
    other = store.add("b", series, MeasurementKind.DISTANCE, 1, [(0, 0), (0, 1)])
    assert len({first.id, second.id, other.id}) == 3
    assert store.on_slice("a", 1) == [first]
    assert store.on_slice("a", 2) == [second]
    assert store.of_series("b") == [other]
    moved = store.move_point(first.id, 1, (20, 0))
    assert moved is not None and store.value("a", moved).value == pytest.approx(10.0)
    assert store.on_slice("a", 1) == [moved]
    assert store.remove(second.id) == "a"
    assert store.remove(second.id) is None
    assert len(store) == 2
    store.clear()
    assert len(store) == 0 and store.of_series("a") == []


def test_rows_carry_series_slice_value_and_points() -> None:
    store = MeasurementStore()
    store.add("a", _series(), MeasurementKind.DISTANCE, 2, [(0, 0), (10, 0)])
    (row,) = store.rows()
    assert set(row) == set(ROW_FIELDS)
    assert row["series_uid"] == "1.2.3" and row["series_number"] == 7
    assert (row["slice"], row["instance_number"]) == (3, 102)
    assert (row["kind"], row["value"], row["unit"], row["calibrated"]) == (
        "distance", 5.0, "mm", True,
    )  # fmt: skip
    assert row["points_px"] == [[0, 0], [10, 0]]
    # slice 2 sits at x = 18; rows run along -z (0.5 mm each), columns along +y
    assert row["points_mm"] == [[18.0, -100.0, 50.0], [18.0, -100.0, 45.0]]


def test_rows_without_geometry_or_spacing() -> None:
    store = MeasurementStore()
    store.add("a", _series(spacing=None, geometry=False), MeasurementKind.DISTANCE, 0,
              [(0, 0), (3, 4)])  # fmt: skip
    (row,) = store.rows("a")
    assert (row["value"], row["unit"], row["calibrated"]) == (5.0, "px", False)
    assert row["points_mm"] is None


def test_csv_and_json_text() -> None:
    store = MeasurementStore()
    store.add("a", _series(), MeasurementKind.DISTANCE, 0, [(0, 0), (10, 0)])
    store.add("a", _series(), MeasurementKind.ANGLE, 1, [(0, 5), (0, 0), (5, 0)])
    rows = store.rows()
    lines = list(csv.DictReader(io.StringIO(rows_to_csv(rows))))
    assert [line["kind"] for line in lines] == ["distance", "angle"]
    assert lines[0]["points_px"] == "0 0; 10 0"
    assert lines[0]["points_mm"] == "10 -100 50; 10 -100 45"
    assert lines[1]["value"] == "90.0" and lines[1]["unit"] == "deg"
    assert json.loads(rows_to_json(rows)) == {"measurements": rows}


def test_scene_and_image_points() -> None:
    # pixel (2, 3) covers x in [3·0.8, 4·0.8] and y in [2·0.5, 3·0.5]: its centre is (2.8, 1.25)
    assert scene_from_point((2, 3), (0.5, 0.8)) == pytest.approx((2.8, 1.25))
    assert point_from_scene(2.8, 1.25, (0.5, 0.8)) == pytest.approx((2.0, 3.0))
    assert point_from_scene(0.0, 0.0, None) == (-0.5, -0.5)
    assert inside_image((-0.5, 29.5), (20, 30)) and not inside_image((20.0, 0.0), (20, 30))
    assert clamp_to_image((-3.0, 40.0), (20, 30)) == (-0.5, 29.5)

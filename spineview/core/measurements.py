"""Distance and angle measurements on a slice, their values in mm and degrees, and the rows
they export as (CSV / JSON). Qt-free.

Points are image pixel coordinates (row, column), continuous: (r, c) is the centre of pixel
(r, c), as ImagePositionPatient is the centre of the first pixel. Values are physical: a
distance is √((Δrow·row spacing)² + (Δcol·column spacing)²) from PixelSpacing (the image
plane), never screen pixels, and an angle is measured between those millimetre vectors (with
non-square pixels it differs from the angle on the pixel grid). Without PixelSpacing the values
are in pixels (square pixels assumed) and marked uncalibrated.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from spineview.core.geometry import SlicePlane, pixel_to_patient
from spineview.core.series import Series
from spineview.core.text_enum import TextEnum

Point = tuple[float, float]
"""(row, column) in image pixels; (r, c) is the centre of pixel (r, c)."""


def point_from_scene(x: float, y: float, spacing: tuple[float, float] | None) -> Point:
    """The image point under viewer scene coordinates (mm in the image plane, where pixel
    (r, c) covers [c·cs, (c+1)·cs] × [r·rs, (r+1)·rs]; see `ui.slice_view`)."""
    row_spacing, column_spacing = spacing or (1.0, 1.0)
    return y / row_spacing - 0.5, x / column_spacing - 0.5


def scene_from_point(point: Point, spacing: tuple[float, float] | None) -> tuple[float, float]:
    """Viewer scene coordinates (x, y) of an image point: the inverse of `point_from_scene`."""
    row_spacing, column_spacing = spacing or (1.0, 1.0)
    return (point[1] + 0.5) * column_spacing, (point[0] + 0.5) * row_spacing


def inside_image(point: Point, shape: tuple[int, int]) -> bool:
    """Whether the point lies on the image (its pixels' outer edges included)."""
    rows, cols = shape
    return -0.5 <= point[0] <= rows - 0.5 and -0.5 <= point[1] <= cols - 0.5


def clamp_to_image(point: Point, shape: tuple[int, int]) -> Point:
    rows, cols = shape
    return min(max(point[0], -0.5), rows - 0.5), min(max(point[1], -0.5), cols - 0.5)


class MeasurementKind(TextEnum):
    DISTANCE = "distance"
    ANGLE = "angle"

    @property
    def point_count(self) -> int:
        return 2 if self is MeasurementKind.DISTANCE else 3


@dataclass(frozen=True)
class Measurement:
    """One measurement on slice `slice_index` (0-based, the viewer's sorted order). An angle's
    points are (end, vertex, end)."""

    id: int
    kind: MeasurementKind
    slice_index: int
    points: tuple[Point, ...]

    def __post_init__(self) -> None:
        if len(self.points) != self.kind.point_count:
            raise ValueError(
                f"a {self.kind} takes {self.kind.point_count} points, got {len(self.points)}"
            )


@dataclass(frozen=True)
class MeasuredValue:
    value: float
    unit: str
    """"mm", "px" (no PixelSpacing) or "deg"."""
    calibrated: bool
    """False without PixelSpacing: pixels, square pixels assumed."""

    @property
    def label(self) -> str:
        """ "12.4 mm", "37.5°", "25.0 px (uncalibrated)", "37.5° (uncalibrated)"; "—" for an
        angle with a zero-length arm."""
        if not math.isfinite(self.value):
            return "—"
        text = f"{self.value:.1f}°" if self.unit == "deg" else f"{self.value:.1f} {self.unit}"
        return text if self.calibrated else f"{text} (uncalibrated)"


def _millimetre_vector(start: Point, end: Point, spacing: tuple[float, float]) -> np.ndarray:
    row_spacing, column_spacing = spacing
    return np.array([(end[0] - start[0]) * row_spacing, (end[1] - start[1]) * column_spacing])


def distance(start: Point, end: Point, spacing: tuple[float, float] | None) -> float:
    """Length of the segment in mm (spacing is PixelSpacing: row, column), or in pixels when
    spacing is None."""
    return float(np.linalg.norm(_millimetre_vector(start, end, spacing or (1.0, 1.0))))


def angle(first: Point, vertex: Point, last: Point, spacing: tuple[float, float] | None) -> float:
    """The angle at `vertex` between the rays to `first` and `last`, in degrees (0–180),
    measured in the image plane in mm; NaN when a ray has no length."""
    size = spacing or (1.0, 1.0)
    a = _millimetre_vector(vertex, first, size)
    b = _millimetre_vector(vertex, last, size)
    lengths = float(np.linalg.norm(a) * np.linalg.norm(b))
    if lengths == 0.0:
        return math.nan
    return math.degrees(math.atan2(abs(float(a[0] * b[1] - a[1] * b[0])), float(a @ b)))


def measured_value(measurement: Measurement, spacing: tuple[float, float] | None) -> MeasuredValue:
    calibrated = spacing is not None
    if measurement.kind is MeasurementKind.DISTANCE:
        start, end = measurement.points
        unit = "mm" if calibrated else "px"
        return MeasuredValue(distance(start, end, spacing), unit, calibrated)
    first, vertex, last = measurement.points
    return MeasuredValue(angle(first, vertex, last, spacing), "deg", calibrated)


@dataclass(frozen=True)
class MeasuredSeries:
    """What a measurement's export needs of its series, kept without the pixels (the decoded
    series may have left the cache by the time the list is exported)."""

    series_uid: str
    series_number: int | None
    description: str
    pixel_spacing: tuple[float, float] | None
    planes: tuple[SlicePlane | None, ...]
    instance_numbers: tuple[int | None, ...]

    @classmethod
    def of(cls, series: Series) -> MeasuredSeries:
        tags = series.slice_tags or [{} for _ in range(series.n_slices)]
        return cls(
            series.series_uid,
            series.series_number,
            series.description,
            series.pixel_spacing,
            tuple(series.plane(index) for index in range(series.n_slices)),
            tuple(_instance_number(slice_tags) for slice_tags in tags),
        )

    def patient_point(self, index: int, point: Point) -> tuple[float, float, float] | None:
        """The point in patient coordinates (LPS mm), or None without geometry/spacing."""
        plane = self.planes[index] if 0 <= index < len(self.planes) else None
        if plane is None or self.pixel_spacing is None:
            return None
        x, y, z = pixel_to_patient(
            plane.position, plane.orientation, self.pixel_spacing, point[0], point[1]
        )
        return float(x), float(y), float(z)


def _instance_number(tags: dict[str, str]) -> int | None:
    try:
        return int(float(tags["InstanceNumber"]))
    except (KeyError, ValueError, OverflowError):
        return None


ROW_FIELDS: tuple[str, ...] = (
    "series_uid",
    "series_number",
    "series_description",
    "slice",
    "instance_number",
    "kind",
    "value",
    "unit",
    "calibrated",
    "points_px",
    "points_mm",
)
"""Columns of the measurement CSV (JSON rows have the same keys). `slice` is 1-based, as the
viewer shows it ("Im 7/15"); points are (row, column) pixels and LPS patient millimetres."""


def measurement_row(measurement: Measurement, series: MeasuredSeries) -> dict[str, Any]:
    value = measured_value(measurement, series.pixel_spacing)
    patient = [series.patient_point(measurement.slice_index, p) for p in measurement.points]
    return {
        "series_uid": series.series_uid,
        "series_number": series.series_number,
        "series_description": series.description,
        "slice": measurement.slice_index + 1,
        "instance_number": _at(series.instance_numbers, measurement.slice_index),
        "kind": str(measurement.kind),
        "value": round(value.value, 3) if math.isfinite(value.value) else None,
        "unit": value.unit,
        "calibrated": value.calibrated,
        "points_px": [[round(r, 3), round(c, 3)] for r, c in measurement.points],
        "points_mm": (
            None
            if any(p is None for p in patient)
            else [[round(v, 3) for v in p] for p in patient if p is not None]
        ),
    }


def _at(values: Sequence[int | None], index: int) -> int | None:
    return values[index] if 0 <= index < len(values) else None


def rows_to_csv(rows: Sequence[dict[str, Any]]) -> str:
    """One line per measurement; point lists as "r c; r c" (mm: "x y z; ..."), blank for None."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=ROW_FIELDS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({name: _csv_cell(row[name]) for name in ROW_FIELDS})
    return out.getvalue()


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, list):
        return "; ".join(" ".join(f"{v:g}" for v in point) for point in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def rows_to_json(rows: Sequence[dict[str, Any]]) -> str:
    return json.dumps({"measurements": list(rows)}, indent=2) + "\n"


@dataclass
class MeasurementStore:
    """The measurements of each series (by the viewer's series key) while a study is open."""

    _series: dict[str, MeasuredSeries] = field(default_factory=dict)
    _measurements: dict[str, list[Measurement]] = field(default_factory=dict)
    _next_id: int = 1

    def add(
        self, key: str, series: Series, kind: MeasurementKind, index: int, points: Sequence[Point]
    ) -> Measurement:
        if key not in self._series:
            self._series[key] = MeasuredSeries.of(series)
        measurement = Measurement(self._next_id, kind, index, tuple(points))
        self._next_id += 1
        self._measurements.setdefault(key, []).append(measurement)
        return measurement

    def of_series(self, key: str) -> list[Measurement]:
        return list(self._measurements.get(key, []))

    def on_slice(self, key: str, index: int) -> list[Measurement]:
        return [m for m in self._measurements.get(key, []) if m.slice_index == index]

    def series(self, key: str) -> MeasuredSeries | None:
        return self._series.get(key)

    def find(self, measurement_id: int) -> tuple[str, Measurement] | None:
        for key, measurements in self._measurements.items():
            for measurement in measurements:
                if measurement.id == measurement_id:
                    return key, measurement
        return None

    def move_point(self, measurement_id: int, which: int, point: Point) -> Measurement | None:
        """Point `which` of a measurement moved (a handle dragged); the updated measurement."""
        found = self.find(measurement_id)
        if found is None:
            return None
        key, measurement = found
        points = list(measurement.points)
        points[which] = point
        updated = replace(measurement, points=tuple(points))
        measurements = self._measurements[key]
        measurements[measurements.index(measurement)] = updated
        return updated

    def remove(self, measurement_id: int) -> str | None:
        """Delete a measurement; the key of its series (None: there was none)."""
        found = self.find(measurement_id)
        if found is None:
            return None
        key, measurement = found
        self._measurements[key].remove(measurement)
        return key

    def value(self, key: str, measurement: Measurement) -> MeasuredValue:
        series = self._series.get(key)
        return measured_value(measurement, series.pixel_spacing if series else None)

    def rows(self, key: str | None = None) -> list[dict[str, Any]]:
        """Export rows of one series, or of every series (in the order they were measured)."""
        keys = [key] if key is not None else list(self._measurements)
        return [
            measurement_row(measurement, self._series[k])
            for k in keys
            for measurement in self._measurements.get(k, [])
        ]

    def __len__(self) -> int:
        return sum(len(measurements) for measurements in self._measurements.values())

    def clear(self) -> None:
        self._series.clear()
        self._measurements.clear()

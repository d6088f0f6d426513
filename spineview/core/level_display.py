"""What the viewer says about disc levels, worked out without Qt.

A `LevelMap` (discs as points in patient mm) names every other series of its study through
geometry alone: an axial series takes the level of the disc its slices pass nearest (or the
range of levels a long axial series covers), an axial slice shows its nearest disc with the
signed distance, and a sagittal (or coronal) slice shows each disc as a label beside the
spine, on the anterior side so the canal stays visible. The widgets only draw what these
functions return.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from spineview.core.geometry import SlicePlane, plane_of, row_col_normal
from spineview.core.levels import LEVELS, LabelInImage, LevelMap, NearestLevel
from spineview.core.text import format_probability

UNSURE_BELOW = 0.5
"""A level found with less confidence than this is shown with a "?"."""
FADED_BEYOND_SLICES = 2.0
"""A disc further off a sagittal slice than this many slice spacings is drawn faded."""
DEFAULT_SLICE_SPACING_MM = 4.0
"""Used for fading when a series has no usable slice spacing."""
TICK_FROM_MM, TICK_TO_MM = 50.0, 58.0
"""The label's tick, in mm in front of the disc point (the canal at the disc's height): past
the front of an adult lumbar vertebral body (canal to anterior edge about 45-50 mm)."""
TEXT_AT_MM = 60.0
"""Where the label's text starts, in mm in front of the disc point."""

T = TypeVar("T")


def confidence_text(confidence: float) -> str:
    """ "confidence 87 %", or the reader's own label (1.0 exactly: nothing was guessed)."""
    if confidence >= 1.0:
        return "from a reader's label"
    return f"confidence {format_probability(confidence)}"


def signed_mm(distance: float) -> str:
    """ "+2.5 mm", "-1.0 mm"; "+0.0 mm" rather than "-0.0 mm" for what rounds to nothing."""
    return f"{round(distance, 1) + 0.0:+.1f} mm"


def level_name(level: str, confidence: float) -> str:
    """ "L4/L5", or "L4/L5?" when the level was found with little confidence."""
    return f"{level}?" if confidence < UNSURE_BELOW else level


@dataclass(frozen=True)
class SeriesLevel:
    """The level of an axial series: the disc its slices pass nearest (`first` is `last`), or
    the range of discs a series through several of them covers, head to feet."""

    first: NearestLevel
    last: NearestLevel
    confidence: float
    """The lowest confidence of the levels it covers."""

    @property
    def spans(self) -> bool:
        return self.first.level != self.last.level

    @property
    def unsure(self) -> bool:
        return self.confidence < UNSURE_BELOW

    @property
    def text(self) -> str:
        """ "L4/L5 (+0.4 mm)", "L3/L4–L5/S1", "L1/L2? (-1.2 mm)" """
        mark = "?" if self.unsure else ""
        if self.spans:
            return f"{self.first.level}–{self.last.level}{mark}"
        return f"{self.first.level}{mark} ({signed_mm(self.first.distance_mm)})"

    @property
    def tooltip(self) -> str:
        if self.spans:
            where = (
                f"Disc levels {self.first.level} to {self.last.level}: the series' slices lie "
                "nearest to each of these discs in turn"
            )
        else:
            distance = self.first.distance_mm
            side = "above" if distance > 0 else "below" if distance < 0 else "at"
            where = (
                f"Disc level {self.first.level}: its nearest slice lies {abs(distance):.1f} mm "
                f"{side} the disc"
            )
        unsure = " (unsure)" if self.unsure else ""
        return f"{where}; {confidence_text(self.confidence)}{unsure}"

    @property
    def order(self) -> tuple[int, int, float]:
        """Sorts series head to feet: by first level, single stacks before ranges, then by how
        far above the disc."""
        return (LEVELS.index(self.first.level), int(self.spans), -self.first.distance_mm)


def series_level(levels: LevelMap, planes: Sequence[SlicePlane | None]) -> SeriesLevel | None:
    """The level of an axial series from its slices' planes; None for a sagittal or coronal
    series, a series without geometry, or one no disc is within reach of."""
    known = [plane for plane in planes if plane is not None]
    if not known or plane_of(known[0].orientation)[0] != "axial":
        return None
    nearest = [level for plane in known if (level := levels.nearest(plane)) is not None]
    if not nearest:
        return None
    by_level: dict[str, NearestLevel] = {}
    for level in nearest:
        best = by_level.get(level.level)
        if best is None or abs(level.distance_mm) < abs(best.distance_mm):
            by_level[level.level] = level
    ordered = sorted(by_level.values(), key=lambda level: LEVELS.index(level.level))
    confidence = min(level.confidence for level in ordered)
    return SeriesLevel(ordered[0], ordered[-1], confidence)


def order_by_level(items: Sequence[T], level_of: Callable[[T], SeriesLevel | None]) -> list[T]:
    """`items` with those that have a level sorted head to feet among themselves, in the
    places such items held; the others stay where they were."""
    levels = [level_of(item) for item in items]
    slots = [i for i, level in enumerate(levels) if level is not None]
    ranked = sorted(slots, key=lambda i: (_order(levels[i]), i))
    result = list(items)
    for slot, source in zip(slots, ranked, strict=True):
        result[slot] = items[source]
    return result


def _order(level: SeriesLevel | None) -> tuple[int, int, float]:
    assert level is not None
    return level.order


def slice_level_text(levels: LevelMap, plane: SlicePlane | None) -> str:
    """The corner line of an axial slice: "L4/L5 +2.5 mm" (the signed distance: + above the
    disc), with "?" and the confidence of a level a model found, "no level within 18 mm"
    beyond reach; "" for a sagittal or coronal slice (they show labels instead)."""
    if plane is None:
        return "no level: the slice has no position or orientation"
    if plane_of(plane.orientation)[0] != "axial":
        return ""
    nearest = levels.nearest(plane)
    if nearest is None:
        return f"no level within {levels.reach_mm:.0f} mm"
    text = f"{level_name(nearest.level, nearest.confidence)} {signed_mm(nearest.distance_mm)}"
    if nearest.confidence < 1.0:
        text += f" ({format_probability(nearest.confidence)})"
    return text


@dataclass(frozen=True)
class ShownLabel:
    """One disc label on a sagittal or coronal image, in scene millimetres (x along the row,
    y down the columns, pixel centres at (index + 0.5) × spacing)."""

    level: str
    text: str
    tooltip: str
    disc: tuple[float, float]
    """Where the disc point projects on the image."""
    tick: tuple[tuple[float, float], tuple[float, float]]
    text_at: tuple[float, float]
    text_leftwards: bool
    """The text extends to the left of `text_at` (the anterior side is on the left)."""
    faded: bool
    off_plane_mm: float
    unsure: bool


def slice_labels(
    levels: LevelMap,
    plane: SlicePlane | None,
    spacing: tuple[float, float],
    slice_spacing: float | None,
) -> list[ShownLabel]:
    """The labels of a sagittal or coronal slice (none for an axial one or without geometry):
    each disc projected onto the image, its text offset to the front of the spine (to the
    image's left on a coronal slice, where the front is out of the plane), faded when the
    disc lies more than `FADED_BEYOND_SLICES` slice spacings off the slice."""
    if plane is None or plane_of(plane.orientation)[0] == "axial":
        return []
    direction = _label_direction(plane)
    step = slice_spacing if slice_spacing and math.isfinite(slice_spacing) else None
    fade_beyond = FADED_BEYOND_SLICES * (step or DEFAULT_SLICE_SPACING_MM)
    confidences = {point.level: point.confidence for point in levels.points}
    return [
        _shown(label, confidences[label.level], spacing, direction, fade_beyond)
        for label in levels.in_image(plane, spacing)
    ]


def _shown(
    label: LabelInImage,
    confidence: float,
    spacing: tuple[float, float],
    direction: np.ndarray,
    fade_beyond: float,
) -> ShownLabel:
    row_spacing, column_spacing = spacing
    disc = np.array([(label.column + 0.5) * column_spacing, (label.row + 0.5) * row_spacing])
    text = level_name(label.level, confidence)
    if confidence < UNSURE_BELOW:
        text += f" {format_probability(confidence)}"
    off = f"{label.off_plane_mm:.1f} mm off this slice"
    return ShownLabel(
        level=label.level,
        text=text,
        tooltip=f"{label.level}: {confidence_text(confidence)}; the disc lies {off}",
        disc=_pair(disc),
        tick=(_pair(disc + TICK_FROM_MM * direction), _pair(disc + TICK_TO_MM * direction)),
        text_at=_pair(disc + TEXT_AT_MM * direction),
        text_leftwards=bool(direction[0] < 0),
        faded=label.off_plane_mm > fade_beyond,
        off_plane_mm=label.off_plane_mm,
        unsure=confidence < UNSURE_BELOW,
    )


def _label_direction(plane: SlicePlane) -> np.ndarray:
    """The unit direction, in image millimetres (x right, y down), to the front of the patient
    (LPS: anterior is -y); the image's left where the front is out of the plane."""
    row_dir, col_dir, _ = row_col_normal(plane.orientation)
    anterior = np.array([-row_dir[1], -col_dir[1]])
    length = float(np.linalg.norm(anterior))
    if length < 0.5:  # coronal: the front is out of the plane
        return np.array([-1.0, 0.0])
    return anterior / length


def _pair(values: np.ndarray) -> tuple[float, float]:
    return float(values[0]), float(values[1])


def no_levels_text(reason: str) -> str:
    """ "No disc levels: the sagittal series has a single slice" (a reason that already says
    so is kept as it is)."""
    reason = reason.strip() or "no reason given"
    if reason.lower().startswith("no disc level"):
        return reason
    return f"No disc levels: {reason}"

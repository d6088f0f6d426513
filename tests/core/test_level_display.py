"""What the viewer shows of disc levels: axial series named and sorted by level (oblique stacks
measured along their own normal, long series as a range), the corner line of an axial slice,
and where each label goes on a sagittal or coronal slice."""

from __future__ import annotations

import math

import numpy as np
import pytest

from spineview.core.geometry import SlicePlane
from spineview.core.level_display import (
    TEXT_AT_MM,
    TICK_FROM_MM,
    SeriesLevel,
    no_levels_text,
    order_by_level,
    series_level,
    slice_labels,
    slice_level_text,
)
from spineview.core.levels import LEVELS, DiscPoint, LevelMap, NearestLevel

# Discs 40 mm apart down a slightly lordotic spine (LPS: +z head, +y back): reach 20 mm.
DISCS = {
    "L1/L2": (0.0, 10.0, 100.0),
    "L2/L3": (0.0, 5.0, 60.0),
    "L3/L4": (0.0, 3.0, 20.0),
    "L4/L5": (0.0, 5.0, -20.0),
    "L5/S1": (0.0, 10.0, -60.0),
}
SAGITTAL = (0.0, 1.0, 0.0, 0.0, 0.0, -1.0)  # columns run to the back, rows to the feet


def level_map(confidences: dict[str, float] | None = None) -> LevelMap:
    confidences = confidences or {}
    return LevelMap(
        tuple(DiscPoint(name, DISCS[name], confidences.get(name, 1.0)) for name in LEVELS)
    )


def tilted_axial(degrees: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row, column and normal of an axial plane tilted about the left-right axis."""
    angle = math.radians(degrees)
    row = np.array([1.0, 0.0, 0.0])
    column = np.array([0.0, math.cos(angle), -math.sin(angle)])
    return row, column, np.cross(row, column)


def axial_plane(origin: np.ndarray, degrees: float = 0.0) -> SlicePlane:
    row, column, _ = tilted_axial(degrees)
    x, y, z = (float(v) for v in origin)
    r0, r1, r2 = (float(v) for v in row)
    c0, c1, c2 = (float(v) for v in column)
    return SlicePlane((x, y, z), (r0, r1, r2, c0, c1, c2))


def stack_through(level: str, distances: list[float], degrees: float) -> list[SlicePlane]:
    """Slices at signed `distances` (mm, along the tilted normal) from a disc, each with its
    first pixel far from the disc within the plane (as a real field of view puts it)."""
    row, column, normal = tilted_axial(degrees)
    disc = np.array(DISCS[level])
    corner = -100.0 * row - 90.0 * column
    return [axial_plane(disc + d * normal + corner, degrees) for d in distances]


@pytest.mark.parametrize("degrees", [0.0, 12.0, -18.0])
def test_an_oblique_stack_takes_the_level_of_its_disc_along_its_own_normal(degrees: float) -> None:
    planes = stack_through("L4/L5", [-5.0, -1.5, 2.0, 5.5], degrees)
    level = series_level(level_map(), planes)
    assert level is not None and not level.spans
    assert level.first.level == "L4/L5"
    assert level.first.distance_mm == pytest.approx(-1.5, abs=1e-6)
    assert level.text == "L4/L5 (-1.5 mm)"
    assert "1.5 mm below the disc" in level.tooltip and "reader's label" in level.tooltip


def test_a_series_through_several_discs_shows_the_range_head_to_feet() -> None:
    planes = [axial_plane(np.array([-100.0, -100.0, z])) for z in np.arange(-45.0, 70.0, 5.0)]
    level = series_level(level_map(), planes[::-1])
    assert level is not None and level.spans
    assert (level.first.level, level.last.level) == ("L2/L3", "L5/S1")
    assert level.text == "L2/L3–L5/S1"
    assert "L2/L3 to L5/S1" in level.tooltip


def test_sagittal_and_geometry_less_series_have_no_level() -> None:
    levels = level_map()
    sagittal = [SlicePlane((x, -150.0, 150.0), SAGITTAL) for x in (-4.0, 0.0, 4.0)]
    assert series_level(levels, sagittal) is None
    assert series_level(levels, [None, None]) is None
    assert series_level(levels, []) is None


def test_an_unsure_level_carries_a_question_mark_and_its_confidence() -> None:
    levels = level_map({"L4/L5": 0.41, "L5/S1": 0.9})
    level = series_level(levels, stack_through("L4/L5", [0.0, 3.0], 15.0))
    assert level is not None and level.unsure
    assert level.text == "L4/L5? (+0.0 mm)"
    assert "confidence 41 %" in level.tooltip
    sure = series_level(levels, stack_through("L5/S1", [2.0], 15.0))
    assert sure is not None and not sure.unsure
    assert sure.text == "L5/S1 (+2.0 mm)" and "confidence 90 %" in sure.tooltip
    # a range is as unsure as its least sure level
    planes = [axial_plane(np.array([0.0, 0.0, z])) for z in (-20.0, -40.0, -60.0)]
    span = series_level(levels, planes)
    assert span is not None and span.text == "L4/L5–L5/S1?"


def test_axial_slice_corner_line() -> None:
    levels = level_map({"L3/L4": 0.3, "L4/L5": 0.8})
    (above_l1,) = stack_through("L1/L2", [2.5], 10.0)
    assert slice_level_text(level_map(), above_l1) == "L1/L2 +2.5 mm"
    (below_l4,) = stack_through("L4/L5", [-3.0], -15.0)
    assert slice_level_text(levels, below_l4) == "L4/L5 -3.0 mm (80 %)"
    (at_l3,) = stack_through("L3/L4", [1.0], 0.0)
    assert slice_level_text(levels, at_l3) == "L3/L4? +1.0 mm (30 %)"
    (far,) = stack_through("L1/L2", [35.0], 0.0)
    assert slice_level_text(levels, far) == "no level within 20 mm"
    assert "no position" in slice_level_text(levels, None)
    assert slice_level_text(levels, SlicePlane((0.0, -150.0, 150.0), SAGITTAL)) == ""


def nearest(level: str, distance: float = 0.0) -> NearestLevel:
    return NearestLevel(level, distance, 1.0)


def test_series_with_levels_are_sorted_head_to_feet_in_their_own_places() -> None:
    l1, l4, l5 = (SeriesLevel(nearest(n), nearest(n), 1.0) for n in ("L1/L2", "L4/L5", "L5/S1"))
    span = SeriesLevel(nearest("L2/L3"), nearest("L4/L5"), 1.0)
    l4_lower = SeriesLevel(nearest("L4/L5", -3.0), nearest("L4/L5", -3.0), 1.0)
    listed = {
        "sag T1": None,
        "sag T2": None,
        "ax 1": l5,
        "ax 2": l4_lower,
        "ax 3": l4,
        "other": None,
        "ax range": span,
        "ax 5": l1,
    }
    ordered = order_by_level(list(listed), listed.__getitem__)
    assert ordered == ["sag T1", "sag T2", "ax 5", "ax range", "ax 3", "other", "ax 2", "ax 1"]
    assert order_by_level(["a", "b"], lambda _: None) == ["a", "b"]


def test_sagittal_labels_sit_on_the_projection_with_their_text_in_front_of_the_spine() -> None:
    levels = level_map({"L1/L2": 0.3})
    plane = SlicePlane((1.5, -150.0, 160.0), SAGITTAL)  # 1.5 mm right of the midline
    spacing = (0.8, 0.6)
    labels = slice_labels(levels, plane, spacing, 4.0)
    assert [label.level for label in labels] == list(LEVELS)
    for label, projected in zip(labels, levels.in_image(plane, spacing), strict=True):
        assert label.disc == pytest.approx(
            ((projected.column + 0.5) * 0.6, (projected.row + 0.5) * 0.8)
        )
        assert label.off_plane_mm == pytest.approx(1.5) and not label.faded
        # the front (-y) is towards lower columns: to the left of the disc, at its height
        assert label.text_leftwards
        assert label.tick[0] == pytest.approx((label.disc[0] - TICK_FROM_MM, label.disc[1]))
        assert label.text_at == pytest.approx((label.disc[0] - TEXT_AT_MM, label.disc[1]))
    assert labels[0].text == "L1/L2? 30 %" and labels[0].unsure
    assert labels[1].text == "L2/L3" and "reader's label" in labels[1].tooltip
    # from below the head (rows downwards): L1/L2 above L5/S1 on screen
    assert labels[0].disc[1] < labels[-1].disc[1]


def test_labels_of_a_flipped_or_tilted_sagittal_go_to_the_front() -> None:
    flipped = SlicePlane((0.0, 150.0, 160.0), (0.0, -1.0, 0.0, 0.0, 0.0, -1.0))
    (first, *_) = slice_labels(level_map(), flipped, (1.0, 1.0), 4.0)
    assert not first.text_leftwards and first.text_at[0] > first.disc[0]
    angle = math.radians(15.0)  # rotated within the sagittal plane
    row = (0.0, math.cos(angle), -math.sin(angle))
    column = (0.0, -math.sin(angle), -math.cos(angle))
    tilted = SlicePlane((0.0, -150.0, 160.0), (*row, *column))
    for label in slice_labels(level_map(), tilted, (1.0, 1.0), 4.0):
        step = np.subtract(label.text_at, label.disc)
        # the text's offset is the patient's front (-y) seen in this image
        expected = -np.array([row[1], column[1]])
        assert step / np.linalg.norm(step) == pytest.approx(expected / np.linalg.norm(expected))


def test_labels_of_discs_far_off_the_slice_are_faded() -> None:
    far = SlicePlane((20.0, -150.0, 160.0), SAGITTAL)
    assert all(label.faded for label in slice_labels(level_map(), far, (1.0, 1.0), 4.0))
    # two slice spacings is the limit; without a spacing 4 mm is assumed
    near = SlicePlane((7.0, -150.0, 160.0), SAGITTAL)
    assert not any(label.faded for label in slice_labels(level_map(), near, (1.0, 1.0), 4.0))
    assert all(label.faded for label in slice_labels(level_map(), near, (1.0, 1.0), 3.0))
    assert not any(label.faded for label in slice_labels(level_map(), near, (1.0, 1.0), None))


def test_axial_slices_get_no_labels_and_coronal_ones_get_them_to_the_left() -> None:
    levels = level_map()
    assert slice_labels(levels, stack_through("L3/L4", [0.0], 0.0)[0], (1.0, 1.0), 4.0) == []
    assert slice_labels(levels, None, (1.0, 1.0), 4.0) == []
    coronal = SlicePlane((-150.0, 5.0, 160.0), (1.0, 0.0, 0.0, 0.0, 0.0, -1.0))
    labels = slice_labels(levels, coronal, (1.0, 1.0), 4.0)
    assert len(labels) == 5 and all(label.text_leftwards for label in labels)


def test_the_reason_for_no_levels_reads_as_one_sentence() -> None:
    assert (
        no_levels_text("the sagittal series has a single slice")
        == "No disc levels: the sagittal series has a single slice"
    )
    assert no_levels_text("No disc levels: no sagittal series") == (
        "No disc levels: no sagittal series"
    )
    assert no_levels_text("") == "No disc levels: no reason given"

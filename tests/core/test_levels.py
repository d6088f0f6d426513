"""Disc levels in patient space: from pixels of a sagittal instance to every other plane,
oblique stacks included."""

from __future__ import annotations

import math

import numpy as np
import pytest

from spineview.core.geometry import SlicePlane
from spineview.core.levels import LEVELS, DiscPoint, LevelMap

SAGITTAL = (0.0, 1.0, 0.0, 0.0, 0.0, -1.0)  # rows run posterior, columns run to the feet
AXIAL = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)  # normal +z: the head


def _spine() -> LevelMap:
    """Discs 30 mm apart, L1/L2 at z = 100, on the midline (x = 0), 20 mm anterior."""
    return LevelMap(
        tuple(
            DiscPoint(level, (0.0, -20.0, 100.0 - 30.0 * i), 0.9) for i, level in enumerate(LEVELS)
        )
    )


def test_pixels_of_a_sagittal_instance_become_patient_millimetres() -> None:
    plane = SlicePlane((0.0, -150.0, 160.0), SAGITTAL)
    spacing = (0.5, 0.8)  # (row, column) mm
    levels = LevelMap.from_pixels({"L4/L5": (plane, spacing, 100.0, 40.0)}, {"L4/L5": 0.7})
    (disc,) = levels.points
    # x = column 100 → +y by 100 × 0.8 (rows run posterior); y = row 40 → -z by 40 × 0.5
    assert disc.position == pytest.approx((0.0, -150.0 + 80.0, 160.0 - 20.0))
    assert disc.level == "L4/L5" and disc.confidence == 0.7
    (label,) = levels.in_image(plane, spacing)  # and back to the same pixel, in the plane
    assert (label.row, label.column, label.off_plane_mm) == pytest.approx((40.0, 100.0, 0.0))


def test_each_axial_slice_gets_its_nearest_disc_and_signed_distance() -> None:
    spine = _spine()
    above = spine.nearest(SlicePlane((0.0, 0.0, 42.0), AXIAL))
    below = spine.nearest(SlicePlane((0.0, 0.0, 37.5), AXIAL))
    assert above is not None and below is not None
    assert (above.level, above.distance_mm) == ("L3/L4", pytest.approx(2.0))
    assert (below.level, below.distance_mm) == ("L3/L4", pytest.approx(-2.5))
    assert above.text == "L3/L4 +2.0 mm" and above.confidence == 0.9
    # the same plane with its normal the other way (rows flipped) gives the same sign
    flipped = spine.nearest(SlicePlane((0.0, 0.0, 42.0), (1.0, 0.0, 0.0, 0.0, -1.0, 0.0)))
    assert flipped is not None and flipped.distance_mm == pytest.approx(2.0)


@pytest.mark.parametrize("tilt", [0.0, 12.0, -20.0])
def test_oblique_slices_are_measured_along_their_own_normal(tilt: float) -> None:
    spine = _spine()
    t = math.radians(tilt)
    normal = np.array([0.0, -math.sin(t), math.cos(t)])  # cross(row, column) of the tilt
    disc = np.array(spine.points[3].position)  # L4/L5
    orientation = (1.0, 0.0, 0.0, 0.0, math.cos(t), math.sin(t))
    for shift in (0.0, 3.0, -4.0):
        origin = disc + shift * normal - 60.0 * np.array([1.0, 0.0, 0.0])  # corner elsewhere
        found = spine.nearest(SlicePlane(tuple(origin), orientation))
        assert found is not None and found.level == "L4/L5"
        assert found.distance_mm == pytest.approx(shift, abs=1e-9)


def test_a_stack_takes_the_level_its_slices_come_closest_to() -> None:
    spine = _spine()
    stack = [SlicePlane((0.0, 0.0, z), AXIAL) for z in (3.0, 7.0, 11.5, 15.0)]
    level = spine.stack_level(stack)
    assert level is not None and (level.level, level.distance_mm) == ("L4/L5", pytest.approx(1.5))
    assert LevelMap(()).stack_level(stack) is None and LevelMap(()).nearest(stack[0]) is None


def test_labels_on_a_parasagittal_slice_say_how_far_off_plane_they_are() -> None:
    plane = SlicePlane((12.0, -150.0, 160.0), SAGITTAL)  # 12 mm to the patient's left
    labels = _spine().in_image(plane, (1.0, 1.0))
    assert [label.level for label in labels] == list(LEVELS)
    assert all(label.off_plane_mm == pytest.approx(12.0) for label in labels)
    rows = [label.row for label in labels]
    assert rows == sorted(rows)  # head at the top of the image: L1/L2 first


def test_levels_are_checked_when_built() -> None:
    with pytest.raises(ValueError, match="unknown disc level 'L6/S1'"):
        LevelMap((DiscPoint("L6/S1", (0.0, 0.0, 0.0)),))
    with pytest.raises(ValueError, match="given twice"):
        LevelMap((DiscPoint("L4/L5", (0.0, 0.0, 0.0)), DiscPoint("L4/L5", (0.0, 0.0, 1.0))))
    with pytest.raises(ValueError, match="out of order"):
        LevelMap((DiscPoint("L5/S1", (0.0, 0.0, 0.0)), DiscPoint("L4/L5", (0.0, 0.0, 30.0))))
    with pytest.raises(ValueError, match="not 3 finite mm"):
        LevelMap((DiscPoint("L4/L5", (0.0, float("nan"), 0.0)),))


def test_a_swapped_pair_of_discs_is_out_of_order() -> None:
    spine = _spine()
    assert spine.in_order()
    swapped = list(spine.points)
    swapped[1], swapped[2] = (
        DiscPoint("L2/L3", swapped[2].position),
        DiscPoint("L3/L4", swapped[1].position),
    )
    assert not LevelMap(tuple(swapped)).in_order()


def test_a_plane_nearer_to_a_disc_the_map_lacks_gets_no_level() -> None:
    spine = _spine()  # discs 30 mm apart: a plane takes a level within 15 mm of it
    assert spine.reach_mm == pytest.approx(15.0)
    gap = LevelMap(tuple(p for p in spine.points if p.level != "L2/L3"))
    assert gap.reach_mm == pytest.approx(15.0)  # L1/L2 to L3/L4 is two steps of 30 mm
    at_missing_disc = SlicePlane((0.0, 0.0, 70.0), AXIAL)
    assert gap.nearest(at_missing_disc) is None  # not "L1/L2 -30 mm" nor "L3/L4 +30 mm"
    found = spine.nearest(at_missing_disc)
    assert found is not None and found.level == "L2/L3"
    near_vertebra_middle = spine.nearest(SlicePlane((0.0, 0.0, 56.0), AXIAL))
    assert near_vertebra_middle is not None and near_vertebra_middle.text == "L2/L3 -14.0 mm"
    assert spine.nearest(SlicePlane((0.0, 0.0, -60.0), AXIAL)) is None  # below the sacrum

"""When disc levels may be named: the rules before and after the level model (no TensorFlow)."""

from __future__ import annotations

import numpy as np
import pytest

from spineview.core.levels import LEVELS, DiscPoint, LevelMap
from spineview.core.series import Series
from spineview.models.level_decision import answer_problem, doubt_text, series_problem

SAGITTAL = np.array([0.0, 1.0, 0.0, 0.0, 0.0, -1.0])  # rows to the back, columns down: normal x
AXIAL = np.array([1.0, 0.0, 0.0, 0.0, 1.0, 0.0])


def _series(
    slices: int = 15, orientation: np.ndarray | None = SAGITTAL, **fields: object
) -> Series:
    positions = np.zeros((slices, 3))
    positions[:, 0] = np.arange(slices) * 4.0
    values: dict[str, object] = {
        "series_uid": "1.2.3", "description": "T2 SAG", "series_number": 2, "modality": "MR",
        "series_type": "Sagittal T2/STIR", "volume": np.zeros((slices, 32, 32), np.float32),
        "pixel_spacing": (1.0, 1.0), "slice_thickness": 4.0, "positions": positions,
        "orientation": orientation, "photometric": "MONOCHROME2",
    }  # fmt: skip
    values.update(fields)
    return Series(**values)  # type: ignore[arg-type]


def test_a_series_levels_can_be_looked_for_on() -> None:
    assert series_problem(_series()) == ""


@pytest.mark.parametrize(
    ("series", "words"),
    [
        (_series(slices=1), "single slice"),
        (_series(orientation=None), "no geometry"),
        (_series(pixel_spacing=None), "no PixelSpacing"),
        (_series(orientation=AXIAL), "not sagittal"),
    ],
)
def test_series_without_what_levels_need_are_refused_with_the_reason(
    series: Series, words: str
) -> None:
    assert words in series_problem(series)


def _spine(step: float = 35.0, swap: bool = False) -> LevelMap:
    heights = [100.0 - step * index for index in range(5)]
    if swap:
        heights[2], heights[3] = heights[3], heights[2]
    return LevelMap(
        tuple(DiscPoint(level, (0.0, 0.0, z)) for level, z in zip(LEVELS, heights, strict=True))
    )


SURE = dict.fromkeys(LEVELS, 0.9)


def test_a_plausible_sure_answer_is_shown() -> None:
    assert answer_problem(_spine(), SURE, 3.0, 5.0) == ""
    assert answer_problem(_spine(), SURE, None, None) == ""  # a model without a check


def test_an_unfamiliar_image_is_refused_before_anything_else() -> None:
    assert "does not look like" in answer_problem(_spine(), SURE, 9.0, 5.0)


def test_without_a_sure_sacrum_no_level_is_named() -> None:
    unsure_sacrum = {**SURE, "L5/S1": 0.1}
    assert "sacrum" in answer_problem(_spine(), unsure_sacrum, None, None)


def test_an_unsure_answer_everywhere_is_refused() -> None:
    assert "unsure of every level" in answer_problem(
        _spine(), dict.fromkeys(LEVELS, 0.1), None, None
    )


def test_levels_out_of_order_or_at_implausible_distances_are_refused() -> None:
    assert "order" in answer_problem(_spine(swap=True), SURE, None, None)
    assert "apart" in answer_problem(_spine(step=5.0), SURE, None, None)
    assert "apart" in answer_problem(_spine(step=90.0), SURE, None, None)


def test_doubt_names_the_unsure_levels() -> None:
    assert doubt_text(SURE) == ""
    assert doubt_text({**SURE, "L1/L2": 0.41}) == "L1/L2 (41%) is unsure"
    assert doubt_text({**SURE, "L1/L2": 0.41, "L2/L3": 0.3}).endswith("are unsure")

"""`Series` checks its shapes when built: a bad field is refused, its value in the message."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from spineview.core.series import Series, is_length

SAGITTAL = (0.0, 1.0, 0.0, 0.0, 0.0, -1.0)


def make_series(n: int = 5, **changes: Any) -> Series:
    """A valid 5-slice series as the loader builds it, with `changes` applied."""
    fields: dict[str, Any] = {
        "series_uid": "1.2.3",
        "description": "T2 SAG",
        "series_number": 1,
        "modality": "MR",
        "series_type": "Sagittal T2",
        "volume": np.full((n, 4, 6), np.nan, dtype=np.float32),
        "pixel_spacing": (0.5, 0.75),
        "slice_thickness": 3.5,
        "positions": np.array([(4.0 * i, 0.0, 0.0) for i in range(n)], dtype=np.float64),
        "orientation": np.array(SAGITTAL),
        "photometric": "MONOCHROME2",
        "slice_tags": [{} for _ in range(n)],
        "source_files": [Path(f"{i}.dcm") for i in range(n)],
    }
    fields.update(changes)
    return Series(**fields)


def refused(**changes: Any) -> str:
    with pytest.raises(ValueError) as caught:
        make_series(**changes)
    message = str(caught.value)
    assert message.startswith("Series 1.2.3: ")
    return message


def test_a_series_as_the_loader_builds_it_is_accepted() -> None:
    series = make_series()
    assert series.shape == (5, 4, 6) and series.has_geometry


def test_what_real_files_produce_is_accepted() -> None:
    # No position on some slices (NaN rows), no orientation, spacing or thickness, tags and
    # files not filled in (a preview), a degenerate orientation, float64 pixels.
    positions = np.full((5, 3), np.nan)
    positions[0] = (1.0, 2.0, 3.0)
    series = make_series(
        positions=positions,
        orientation=None,
        pixel_spacing=None,
        slice_thickness=None,
        slice_tags=[],
        source_files=[],
    )
    assert not series.has_geometry and series.plane(1) is None
    assert make_series(orientation=np.zeros(6)).normal is not None
    assert make_series(volume=np.zeros((5, 4, 6))).n_slices == 5
    assert make_series(n=1).n_slices == 1
    assert make_series(pixel_spacing=(np.float32(0.5), 1)).pixel_spacing is not None


def test_no_uid_is_named_as_such() -> None:
    with pytest.raises(ValueError, match=r"^Series \(no UID\): volume has shape \(4, 6\)"):
        make_series(series_uid="", volume=np.zeros((4, 6), dtype=np.float32))


@pytest.mark.parametrize("shape", [(4, 6), (5, 4, 6, 3), (0, 4, 6), (5, 0, 6)])
def test_volume_must_be_three_dimensional_and_not_empty(shape: tuple[int, ...]) -> None:
    message = refused(volume=np.zeros(shape, dtype=np.float32))
    assert f"volume has shape {shape}; expected (slices, rows, columns)" in message


def test_volume_must_be_an_array_of_floats() -> None:
    assert "volume is a list" in refused(volume=[[[0.0]]])
    message = refused(volume=np.zeros((5, 4, 6), dtype=np.uint16))
    assert "volume has dtype uint16; expected floating point" in message


@pytest.mark.parametrize("shape", [(4, 2), (5, 2), (4, 3), (15,), (5, 3, 1)])
def test_positions_are_one_triple_per_slice(shape: tuple[int, ...]) -> None:
    message = refused(positions=np.zeros(shape))
    assert f"positions has shape {shape}; expected (5, 3), one per slice" in message


def test_positions_are_an_array_of_floats() -> None:
    assert "positions is a list" in refused(positions=[(0.0, 0.0, 0.0)] * 5)
    message = refused(positions=np.zeros((5, 3), dtype=np.int64))
    assert "positions has dtype int64; expected floating point" in message


@pytest.mark.parametrize(
    ("orientation", "shown"),
    [
        (np.zeros(3), "array([0., 0., 0.])"),
        (np.zeros((2, 3)), "array([[0., 0., 0.],"),
        (SAGITTAL, repr(SAGITTAL)),
        (np.array(["0"] * 6), "array(['0', '0', '0', '0', '0', '0'], dtype='<U1')"),
    ],
)
def test_orientation_is_none_or_six_numbers(orientation: Any, shown: str) -> None:
    message = refused(orientation=orientation)
    assert f"orientation is {shown}" in message
    assert "expected None or an array of 6 numbers" in message


@pytest.mark.parametrize(
    "spacing",
    [(0.0, 0.0), (0.5, -0.5), (math.nan, 0.5), (0.5, math.inf), (0.5,), (0.5, 0.5, 0.5), "0.5"],
)
def test_pixel_spacing_is_none_or_two_positive_finite_numbers(spacing: Any) -> None:
    message = refused(pixel_spacing=spacing)
    assert f"pixel_spacing is {spacing!r}; expected None or two finite numbers above zero" in (
        message
    )


@pytest.mark.parametrize("thickness", [0.0, -3.5, math.nan, math.inf, "3.5", True])
def test_slice_thickness_is_none_or_positive(thickness: Any) -> None:
    message = refused(slice_thickness=thickness)
    assert f"slice_thickness is {thickness!r}; expected None or a finite number above zero" in (
        message
    )


@pytest.mark.parametrize("name", ["slice_tags", "source_files"])
@pytest.mark.parametrize("count", [1, 4, 6])
def test_slice_tags_and_source_files_are_empty_or_one_per_slice(name: str, count: int) -> None:
    values = [{} for _ in range(count)] if name == "slice_tags" else [Path("x")] * count
    message = refused(**{name: values})
    assert f"{name} has {count} entries; expected 0 or 5, one per slice" in message


def test_checks_copy_nothing() -> None:
    volume = np.zeros((5, 4, 6), dtype=np.float32)
    positions = np.zeros((5, 3))
    series = make_series(volume=volume, positions=positions)
    assert series.volume is volume and series.positions is positions


@pytest.mark.parametrize(
    ("value", "length"),
    [
        *[(0.5, True), (3, True), (np.float32(0.1), True), (0.0, False), (-1.0, False)],
        *[(math.nan, False), (math.inf, False), (True, False), ("1", False), (None, False)],
    ],
)
def test_is_length(value: Any, length: bool) -> None:
    assert is_length(value) is length

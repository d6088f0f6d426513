"""Heatmap colouring: one lookup table for the viewer and the PNGs."""

from __future__ import annotations

import numpy as np
import pytest

from spineview.core.heatmap import heat_indices, heat_lut, overlay_rgb


def test_lut_alpha_rises_with_heat_and_is_zero_for_no_heat() -> None:
    table = heat_lut()
    assert table.shape == (256, 4) and table.dtype == np.uint8
    assert table[0, 3] == 0 and table[255, 3] == 255
    assert np.all(np.diff(table[:, 3].astype(int)) >= 0)
    with pytest.raises(ValueError):
        table[0, 0] = 1  # shared and cached: read-only


def test_lut_colours_are_matplotlibs_inferno() -> None:
    """The entries are inferno's own colours (not an interpolation between a few anchors):
    checked against values of the published table (matplotlib's _cm_listed.py)."""
    table = heat_lut()
    published = {  # entry: inferno's RGB in [0, 1], rounded here to 0..255
        0: (0.001462, 0.000466, 0.013866),
        40: (0.183429, 0.040329, 0.354971),
        128: (0.735683, 0.215906, 0.330245),
        200: (0.985952, 0.61575, 0.025592),
        255: (0.988362, 0.998364, 0.644924),
    }
    for entry, rgb in published.items():
        assert tuple(table[entry, :3]) == tuple(round(v * 255) for v in rgb), entry


def test_indices_clip_and_treat_nan_as_no_heat() -> None:
    indices = heat_indices(np.array([-1.0, 0.0, 0.5, 1.0, 2.0, np.nan]))
    assert indices.tolist() == [0, 0, 128, 255, 255, 0]


def test_overlay_leaves_cold_pixels_grey_and_colours_hot_ones() -> None:
    pixels = np.tile(np.linspace(0, 1000, 40, dtype=np.float32), (30, 1))
    heat = np.zeros((30, 40), dtype=np.float32)
    heat[10:20, 10:20] = 1.0
    picture = overlay_rgb(pixels, heat, opacity=0.6)
    assert picture.shape == (30, 40, 3) and picture.dtype == np.uint8
    cold = picture[0]
    assert np.all(cold[:, 0] == cold[:, 1]) and np.all(cold[:, 1] == cold[:, 2])
    hot = picture[15, 15].astype(int)
    assert hot[0] > hot[2]  # inferno's hot end is yellow-white, red above blue
    assert not np.array_equal(picture[15, 15], overlay_rgb(pixels, heat, opacity=0.0)[15, 15])
    with pytest.raises(ValueError, match="differ in shape"):
        overlay_rgb(pixels, heat[:, :10])


def test_the_colour_bar_runs_from_the_strongest_colour_down_and_leaves_the_image_alone() -> None:
    from spineview.core.heatmap import colour_bar, heat_lut, with_colour_bar

    bar = colour_bar(50, 6)
    assert bar.shape == (50, 6, 3) and bar.dtype == np.uint8
    assert tuple(bar[0, 0]) == tuple(heat_lut()[255, :3])
    assert tuple(bar[-1, 0]) == tuple(heat_lut()[0, :3])
    picture = np.full((40, 30, 3), 90, dtype=np.uint8)
    framed = with_colour_bar(picture, width=6, gap=2)
    assert framed.shape == (40, 30 + 2 + 6 + 2, 3)
    assert np.array_equal(framed[:, :30], picture)
    with pytest.raises(ValueError, match="positive size"):
        colour_bar(0)

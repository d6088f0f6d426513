"""Tests of spineview.core.windowing against DICOM PS3.3 C.11.2 and pydicom's own implementation.

Expected grey levels are worked out by hand from the standard's formulas and rounded to nearest,
halves up (the module's documented rule), so each assertion names exact bytes.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.pixels.processing import apply_voi_lut as pydicom_apply_voi_lut
from pydicom.pixels.processing import apply_windowing as pydicom_apply_windowing
from pydicom.sequence import Sequence

from spineview.core import windowing
from spineview.core.windowing import (
    VoiLut,
    WindowPreset,
    apply_preset,
    apply_voi_lut,
    apply_window,
    auto_window,
    needs_inversion,
    window_from_drag,
)

# Any RuntimeWarning (divide by zero, overflow, invalid cast of NaN) is a failure.
pytestmark = pytest.mark.filterwarnings("error")


def levels(values: list[float], *args: object, **kwargs: object) -> list[int]:
    """apply_window on a float32 list, as plain ints for readable comparisons."""
    out = apply_window(np.array(values, dtype=np.float32), *args, **kwargs)  # type: ignore[arg-type]
    assert out.dtype == np.uint8
    return [int(v) for v in out]


# --- LINEAR (C.11.2.1.2.1) ------------------------------------------------------------------


def test_linear_thresholds_and_midpoint_c40_w400() -> None:
    # c=40, w=400: bottom for x <= c - 0.5 - (w-1)/2 = -160, top for x > c - 0.5 + (w-1)/2 = 239,
    # in between y = ((x - 39.5) / 399 + 0.5) * 255.
    x = [-1000, -161, -160, -159.5, -159, 39, 39.5, 40, 238, 238.5, 239, 239.5, 5000]
    assert levels(x, 40, 400) == [
        0,  # far below
        0,  # below the threshold
        0,  # exactly the lower threshold -> 0
        0,  # y = 0.3195
        1,  # y = 0.639
        127,  # y = 127.18
        128,  # x = c - 0.5 is the midpoint, y = 127.5 exactly, rounded half up -> 128
        128,  # y = 127.82
        254,  # y = 254.36
        255,  # y = 254.68, still inside the window but rounds to 255
        255,  # exactly the upper threshold: y = 255
        255,  # above
        255,
    ]


def test_linear_narrow_window_shows_the_half_offset() -> None:
    # c=100, w=3: span w-1 = 2 around c-0.5 = 99.5, so the ramp runs from 98.5 to 100.5.
    assert levels([98, 98.5, 99, 99.5, 100, 100.5, 101], 100, 3) == [0, 0, 64, 128, 191, 255, 255]


@pytest.mark.parametrize("width", [1.0, 0.5, 0.0, -7.0])
def test_linear_width_below_one_is_a_step_at_center_minus_half(width: float) -> None:
    # Width 1 (and anything smaller, clamped to 1): x <= c - 0.5 -> 0, x > c - 0.5 -> 255.
    assert levels([9, 9.5, 9.75, 10, 11], 10, width) == [0, 0, 255, 255, 255]


def test_linear_width_just_above_one_does_not_blow_up() -> None:
    assert levels([-1e30, 9.5, 10, 1e30], 10, 1.0001) == [0, 128, 255, 255]


# --- LINEAR_EXACT (C.11.2.1.3.2) -------------------------------------------------------------


def test_linear_exact_thresholds_c40_w400() -> None:
    # Bottom for x <= c - w/2 = -160, top for x > c + w/2 = 240, else ((x - c)/w + 0.5) * 255.
    x = [-161, -160, -159, 39.5, 40, 239, 240, 241]
    assert levels(x, 40, 400, "LINEAR_EXACT") == [
        0,
        0,
        1,  # y = 0.6375
        127,  # y = 127.18 (LINEAR would give 128 here: no half offset in EXACT)
        128,  # x = c: y = 127.5 exactly -> 128
        254,  # y = 254.36
        255,  # y = 255 exactly at c + w/2
        255,
    ]


def test_linear_exact_narrow_window() -> None:
    assert levels([99, 99.5, 100, 100.5, 101], 100, 2, "LINEAR_EXACT") == [0, 64, 128, 191, 255]


@pytest.mark.parametrize("width", [0.0, -3.0, 1e-12])
def test_linear_exact_non_positive_width_is_a_step_at_center(width: float) -> None:
    assert levels([-np.inf, 99, 99.999, 100, 100.001, 101], 100, width, "LINEAR_EXACT") == [
        0,
        0,
        0,
        128,  # exactly c stays the midpoint
        255,
        255,
    ]


# --- SIGMOID (C.11.2.1.3.1) ------------------------------------------------------------------


def test_sigmoid_values() -> None:
    # y = 255 / (1 + exp(-4 (x - c) / w)); c=50, w=100.
    # x=50 -> 127.5 -> 128; x=100 -> 255/(1+e^-2) = 224.60 -> 225; x=0 -> 255/(1+e^2) = 30.40 -> 30.
    assert levels([50, 100, 0, -1e6, 1e6], 50, 100, "SIGMOID") == [128, 225, 30, 0, 255]


def test_sigmoid_is_monotone_and_symmetric() -> None:
    x = np.linspace(-500, 600, 2001, dtype=np.float32)
    y = apply_window(x, 50, 120, "SIGMOID").astype(int)
    assert np.all(np.diff(y) >= 0)
    assert y[0] == 0 and y[-1] == 255
    # 255/(1+e^-a) + 255/(1+e^a) == 255, and no value here rounds from an exact half.
    d = np.array([3, 17, 40, 90], dtype=np.float32)
    up = apply_window(50 + d, 50, 120, "SIGMOID").astype(int)
    down = apply_window(50 - d, 50, 120, "SIGMOID").astype(int)
    assert list(up + down) == [255] * 4


@pytest.mark.parametrize("width", [0.0, -1.0])
def test_sigmoid_non_positive_width_is_a_step(width: float) -> None:
    assert levels([-1e30, 49, 50, 51, 1e30], 50, width, "SIGMOID") == [0, 0, 128, 255, 255]


# --- behaviour common to all functions ---------------------------------------------------------


@pytest.mark.parametrize("function", ["LINEAR", "LINEAR_EXACT", "SIGMOID"])
def test_nan_and_inf(function: windowing.VoiFunction) -> None:
    # NaN renders as the bottom of the window; infinities as any value beyond it.
    assert levels([np.nan, np.inf, -np.inf], 40, 400, function) == [0, 255, 0]
    assert levels([np.nan, np.inf, -np.inf], 40, 400, function, invert=True) == [255, 0, 255]


@pytest.mark.parametrize("function", ["LINEAR", "LINEAR_EXACT", "SIGMOID"])
def test_invert_is_255_minus(function: windowing.VoiFunction) -> None:
    x = np.linspace(-3000, 3000, 6001, dtype=np.float32)
    plain = apply_window(x, 40, 400, function)
    inverted = apply_window(x, 40, 400, function, invert=True)
    assert inverted.dtype == np.uint8
    assert np.array_equal(inverted.astype(int), 255 - plain.astype(int))
    assert inverted[0] == 255 and inverted[-1] == 0


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int16, np.uint16, np.int32, np.uint8])
def test_input_dtypes_agree(dtype: type) -> None:
    x = np.arange(0, 250, dtype=np.int64)
    expected = apply_window(x.astype(np.float32), 120, 101)
    assert np.array_equal(apply_window(x.astype(dtype), 120, 101), expected)


def test_shape_and_dtype_preserved_for_3d_and_odd_inputs() -> None:
    rng = np.random.default_rng(1)
    volume = rng.normal(500, 200, size=(3, 7, 5)).astype(np.float32)
    out = apply_window(volume, 500, 300)
    assert out.shape == (3, 7, 5) and out.dtype == np.uint8
    for k in range(3):
        assert np.array_equal(out[k], apply_window(volume[k], 500, 300))
    # A transposed (non-contiguous) view, a 0-d value, an empty array, a Python list.
    assert np.array_equal(apply_window(volume.T, 500, 300), out.T)
    scalar = apply_window(np.float32(500), 500, 300)
    assert scalar.shape == () and int(scalar) == 128
    assert apply_window(np.zeros((0, 4)), 1, 2).shape == (0, 4)
    assert apply_window([[0, 1000]], 500, 300).tolist() == [[0, 255]]


def test_blocks_cover_the_whole_volume(monkeypatch: pytest.MonkeyPatch) -> None:
    # Shrink the block so that a small volume goes through several blocks, the last one partial.
    rng = np.random.default_rng(2)
    volume = rng.uniform(-100, 1100, size=(7, 6, 5)).astype(np.float32)
    lut = VoiLut(first_mapped=-50, bits=8, data=np.arange(0, 256))
    whole = [
        apply_window(volume, 500, 600),
        apply_window(volume, 500, 600, "SIGMOID"),
        apply_voi_lut(volume, lut),
    ]
    monkeypatch.setattr(windowing, "_BLOCK_VALUES", 45)  # 1.5 rows of 30 values
    blocked = [
        apply_window(volume, 500, 600),
        apply_window(volume, 500, 600, "SIGMOID"),
        apply_voi_lut(volume, lut),
    ]
    for a, b in zip(whole, blocked, strict=True):
        assert np.array_equal(a, b)


def test_input_is_not_modified() -> None:
    x = np.array([[np.nan, -5.0, 300.0]], dtype=np.float32)
    before = x.copy()
    apply_window(x, 40, 400, invert=True)
    apply_voi_lut(x, VoiLut(0, 8, np.arange(256)))
    assert np.array_equal(x, before, equal_nan=True)


def test_apply_preset_uses_its_function() -> None:
    x = np.array([39.5, 40], dtype=np.float32)
    exact = WindowPreset(center=40, width=400, name="exact", function="LINEAR_EXACT")
    assert apply_preset(x, exact).tolist() == [127, 128]
    assert apply_preset(x, WindowPreset(40, 400)).tolist() == [128, 128]
    assert apply_preset(x, exact, invert=True).tolist() == [128, 127]


def test_bad_arguments_raise() -> None:
    with pytest.raises(ValueError, match="VOI LUT Function"):
        apply_window(np.zeros(3), 1, 2, "GAMMA")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="finite"):
        apply_window(np.zeros(3), float("nan"), 2)
    with pytest.raises(ValueError, match="finite"):
        apply_window(np.zeros(3), 1, float("inf"))


def test_window_preset_is_a_frozen_value() -> None:
    preset = WindowPreset(40, 400)
    assert (preset.name, preset.function) == ("", "LINEAR")
    assert preset == WindowPreset(40.0, 400.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        preset.width = 1  # type: ignore[misc]


# --- agreement with pydicom ---------------------------------------------------------------------


def _mono_dataset(center: float, width: float, function: str) -> Dataset:
    ds = Dataset()
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsStored = 8
    ds.PixelRepresentation = 0  # output range 0..255 in pydicom, as ours
    ds.WindowCenter = center
    ds.WindowWidth = width
    ds.VOILUTFunction = function
    return ds


@pytest.mark.parametrize(
    ("center", "width", "function"),
    [
        (100.0, 51.0, "LINEAR"),
        (60.5, 200.0, "LINEAR"),
        (100.0, 51.0, "LINEAR_EXACT"),
        (130.0, 77.0, "SIGMOID"),
    ],
)
def test_matches_pydicom_apply_windowing(center: float, width: float, function: str) -> None:
    x = np.arange(0, 256, dtype=np.uint8).reshape(16, 16)
    reference = pydicom_apply_windowing(x, _mono_dataset(center, width, function))
    expected = np.floor(reference + 0.5)
    ours = apply_window(x, center, width, function)  # type: ignore[arg-type]
    # float32 vs float64 may only disagree where pydicom sits on a rounding tie.
    ties = np.abs(reference - np.floor(reference) - 0.5) < 1e-3
    assert np.array_equal(ours[~ties], expected[~ties])
    assert np.all(np.abs(ours[ties].astype(int) - expected[ties]) <= 1)


def test_matches_pydicom_apply_voi_lut() -> None:
    item = Dataset()
    lut_data = [(7 * i) % 256 for i in range(40)]
    item.LUTDescriptor = [len(lut_data), 20, 8]
    item.add(DataElement(0x00283006, "US", lut_data))  # LUT Data
    ds = Dataset()
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.VOILUTSequence = Sequence([item])
    x = np.arange(0, 100, dtype=np.uint16).reshape(10, 10)  # below, inside and above the LUT

    reference = pydicom_apply_voi_lut(x, ds)
    ours = apply_voi_lut(x, VoiLut(first_mapped=20, bits=8, data=np.array(lut_data)))
    assert np.array_equal(ours, reference)  # 8-bit LUT: output levels are the LUT values


# --- VOI LUT -----------------------------------------------------------------------------------


def test_voi_lut_lookup_below_inside_above() -> None:
    lut = VoiLut(first_mapped=100, bits=8, data=np.array([10, 20, 30, 40]))
    x = np.array([-5, 99, 100, 101, 102, 103, 104, 1e9], dtype=np.float32)
    assert apply_voi_lut(x, lut).tolist() == [10, 10, 10, 20, 30, 40, 40, 40]


def test_voi_lut_rounds_float_input_to_nearest() -> None:
    lut = VoiLut(first_mapped=100, bits=8, data=np.array([10, 20, 30, 40]))
    x = np.array([100.49, 100.5, 101.2, 101.9999, 102.5, np.nan], dtype=np.float32)
    # 100.5 and 102.5 round half up (to 101 and 103); NaN takes the first entry.
    assert apply_voi_lut(x, lut).tolist() == [10, 20, 20, 30, 40, 10]


def test_voi_lut_negative_first_mapped() -> None:
    lut = VoiLut(first_mapped=-2, bits=8, data=np.array([0, 100, 200]))
    assert apply_voi_lut(np.array([-3, -2, -1, 0, 1]), lut).tolist() == [0, 0, 100, 200, 200]


def test_voi_lut_16_bit_scaled_to_8() -> None:
    lut = VoiLut(first_mapped=0, bits=16, data=np.array([0, 257, 32768, 65535]))
    # 65535 -> 255 (the declared range); 257 -> 1; 32768 -> 127.5... -> 128.
    assert apply_voi_lut(np.arange(4), lut).tolist() == [0, 1, 128, 255]


def test_voi_lut_declared_16_bit_with_12_bit_data_uses_data_max() -> None:
    # 65535 > 16 * 4095: the declared range would map 4095 to 16 (nearly black); scale to 4095.
    data = np.linspace(0, 4095, 4096).astype(np.uint16)
    lut = VoiLut(first_mapped=0, bits=16, data=data)
    out = apply_voi_lut(np.array([0, 2048, 4095, 9999]), lut)
    assert out.tolist() == [0, 128, 255, 255]  # 2048 * 255 / 4095 = 127.53


def test_voi_lut_no_fallback_when_data_uses_enough_of_the_range() -> None:
    # 65535 / 8000 is about 8: within the 16-fold tolerance, so the declared range is used.
    lut = VoiLut(first_mapped=0, bits=16, data=np.array([0, 8000]))
    assert apply_voi_lut(np.array([0, 1]), lut).tolist() == [0, 31]  # 8000*255/65535 = 31.13


def test_voi_lut_all_zero_data_and_invert() -> None:
    lut = VoiLut(first_mapped=0, bits=12, data=np.zeros(16, dtype=np.uint16))
    assert apply_voi_lut(np.arange(20), lut).tolist() == [0] * 20
    assert apply_voi_lut(np.arange(20), lut, invert=True).tolist() == [255] * 20


def test_voi_lut_output_shape_dtype_3d() -> None:
    lut = VoiLut(first_mapped=0, bits=8, data=np.arange(256))
    volume = np.arange(2 * 3 * 4, dtype=np.int16).reshape(2, 3, 4)
    out = apply_voi_lut(volume, lut)
    assert out.dtype == np.uint8 and out.shape == (2, 3, 4)
    assert np.array_equal(out, volume)


def test_voi_lut_validates_and_owns_its_data() -> None:
    source = np.array([1, 2, 3])
    lut = VoiLut(first_mapped=0, bits=8, data=source)
    source[0] = 99
    assert lut.data.tolist() == [1, 2, 3]
    assert not lut.data.flags.writeable
    # Identity equality: hashable, usable as a cache key, and never an ambiguous array comparison.
    assert lut in {lut}
    assert lut != VoiLut(0, 8, np.array([1, 2, 3]))
    with pytest.raises(ValueError, match="1-D"):
        VoiLut(0, 8, np.zeros((2, 2), dtype=int))
    with pytest.raises(ValueError, match="1-D"):
        VoiLut(0, 8, np.array([], dtype=int))
    with pytest.raises(ValueError, match="integers"):
        VoiLut(0, 8, np.array([0.5, 1.0]))
    with pytest.raises(ValueError, match="bits"):
        VoiLut(0, 0, np.array([1]))


# --- auto_window -------------------------------------------------------------------------------


def _mr_like(background_fraction: float, shape: tuple[int, ...] = (256, 256)) -> np.ndarray:
    """Tissue values 300..900 with a fraction of exact-zero background."""
    rng = np.random.default_rng(3)
    image = rng.uniform(300, 900, size=shape).astype(np.float32)
    image[rng.random(shape) < background_fraction] = 0.0
    return image


def test_auto_window_ignores_zero_background() -> None:
    image = _mr_like(0.6)
    preset = auto_window(image)
    assert preset.name == "Auto" and preset.function == "LINEAR"
    low, high = preset.center - preset.width / 2, preset.center + preset.width / 2
    # Percentiles 0.5/99.5 of uniform 300..900 are 303 and 897; over all values low would be 0.
    assert 300 <= low <= 310
    assert 890 <= high <= 900
    assert preset.center == pytest.approx(600, abs=5)


def test_auto_window_mostly_background_uses_all_values() -> None:
    # Only 2 % of the values are above the minimum: too few to drop the minimum.
    image = np.zeros((100, 100), dtype=np.float32)
    image[:2] = 1000.0
    preset = auto_window(image)
    assert (preset.center, preset.width) == (500.0, 1000.0)


def test_auto_window_constant_image() -> None:
    preset = auto_window(np.full((8, 8), 42.0))
    assert (preset.center, preset.width) == (42.0, 1.0)
    assert apply_preset(np.full((8, 8), 42.0), preset).tolist() == [[255] * 8] * 8


def test_auto_window_ignores_nan_and_inf() -> None:
    image = _mr_like(0.6)
    dirty = image.copy()
    dirty[::7, ::3] = np.nan
    dirty[1::11, ::5] = np.inf
    dirty[2::13, ::2] = -np.inf
    clean = dirty[np.isfinite(dirty)]
    assert auto_window(dirty) == auto_window(clean)
    assert auto_window(np.full(5, np.nan)) == WindowPreset(0.0, 1.0, "Auto")


def test_auto_window_percentiles_and_integers() -> None:
    ramp = np.arange(1, 1001, dtype=np.int16)  # no background: minimum 1 is a single value
    preset = auto_window(ramp, low_percentile=10, high_percentile=90)
    # Percentiles over 2..1000 (values above the minimum): 101.8 and 900.2.
    assert preset.center == pytest.approx(501.0)
    assert preset.width == pytest.approx(798.4)
    with pytest.raises(ValueError, match="percentiles"):
        auto_window(ramp, 90, 10)
    with pytest.raises(ValueError, match="percentiles"):
        auto_window(ramp, -1, 50)


def test_auto_window_samples_large_volumes() -> None:
    volume = _mr_like(0.6, shape=(20, 256, 256))  # 1.3 M values: sampled, not copied
    preset = auto_window(volume)
    full = volume[volume > 0]
    low, high = np.percentile(full, [0.5, 99.5])
    assert preset.center == pytest.approx((low + high) / 2, abs=5)
    assert preset.width == pytest.approx(high - low, abs=10)


# --- small helpers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("photometric", "expected"),
    [
        ("MONOCHROME1", True),
        ("MONOCHROME1 ", True),  # CS values may be space padded
        ("monochrome1", True),
        ("MONOCHROME2", False),
        ("RGB", False),
        ("PALETTE COLOR", False),
        ("", False),
    ],
)
def test_needs_inversion(photometric: str, expected: bool) -> None:
    assert needs_inversion(photometric) is expected


def test_window_from_drag() -> None:
    # Right widens, down raises the level (screen y grows downwards).
    assert window_from_drag(40, 400, dx=10, dy=0, sensitivity=2) == (40, 420)
    assert window_from_drag(40, 400, dx=0, dy=5, sensitivity=2) == (50, 400)
    assert window_from_drag(40, 400, dx=-3, dy=-4, sensitivity=0.5) == (38, 398.5)
    # The width never drops below 1, whatever the drag.
    assert window_from_drag(40, 400, dx=-1000, dy=0, sensitivity=1) == (40, 1.0)


@pytest.mark.parametrize(
    ("photometric", "shape", "expected"),
    [
        ("MONOCHROME2", "INVERSE", True),
        ("MONOCHROME2", "IDENTITY", False),
        ("MONOCHROME1", "INVERSE", True),  # the same statement twice: inverted once
        ("MONOCHROME1", "IDENTITY", True),
        ("MONOCHROME2", " inverse ", True),
    ],
)
def test_the_presentation_lut_shape_inverts_the_display(
    photometric: str, shape: str, expected: bool
) -> None:
    assert needs_inversion(photometric, shape) is expected

"""Window/level and VOI LUT: turn modality values into 8-bit display grey levels.

Everything here follows DICOM PS3.3 C.11.2 (VOI LUT module): the three VOI LUT functions of
C.11.2.1.2 / C.11.2.1.3 and the VOI LUT Sequence lookup, always producing ``uint8`` in 0..255.
Input is whatever the modality LUT (rescale) produced: float or integer arrays of any shape.

Why the block-wise loops: a whole series can be a 2000x512x512 float32 volume (2 GiB). Each
function works through the first axis in blocks of about a million values with one reused float32
scratch buffer, so the only full-size allocation is the ``uint8`` result (a quarter of the input).
A single 2-D slice is one block.

NaN in the input renders as the bottom of the window (black, white when inverted) rather than as
an arbitrary byte; +inf/-inf go to the top/bottom like any value beyond the window.

numpy only: no pydicom and no Qt, so the UI, the CLI and the tests share these functions.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, get_args

import numpy as np
import numpy.typing as npt

logger = logging.getLogger(__name__)

VoiFunction = Literal["LINEAR", "LINEAR_EXACT", "SIGMOID"]
"""The values of (0028,1056) VOI LUT Function; LINEAR is the default when the tag is absent."""

_VOI_FUNCTIONS: frozenset[str] = frozenset(get_args(VoiFunction))

_MIN_EXACT_WIDTH = 1e-6
"""LINEAR_EXACT and SIGMOID need width > 0; smaller widths are raised to this (a near-step)."""

_BLOCK_VALUES = 1 << 20
"""Values per block in the block-wise loops (4 MiB of float32 scratch)."""

_AUTO_SAMPLE_VALUES = 1_000_000
"""auto_window looks at no more than about this many values (a strided view, no copy)."""

_LUT_FALLBACK_RATIO = 16
"""A VOI LUT whose declared range exceeds its data max by more than this is rescaled to its data."""


@dataclass(frozen=True)
class WindowPreset:
    """A window: from the DICOM header, a built-in MR preset, or `auto_window`.

    `center` and `width` are in modality units (after rescale); `function` is the VOI LUT
    Function that the window is applied with.
    """

    center: float
    width: float
    name: str = ""
    function: VoiFunction = "LINEAR"


@dataclass(frozen=True, eq=False)
class VoiLut:
    """One item of a VOI LUT Sequence (0028,3010).

    `first_mapped` is LUT Descriptor value 2 (the first input value mapped), `bits` value 3
    (bits per entry), `data` the LUT Data. The number of entries is ``len(data)``: the loader
    resolves the descriptor's "0 means 65536" rule when it reads the data.

    `data` is copied into a read-only 1-D integer array, so a LUT cannot change under a view
    that caches it. Equality is identity (``eq=False``): comparing arrays field-wise would be
    ambiguous, and this keeps the LUT hashable.
    """

    first_mapped: int
    bits: int
    data: npt.NDArray[np.integer[Any]]
    explanation: str = ""

    def __post_init__(self) -> None:
        data = np.array(self.data, copy=True)
        if data.ndim != 1 or data.size == 0:
            raise ValueError(f"VOI LUT data must be a non-empty 1-D array, got shape {data.shape}")
        if not np.issubdtype(data.dtype, np.integer):
            raise ValueError(f"VOI LUT data must be integers, got dtype {data.dtype}")
        if self.bits < 1:
            raise ValueError(f"VOI LUT bits per entry must be at least 1, got {self.bits}")
        data.setflags(write=False)
        object.__setattr__(self, "data", data)


def apply_window(
    values: npt.ArrayLike,
    center: float,
    width: float,
    function: VoiFunction = "LINEAR",
    invert: bool = False,
) -> npt.NDArray[np.uint8]:
    """Map `values` through a window to display levels 0..255 (``uint8``, same shape).

    The formulas are the standard's (PS3.3 C.11.2.1.2.1 and C.11.2.1.3), with output range
    0..255. Widths the standard forbids are clamped instead of raising, because a bad header or
    a fast mouse drag must never stop the image from drawing: LINEAR needs width >= 1 (width 1
    is a step at ``center - 0.5``), LINEAR_EXACT and SIGMOID need width > 0.

    Rounding is to nearest, halves up (``floor(y + 0.5)``), so the LINEAR midpoint
    ``x = center - 0.5`` (y = 127.5) gives 128. `invert` maps y to 255 - y afterwards
    (MONOCHROME1, or the user's invert toggle).
    """
    if function not in _VOI_FUNCTIONS:
        raise ValueError(
            f"unknown VOI LUT Function {function!r}; expected one of {sorted(_VOI_FUNCTIONS)}"
        )
    if not (math.isfinite(center) and math.isfinite(width)):
        raise ValueError(f"window center and width must be finite, got {center}, {width}")
    center = float(center)
    width = float(width)
    kernel: Callable[[npt.NDArray[Any], npt.NDArray[np.float32]], None]

    if function == "LINEAR" and width <= 1.0:
        threshold = center - 0.5

        def kernel(block: npt.NDArray[Any], scratch: npt.NDArray[np.float32]) -> None:
            # Width 1: every value is either <= c - 0.5 (bottom) or above it (top).
            np.greater(block, threshold, out=scratch)
            np.multiply(scratch, 255.0, out=scratch)
            np.add(scratch, 0.5, out=scratch)

    elif function in ("LINEAR", "LINEAR_EXACT"):
        # y = ((x - mid) / span + 0.5) * 255, written as (x - mid) * scale + 127.5 so that the
        # midpoint is exactly 127.5 in float32; 0.5 more makes the final truncation a rounding.
        if function == "LINEAR":
            mid, span = center - 0.5, width - 1.0
        else:
            mid, span = center, max(width, _MIN_EXACT_WIDTH)
        scale = 255.0 / span

        def kernel(block: npt.NDArray[Any], scratch: npt.NDArray[np.float32]) -> None:
            np.subtract(block, mid, out=scratch, dtype=np.float32)
            np.multiply(scratch, scale, out=scratch)
            np.add(scratch, 128.0, out=scratch)

    else:  # SIGMOID
        factor = -4.0 / max(width, _MIN_EXACT_WIDTH)

        def kernel(block: npt.NDArray[Any], scratch: npt.NDArray[np.float32]) -> None:
            # y = 255 / (1 + exp(-4 (x - c) / w)); exp overflows to inf far below the centre,
            # which correctly gives 0.
            np.subtract(block, center, out=scratch, dtype=np.float32)
            np.multiply(scratch, factor, out=scratch)
            np.exp(scratch, out=scratch)
            np.add(scratch, 1.0, out=scratch)
            np.divide(255.0, scratch, out=scratch)
            np.add(scratch, 0.5, out=scratch)

    def to_levels(block: npt.NDArray[Any], scratch: npt.NDArray[np.float32]) -> None:
        with np.errstate(over="ignore"):  # far outside a narrow window: inf, then clamped
            kernel(block, scratch)
        # scratch holds y + 0.5; fmax/fmin (unlike clip) also turn NaN into the bottom value.
        np.fmax(scratch, 0.5, out=scratch)
        np.fmin(scratch, 255.5, out=scratch)

    return _map_blocks(np.asarray(values), to_levels, invert)


def apply_preset(
    values: npt.ArrayLike, preset: WindowPreset, invert: bool = False
) -> npt.NDArray[np.uint8]:
    """Apply a `WindowPreset` (its center, width and function): see `apply_window`."""
    return apply_window(values, preset.center, preset.width, preset.function, invert)


def apply_voi_lut(
    values: npt.ArrayLike, lut: VoiLut, invert: bool = False
) -> npt.NDArray[np.uint8]:
    """Map `values` through a VOI LUT Sequence item to display levels 0..255 (``uint8``).

    Values are rounded to the nearest integer first (halves up; they are float after the
    modality LUT). Values below `first_mapped` take ``data[0]``, values at or beyond the last
    entry take ``data[-1]``, NaN takes ``data[0]``. The LUT's output range 0..2**bits-1 is then
    scaled to 0..255, with one fallback for files seen in the wild that declare 16 bits per entry
    but hold 12-bit data: when ``2**bits - 1`` exceeds the data maximum more than 16-fold, the
    data maximum is used instead, otherwise the image would render almost black.
    """
    levels = _lut_levels(lut)
    last_index = float(len(levels) - 1)
    # Integer first_mapped: floor(x + 0.5) - first == floor(x - (first - 0.5)), exact in float32
    # for any LUT index range the standard allows (at most 65536 entries).
    offset = float(lut.first_mapped) - 0.5

    def lookup(block: npt.NDArray[Any], scratch: npt.NDArray[np.float32]) -> None:
        # Index = x - first + 0.5 clamped to the table (NaN to 0); truncating that non-negative
        # value is the floor. The intp index array is the one extra block-sized temporary.
        np.subtract(block, offset, out=scratch, dtype=np.float32)
        np.fmax(scratch, 0.0, out=scratch)
        np.fmin(scratch, last_index, out=scratch)
        np.take(levels, scratch.astype(np.intp), out=scratch)
        np.add(scratch, 0.5, out=scratch)

    return _map_blocks(np.asarray(values), lookup, invert)


def auto_window(
    values: npt.ArrayLike, low_percentile: float = 0.5, high_percentile: float = 99.5
) -> WindowPreset:
    """Choose a LINEAR window spanning the given percentiles of the finite values (name "Auto").

    MR slices are mostly air at the minimum (often exactly 0): percentiles over everything would
    pull the window down to the background. So when at least 5 % of the finite values lie above
    the minimum, only those are counted. Large arrays are sampled on a regular strided grid of
    about a million values (a view, no copy). Width is at least 1, so a constant image still gives
    a valid window centred on its value; an array with no finite values gives center 0, width 1.
    """
    if not 0.0 <= low_percentile < high_percentile <= 100.0:
        raise ValueError(
            "percentiles must satisfy 0 <= low < high <= 100, "
            f"got {low_percentile}, {high_percentile}"
        )
    sample = _strided_sample(np.asarray(values), _AUTO_SAMPLE_VALUES)
    finite = sample[np.isfinite(sample)]
    if finite.size == 0:
        return WindowPreset(center=0.0, width=1.0, name="Auto")
    above_min = finite[finite > finite.min()]
    counted = above_min if above_min.size >= 0.05 * finite.size else finite
    low, high = (float(v) for v in np.percentile(counted, [low_percentile, high_percentile]))
    return WindowPreset(center=(high + low) / 2.0, width=max(high - low, 1.0), name="Auto")


def needs_inversion(photometric: str, presentation_lut_shape: str = "") -> bool:
    """True where the lowest value is displayed white: MONOCHROME1 (PS3.3 C.7.6.3.1.2), or a
    Presentation LUT Shape of INVERSE (C.11.6). For MONOCHROME1 the two say the same thing
    (its IODs ask for INVERSE there), so they never cancel out."""
    monochrome1 = photometric.strip().upper() == "MONOCHROME1"
    return monochrome1 or presentation_lut_shape.strip().upper() == "INVERSE"


def window_from_drag(
    center: float, width: float, dx: float, dy: float, sensitivity: float
) -> tuple[float, float]:
    """New ``(center, width)`` after a right-button drag of (dx, dy) screen pixels.

    Horizontal movement sets the width (right widens, less contrast), vertical movement the
    level: dragging down (positive dy in screen coordinates, y grows downwards) raises the
    center, which darkens the image, as in most clinical viewers. `sensitivity` is modality units
    per pixel; the width never goes below 1, the LINEAR minimum.
    """
    return center + dy * sensitivity, max(width + dx * sensitivity, 1.0)


def _lut_levels(lut: VoiLut) -> npt.NDArray[np.float32]:
    """The LUT's entries scaled to display levels 0..255 (float, rounded at the end)."""
    declared_max = max(2**lut.bits - 1, 1)
    data_max = int(lut.data.max())
    output_max = declared_max
    if data_max > 0 and declared_max > _LUT_FALLBACK_RATIO * data_max:
        logger.debug(
            "VOI LUT declares %d bits but its data only reaches %d: scaling to the data",
            lut.bits,
            data_max,
        )
        output_max = data_max
    levels: npt.NDArray[np.float64] = lut.data.astype(np.float64) * (255.0 / output_max)
    np.clip(levels, 0.0, 255.0, out=levels)
    return levels.astype(np.float32)


def _map_blocks(
    values: npt.NDArray[Any],
    fill: Callable[[npt.NDArray[Any], npt.NDArray[np.float32]], None],
    invert: bool,
) -> npt.NDArray[np.uint8]:
    """Run `fill` over `values` in blocks along axis 0 and cast its result to ``uint8``.

    `fill(block, scratch)` writes ``level + 0.5`` with level in [0, 255] into the float32
    `scratch` of the block's shape; the cast truncates, which makes that a rounding. With
    `invert` the levels are then mapped to 255 - level.
    """
    if values.ndim == 0:
        return _map_blocks(values.reshape(1), fill, invert).reshape(())
    out = np.empty(values.shape, dtype=np.uint8)
    if values.size == 0:
        return out
    per_row = values.size // values.shape[0]
    rows_per_block = max(1, _BLOCK_VALUES // max(per_row, 1))
    buffer = np.empty(min(values.shape[0], rows_per_block) * per_row, dtype=np.float32)
    for start in range(0, values.shape[0], rows_per_block):
        block = values[start : start + rows_per_block]
        scratch = buffer[: block.size].reshape(block.shape)
        fill(block, scratch)
        out[start : start + rows_per_block] = scratch
    if invert:
        np.subtract(np.uint8(255), out, out=out)
    return out


def _strided_sample(values: npt.NDArray[Any], limit: int) -> npt.NDArray[Any]:
    """A view of `values` taking every k-th element along each axis, about `limit` in all."""
    if values.size <= limit or values.ndim == 0:
        return values
    step = math.ceil((values.size / limit) ** (1.0 / values.ndim))
    return values[(slice(None, None, step),) * values.ndim]

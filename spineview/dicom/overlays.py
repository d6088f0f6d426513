"""DICOM overlay planes (groups 6000–601E): bit masks drawn over the image (PS3.3 C.9.2/C.9.3).

Each plane becomes, per image frame, a bool mask on the image's own pixel grid: placed at its
OverlayOrigin (1-based row\\column, may be negative), clipped to the image. Overlay Data is
unpacked by pydicom (`get_overlay_array`); old files that keep the overlay in unused high bits
of the pixel data (OverlayBitPosition > 0, no Overlay Data) are read from the native pixel
bytes. A damaged plane (wrong length, missing size, origin outside the image) is left out with a
note naming the file and the group; it never stops the image from loading.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset
from pydicom.overlays import get_overlay_array

from spineview.dicom.failures import capture_pydicom_warnings, kind_of

logger = logging.getLogger(__name__)

OVERLAY_GROUPS = tuple(range(0x6000, 0x6020, 2))
"""The repeating groups an overlay plane may use (PS3.5 7.6)."""
_DATA, _ROWS, _COLUMNS, _FRAMES, _ORIGIN, _FRAME_ORIGIN = 0x3000, 0x10, 0x11, 0x15, 0x50, 0x51
_BITS_ALLOCATED, _BIT_POSITION = 0x100, 0x102


@dataclass(frozen=True)
class OverlayPlane:
    """One overlay group of a file: its frames of bits and where they sit on the image."""

    group: int
    bits: np.ndarray
    """(overlay frames, overlay rows, overlay columns) bool."""
    origin: tuple[int, int]
    """Row and column of the overlay's first pixel on the image, 0-based (may be negative)."""
    first_frame: int = 0
    """The image frame (0-based) the overlay's first frame belongs to (ImageFrameOrigin − 1)."""

    def mask(self, frame: int, shape: tuple[int, int]) -> np.ndarray | None:
        """Image frame `frame`'s mask on an image of `shape`, or None when no overlay frame
        belongs to it."""
        number = frame - self.first_frame if len(self.bits) > 1 or self.first_frame else 0
        if not 0 <= number < len(self.bits):
            return None
        return place(self.bits[number], self.origin, shape)


@dataclass
class FileOverlays:
    """The usable overlay planes of one file, and a note for each plane that is not."""

    planes: list[OverlayPlane] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def masks(self, frame: int, shape: tuple[int, int]) -> dict[int, np.ndarray]:
        """Group → mask of image frame `frame` (groups without a mask there are left out)."""
        masks = {}
        for plane in self.planes:
            mask = plane.mask(frame, shape)
            if mask is not None and mask.any():
                masks[plane.group] = mask
        return masks


def place(bits: np.ndarray, origin: tuple[int, int], shape: tuple[int, int]) -> np.ndarray:
    """`bits` placed at 0-based `origin` (row, column) on a False image of `shape`, clipped."""
    mask = np.zeros(shape, dtype=bool)
    top, left = origin
    rows, cols = bits.shape
    r0, c0 = max(top, 0), max(left, 0)
    r1, c1 = min(top + rows, shape[0]), min(left + cols, shape[1])
    if r0 < r1 and c0 < c1:
        mask[r0:r1, c0:c1] = bits[r0 - top : r1 - top, c0 - left : c1 - left]
    return mask


def overlay_groups(ds: Dataset) -> list[int]:
    """The overlay groups `ds` has any element of."""
    present = {tag.group for tag in list(ds.keys()) if 0x6000 <= tag.group <= 0x601E}
    return [group for group in OVERLAY_GROUPS if group in present]


def read_overlays(ds: Dataset, path: Path, shape: tuple[int, int]) -> FileOverlays:
    """The overlay planes of `ds` (the file at `path`, images of `shape` rows × columns)."""
    found = FileOverlays()
    for group in overlay_groups(ds):
        try:
            found.planes.append(_plane(ds, group, shape))
        except _Damaged as damage:
            found.notes.append(f"{path}: overlay {group:04X} not shown: {damage}")
            logger.warning("overlay %04X not shown (%s): %s", group, damage, path.name)
        except Exception as error:  # pydicom converts values lazily; any of them may be bad
            found.notes.append(f"{path}: overlay {group:04X} cannot be read ({kind_of(error)})")
            logger.warning("overlay %04X unreadable (%s): %s", group, kind_of(error), path.name)
    return found


class _Damaged(Exception):
    """Why one overlay plane cannot be drawn (the message is the user's reason)."""


def _plane(ds: Dataset, group: int, shape: tuple[int, int]) -> OverlayPlane:
    rows, columns = _positive(ds, group, _ROWS, "rows"), _positive(ds, group, _COLUMNS, "columns")
    origin = _pair(ds, group, _ORIGIN, default=(1, 1))
    top, left = origin[0] - 1, origin[1] - 1
    if top >= shape[0] or left >= shape[1] or top + rows <= 0 or left + columns <= 0:
        raise _Damaged(
            f"its origin (row {origin[0]}, column {origin[1]}) puts it outside the "
            f"{shape[0]}×{shape[1]} image"
        )
    frames = _positive(ds, group, _FRAMES, "frames", default=1)
    first_frame = _positive(ds, group, _FRAME_ORIGIN, "image frame origin", default=1) - 1
    if (group, _DATA) in ds:
        bits = _unpacked(ds, group, rows, columns, frames)
    else:
        bits = _embedded(ds, group, rows, columns, frames, shape)
    return OverlayPlane(group, bits, (top, left), first_frame)


def _unpacked(ds: Dataset, group: int, rows: int, columns: int, frames: int) -> np.ndarray:
    bits_allocated = _integer(ds, group, _BITS_ALLOCATED, default=1)
    if bits_allocated != 1:
        raise _Damaged(f"Overlay Data with {bits_allocated} bits allocated (expected 1)")
    element = ds[group, _DATA]
    data = element.value
    if not isinstance(data, bytes):
        raise _Damaged("Overlay Data is not a byte string")
    expected = -(-rows * columns * frames // 8)
    if len(data) < expected:
        raise _Damaged(
            f"Overlay Data holds {len(data)} bytes; {rows}×{columns}×{frames} needs {expected}"
        )
    if element.VR == "OW" and not _little_endian(ds):  # big endian words: bytes swapped
        swapped = np.frombuffer(data[: expected + expected % 2], ">u2").astype("<u2")
        array = np.unpackbits(swapped.view(np.uint8), bitorder="little")[: rows * columns * frames]
    else:
        try:
            with capture_pydicom_warnings():
                array = get_overlay_array(ds, group)
        except (ValueError, AttributeError, TypeError) as error:
            raise _Damaged(f"Overlay Data cannot be unpacked ({type(error).__name__})") from error
    return np.asarray(array, dtype=bool).reshape(frames, rows, columns)


def _embedded(
    ds: Dataset, group: int, rows: int, columns: int, frames: int, shape: tuple[int, int]
) -> np.ndarray:
    """An overlay kept in bit `OverlayBitPosition` of native 16-bit pixel data (retired)."""
    position = _integer(ds, group, _BIT_POSITION, default=0)
    bits_allocated = _integer(ds, group, _BITS_ALLOCATED, default=1)
    if bits_allocated == 1 or position <= 0:
        raise _Damaged("no Overlay Data")
    if _integer(ds, 0x0028, 0x0100, default=0) != 16 or position > 15:
        raise _Damaged(f"overlay in pixel bit {position}, but the pixels are not 16-bit")
    pixels = ds.get("PixelData")
    syntax = ds.file_meta.get("TransferSyntaxUID") if hasattr(ds, "file_meta") else None
    if not isinstance(pixels, bytes) or (syntax is not None and syntax.is_compressed):
        raise _Damaged(f"overlay in pixel bit {position} of pixel data that is not native")
    if (rows, columns) != shape:
        raise _Damaged(
            f"overlay in pixel bits is {rows}×{columns}, the image {shape[0]}×{shape[1]}"
        )
    count = shape[0] * shape[1]
    image_frames = len(pixels) // (2 * count)
    if image_frames < frames:
        raise _Damaged(f"pixel data holds {image_frames} frames, the overlay {frames}")
    words = np.frombuffer(pixels[: frames * count * 2], "<u2" if _little_endian(ds) else ">u2")
    bits = (words >> position) & 1
    return bits.astype(bool).reshape(frames, rows, columns)


def _little_endian(ds: Dataset) -> bool:
    """How the file was encoded (a dataset built in memory counts as little endian)."""
    return ds.original_encoding[1] is not False


def _integer(ds: Dataset, group: int, element: int, *, default: int) -> int:
    item = ds.get((group, element))
    value = None if item is None else item.value
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        value = value[0] if len(value) else None
    if value in (None, ""):
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise _Damaged(f"({group:04X},{element:04X}) is not a number") from None


def _positive(ds: Dataset, group: int, element: int, name: str, *, default: int = 0) -> int:
    value = _integer(ds, group, element, default=default)
    if value <= 0:
        item = ds.get((group, element))
        missing = item is None or item.value in (None, "", b"")
        raise _Damaged(f"overlay {name} {'missing' if missing else f'is {value}'}")
    return value


def _pair(ds: Dataset, group: int, element: int, *, default: tuple[int, int]) -> tuple[int, int]:
    item = ds.get((group, element))
    value = None if item is None else item.value
    if value in (None, "", b""):
        return default
    try:
        numbers = [int(v) for v in value]
    except (TypeError, ValueError):
        raise _Damaged("overlay origin is not two numbers") from None
    if len(numbers) != 2:
        raise _Damaged("overlay origin is not two numbers")
    return numbers[0], numbers[1]

"""DICOM overlay planes: read, placed on the slice's pixel grid, damaged ones named."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset

from spineview.core.series import Series
from spineview.dicom.load import load_series
from spineview.dicom.overlays import read_overlays
from spineview.dicom.scan import scan_paths
from spineview.dicom.write import SeriesSpec, phantom_pixels, write_series
from tests.conftest import SHARED_DATA

SIEMENS = SHARED_DATA / "dicom-zoo/pydicom-data/MR-SIEMENS-DICOM-WithOverlays.dcm"
EXAMPLE = SHARED_DATA / "dicom-zoo/pydicom/examples_overlay.dcm"


def _load(paths: list[Path]) -> Series:
    result = scan_paths(paths)
    infos = [info for study in result.studies for info in study.series]
    assert len(infos) == 1
    return load_series(infos[0])


def _packed(bits: np.ndarray) -> bytes:
    data = np.packbits(bits.astype(np.uint8).ravel(), bitorder="little").tobytes()
    return data + b"\0" * (len(data) % 2)


def _add_overlay(
    ds: Dataset,
    bits: np.ndarray,
    *,
    group: int = 0x6000,
    origin: tuple[int, int] = (1, 1),
    data: bytes | None = None,
) -> None:
    """An overlay plane of `bits` (frames, rows, cols) or (rows, cols) at 1-based `origin`."""
    frames = bits.reshape(-1, *bits.shape[-2:])
    ds.add_new((group, 0x0010), "US", frames.shape[1])
    ds.add_new((group, 0x0011), "US", frames.shape[2])
    ds.add_new((group, 0x0040), "CS", "G")
    ds.add_new((group, 0x0050), "SS", list(origin))
    ds.add_new((group, 0x0100), "US", 1)
    ds.add_new((group, 0x0102), "US", 0)
    if bits.ndim == 3:
        ds.add_new((group, 0x0015), "IS", len(frames))
    ds.add_new((group, 0x3000), "OW", _packed(frames) if data is None else data)


def _edit(path: Path, change: object) -> None:
    ds = pydicom.dcmread(path)
    change(ds)  # type: ignore[operator]
    ds.save_as(path, enforce_file_format=True)


@pytest.mark.skipif(not SIEMENS.exists(), reason="shared corpus not present")
@pytest.mark.parametrize("path", [SIEMENS, EXAMPLE], ids=["siemens", "example"])
def test_corpus_overlay_matches_pydicom(path: Path) -> None:
    series = _load([path])
    expected = pydicom.dcmread(path).overlay_array(0x6000).astype(bool)
    assert series.overlay_groups == [0x6000]
    mask = series.overlays[0][0x6000]
    assert mask.shape == series.shape[1:] == expected.shape  # origin 1\1, the image's size
    np.testing.assert_array_equal(mask, expected)
    assert 200 < mask.sum() < 400  # a drawn outline, not a filled block
    assert not series.problems


def test_overlay_is_placed_at_its_origin_and_clipped(tmp_path: Path) -> None:
    spec = SeriesSpec(n_slices=2, rows=32, cols=40)
    paths = write_series(tmp_path, spec)
    bits = np.zeros((10, 12), dtype=bool)
    bits[0, :] = bits[:, 0] = True
    bits[9, 11] = True
    _edit(paths[1], lambda ds: _add_overlay(ds, bits, origin=(5, -3)))  # 3 columns off the left
    _edit(paths[1], lambda ds: _add_overlay(ds, bits, group=0x6002, origin=(28, 35)))
    series = _load(paths)
    assert series.overlays[0] == {}
    assert sorted(series.overlays[1]) == [0x6000, 0x6002]
    first = series.overlays[1][0x6000]
    expected = np.zeros((32, 40), dtype=bool)
    expected[4:14, 0:8] = bits[:, 4:]  # row 5 → index 4; column -3 → columns 0..7 are bits 4..11
    np.testing.assert_array_equal(first, expected)
    second = series.overlays[1][0x6002]
    assert second[27, 34:40].all() and second.sum() == bits[:5, :6].sum()  # bottom-right corner
    np.testing.assert_array_equal(series.volume[1], phantom_pixels(1, spec))
    assert not series.problems


def test_damaged_overlays_are_named_and_the_image_still_loads(tmp_path: Path) -> None:
    spec = SeriesSpec(n_slices=3, rows=16, cols=16)
    paths = write_series(tmp_path, spec)
    bits = np.ones((16, 16), dtype=bool)
    _edit(paths[0], lambda ds: _add_overlay(ds, bits, data=b"\xff" * 6))  # 32 bytes needed
    _edit(paths[1], lambda ds: _add_overlay(ds, bits, group=0x6004, origin=(40, 1)))
    _edit(paths[2], lambda ds: ds.add_new((0x6006, 0x3000), "OW", b"\x01\x02"))  # no size
    series = _load(paths)
    for index in range(3):
        np.testing.assert_array_equal(series.volume[index], phantom_pixels(index, spec))
    assert series.overlays == [{}, {}, {}]
    problems = "\n".join(series.problems)
    assert f"{paths[0]}: overlay 6000 not shown: Overlay Data holds 6 bytes" in problems
    assert f"{paths[1]}: overlay 6004 not shown: its origin (row 40, column 1)" in problems
    assert f"{paths[2]}: overlay 6006 not shown: overlay rows missing" in problems


def test_overlay_in_unused_pixel_bits(tmp_path: Path) -> None:
    """Retired form: the overlay is bit 12 of 12-bit-stored, 16-bit-allocated pixels."""
    spec = SeriesSpec(n_slices=1, rows=8, cols=8)
    paths = write_series(tmp_path, spec)
    bits = np.eye(8, dtype=bool)

    def embed(ds: Dataset) -> None:
        pixels = np.frombuffer(ds.PixelData, "<u2").reshape(8, 8) | (bits.astype("<u2") << 12)
        ds.PixelData = pixels.astype("<u2").tobytes()
        ds.add_new((0x6000, 0x0010), "US", 8)
        ds.add_new((0x6000, 0x0011), "US", 8)
        ds.add_new((0x6000, 0x0050), "SS", [1, 1])
        ds.add_new((0x6000, 0x0100), "US", 16)
        ds.add_new((0x6000, 0x0102), "US", 12)

    _edit(paths[0], embed)
    series = _load(paths)
    np.testing.assert_array_equal(series.overlays[0][0x6000], bits)
    np.testing.assert_array_equal(series.volume[0], phantom_pixels(0, spec))  # bit 12 masked


def test_multi_frame_overlay_follows_image_frame_origin() -> None:
    ds = Dataset()
    frames = np.zeros((2, 4, 4), dtype=bool)
    frames[0, 0, 0] = frames[1, 3, 3] = True
    _add_overlay(ds, frames)
    ds.add_new((0x6000, 0x0051), "US", 3)  # overlay frame 1 belongs to image frame 3
    found = read_overlays(ds, Path("multi.dcm"), (4, 4))
    assert not found.notes
    assert found.masks(0, (4, 4)) == {} and found.masks(1, (4, 4)) == {}
    assert found.masks(2, (4, 4))[0x6000][0, 0] and found.masks(3, (4, 4))[0x6000][3, 3]
    assert found.masks(4, (4, 4)) == {}

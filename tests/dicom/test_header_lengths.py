"""PixelSpacing and SliceThickness that are not lengths are dropped from the header with a note,
so the file still loads (a `Series` refuses them)."""

from __future__ import annotations

from pathlib import Path

import pytest

from spineview.dicom.header import read_header
from spineview.dicom.load import load_series
from spineview.dicom.scan import scan_paths
from spineview.dicom.write import SeriesSpec, write_series


@pytest.mark.parametrize(
    ("spacing", "thickness", "notes"),
    [
        (
            [0.0, 0.0],
            0.0,
            [
                "invalid PixelSpacing ignored (not finite and above zero): 0\\0",
                "invalid SliceThickness ignored (not finite and above zero): 0",
            ],
        ),
        (
            [0.5, -0.5],
            -3.0,
            [
                "invalid PixelSpacing ignored (not finite and above zero): 0.5\\-0.5",
                "invalid SliceThickness ignored (not finite and above zero): -3",
            ],
        ),
    ],
)
def test_lengths_that_are_not_lengths_are_ignored_with_a_note(
    tmp_path: Path, spacing: list[float], thickness: float, notes: list[str]
) -> None:
    spec = SeriesSpec(n_slices=3, extra={"PixelSpacing": spacing, "SliceThickness": thickness})
    paths = write_series(tmp_path, spec)
    header = read_header(paths[0])
    assert header.pixel_spacing is None and header.slice_thickness is None
    assert [n for n in header.notes if n.startswith("invalid")] == notes
    (info,) = [s for study in scan_paths([tmp_path]).studies for s in study.series]
    series = load_series(info)
    assert series.pixel_spacing is None and series.slice_thickness is None
    assert set(notes) <= set(series.problems)


def test_valid_lengths_are_kept_without_a_note(tmp_path: Path) -> None:
    paths = write_series(tmp_path, SeriesSpec(n_slices=1))
    header = read_header(paths[0])
    assert header.pixel_spacing == (1.0, 1.0) and header.slice_thickness == 3.5
    assert not header.notes


def test_corpus_file_with_zero_pixel_spacing_loads(shared_data: Path) -> None:
    path = shared_data / "dicom-zoo/pydicom-data/RG1_J2KI.dcm"
    (info,) = [s for study in scan_paths([path]).studies for s in study.series]
    series = load_series(info)
    assert series.pixel_spacing is None
    assert "invalid PixelSpacing ignored (not finite and above zero): 0\\0" in series.problems

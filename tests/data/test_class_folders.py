"""The class-folder reader: classes, recursive files, DICOM sniffing, group ids, refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from spineview.data.class_folders import read_class_folders
from spineview.dicom.write import SeriesSpec, write_series
from spineview.errors import DatasetError

DICOM_LIKE = b"\0" * 128 + b"DICM" + b"\2\0\0\0UL\4\0" + b"\0" * 16


def touch_dicom(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(DICOM_LIKE)
    return path


def test_classes_files_and_groups(tmp_path: Path) -> None:
    root = tmp_path / "folders"
    write_series(root / "healthy" / "patient1" / "study", SeriesSpec(n_slices=2, rows=8, cols=8))
    touch_dicom(root / "healthy" / "img7.dcm")
    touch_dicom(root / "healthy" / "patient2" / "IM0001")  # no suffix: decided by content
    (root / "healthy" / "readme.txt").write_text("not an image")
    (root / "healthy" / "patient2" / "thumbs.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"\0" * 200)
    touch_dicom(root / "degenerative" / "patient3" / "a" / "b" / "x.dcm")
    touch_dicom(root / "degenerative" / ".hidden.dcm")
    touch_dicom(root / ".trash" / "y.dcm")  # hidden folder: not a class
    touch_dicom(root / "stray.dcm")  # a file in the root: not a class

    dataset = read_class_folders(root)

    assert dataset.class_names == ["degenerative", "healthy"]
    assert dataset.skipped_non_dicom == 2
    relative = {
        (e.path.relative_to(root).as_posix(), e.class_index, e.group_id) for e in dataset.examples
    }
    assert relative == {
        ("degenerative/patient3/a/b/x.dcm", 0, "patient3"),
        ("healthy/img7.dcm", 1, "img7"),
        ("healthy/patient1/study/1.dcm", 1, "patient1"),
        ("healthy/patient1/study/2.dcm", 1, "patient1"),
        ("healthy/patient2/IM0001", 1, "patient2"),
    }
    assert dataset.class_counts() == {"degenerative": 1, "healthy": 4}
    assert dataset.labels == [e.class_index for e in dataset.examples]
    assert dataset.groups == [e.group_id for e in dataset.examples]


def test_missing_root(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="folder not found") as caught:
        read_class_folders(tmp_path / "absent")
    assert str(tmp_path / "absent") in str(caught.value)


def test_one_class_is_not_enough(tmp_path: Path) -> None:
    touch_dicom(tmp_path / "healthy" / "a.dcm")
    touch_dicom(tmp_path / ".git" / "b.dcm")
    with pytest.raises(DatasetError, match=r"at least two class folders .* found healthy"):
        read_class_folders(tmp_path)


def test_a_class_without_dicom_files(tmp_path: Path) -> None:
    touch_dicom(tmp_path / "healthy" / "a.dcm")
    (tmp_path / "degenerative" / "p1").mkdir(parents=True)
    (tmp_path / "degenerative" / "p1" / "notes.txt").write_text("hello")
    with pytest.raises(DatasetError, match=r"no DICOM file \(1 non-DICOM files skipped\)") as e:
        read_class_folders(tmp_path)
    assert str(tmp_path / "degenerative") in str(e.value)

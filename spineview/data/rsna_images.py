"""List `train_images/<study_id>/<series_id>/<instance_number>.dcm` without opening any file.

One `os.scandir` per folder: about 2,000 studies (6,000 series, 150,000 files) list in well
under a second on a local disk. Instance numbers come from the file names, as in the RSNA layout.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from spineview.data.problems import ProblemLog
from spineview.data.rsna_tables import parse_id
from spineview.dicom.index import SeriesInfo


@dataclass(frozen=True)
class SeriesFolder:
    path: Path
    instance_numbers: tuple[int, ...]


def list_image_folders(
    images_root: Path, problems: ProblemLog
) -> dict[str, dict[str, SeriesFolder]]:
    """study_id → series_id → its folder and the instance numbers found there (sorted).

    Folders whose names are not whole numbers, stray files and empty series are problems.
    """
    if not images_root.is_dir():
        problems.add(images_root, "missing-file", "image folder not found")
        return {}
    studies: dict[str, dict[str, SeriesFolder]] = {}
    for entry in _entries(images_root, problems):
        study_id = _folder_id(entry, "study", problems)
        if study_id is not None:
            studies[study_id] = _list_study(Path(entry.path), problems)
    return studies


def instance_from_name(name: str) -> int | None:
    """`"12.dcm"` → 12; None for any other name (`"012.dcm"`, `"12.DCM.bak"`, `"IM12"`)."""
    stem, dot, suffix = name.rpartition(".")
    if not (dot and suffix.lower() == "dcm" and stem.isascii() and stem.isdigit()):
        return None
    if stem[0] == "0" and stem != "0":
        return None
    return int(stem)


def _list_study(folder: Path, problems: ProblemLog) -> dict[str, SeriesFolder]:
    series: dict[str, SeriesFolder] = {}
    for entry in _entries(folder, problems):
        series_id = _folder_id(entry, "series", problems)
        if series_id is not None:
            series[series_id] = _list_series(Path(entry.path), problems)
    return series


def _list_series(folder: Path, problems: ProblemLog) -> SeriesFolder:
    numbers = []
    for entry in _entries(folder, problems):
        number = instance_from_name(entry.name) if entry.is_file() else None
        if number is not None:
            numbers.append(number)
        elif entry.is_dir(follow_symlinks=False):
            problems.add(
                Path(entry.path),
                "unexpected-file",
                "folder inside a series folder is ignored",
                warning=True,
            )
        else:
            problems.add(
                Path(entry.path),
                "unexpected-file",
                "file name is not <instance number>.dcm; ignored",
                warning=True,
            )
    if not numbers:
        problems.add(folder, "empty-series", "series folder holds no <instance number>.dcm file")
    return SeriesFolder(folder, tuple(sorted(numbers)))


def _folder_id(entry: os.DirEntry[str], what: str, problems: ProblemLog) -> str | None:
    if not entry.is_dir():
        problems.add(
            Path(entry.path),
            "unexpected-file",
            f"a file where a {what} folder is expected; ignored",
            warning=True,
        )
        return None
    folder_id = parse_id(entry.name)
    if folder_id is None:
        problems.add(
            Path(entry.path), "bad-id", f"{what} folder name is not a whole number; ignored"
        )
    return folder_id


def _entries(folder: Path, problems: ProblemLog) -> list[os.DirEntry[str]]:
    """Visible entries of `folder`, sorted by name (hidden files such as .DS_Store skipped)."""
    try:
        with os.scandir(folder) as scan:
            entries = [entry for entry in scan if not entry.name.startswith(".")]
    except OSError as error:
        problems.add(folder, "unreadable", f"cannot list the folder ({error.strerror or error})")
        return []
    return sorted(entries, key=lambda entry: entry.name)


def rsna_ids(info: SeriesInfo) -> tuple[str, str]:
    """(study id, series id): the folder names of an RSNA tree, else the UIDs."""
    folder = info.files[0].parent if info.files else None
    if (
        folder is not None
        and folder.name.isdigit()
        and folder.parent.name.isdigit()
        and all(path.parent == folder for path in info.files)
    ):
        return folder.parent.name, folder.name
    return info.study_uid, info.series_uid

"""Read a folder of class folders: `<root>/<class>/**/<file>` (any file names, any depth).

Each visible immediate subfolder of `root` is a class (sorted by name, so class indices are
stable). Files are found recursively; a file is kept when its first 132 bytes look like DICOM
(the loader decides later whether it is a usable image), others are skipped and counted.
Hidden files and folders (names starting with ".") are ignored everywhere.

Each example carries a group id so that splits keep a patient's (or study's) images together:
the first folder under the class folder (`<class>/<patient>/.../x.dcm` → "patient"), or the
file stem when the file sits directly in the class folder (`<class>/img7.dcm` → "img7"). The
same folder name under two classes is the same group (the same patient, most likely).
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from spineview.dicom.fastparse import looks_like_dicom
from spineview.errors import DatasetError

logger = logging.getLogger(__name__)

SNIFF_BYTES = 132


@dataclass(frozen=True)
class ClassExample:
    path: Path
    class_index: int
    group_id: str


@dataclass
class ClassFolderDataset:
    root: Path
    class_names: list[str]
    examples: list[ClassExample]
    skipped_non_dicom: int = 0
    unreadable: list[Path] = field(default_factory=list)

    @property
    def labels(self) -> list[int]:
        return [example.class_index for example in self.examples]

    @property
    def groups(self) -> list[str]:
        return [example.group_id for example in self.examples]

    def class_counts(self) -> dict[str, int]:
        counts = Counter(example.class_index for example in self.examples)
        return {name: counts[index] for index, name in enumerate(self.class_names)}


def read_class_folders(root: Path) -> ClassFolderDataset:
    """Examples of every class folder under `root`; raises DatasetError when unusable.

    Unusable: `root` is not a folder, it has fewer than two class folders, or a class folder
    holds no DICOM-looking file.
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: folder not found")
    class_names = sorted(entry.name for entry in _visible(root) if entry.is_dir())
    if len(class_names) < 2:
        found = ", ".join(class_names) or "none"
        raise DatasetError(
            f"{root}: needs at least two class folders (one per class), found {found}"
        )
    dataset = ClassFolderDataset(root, class_names, [])
    for index, name in enumerate(class_names):
        before = len(dataset.examples)
        skipped_before = dataset.skipped_non_dicom
        _collect(root / name, index, dataset)
        if len(dataset.examples) == before:
            skipped = dataset.skipped_non_dicom - skipped_before
            detail = f" ({skipped} non-DICOM files skipped)" if skipped else ""
            raise DatasetError(f"{root / name}: class folder holds no DICOM file{detail}")
    logger.info(
        "class folders: %d classes, %d files, %d non-DICOM skipped",
        len(class_names),
        len(dataset.examples),
        dataset.skipped_non_dicom,
    )
    return dataset


def _collect(class_folder: Path, class_index: int, dataset: ClassFolderDataset) -> None:
    for directory, subdirs, names in os.walk(class_folder, followlinks=False):
        subdirs[:] = sorted(d for d in subdirs if not d.startswith("."))
        for name in sorted(names):
            path = Path(directory, name)
            if name.startswith(".") or not path.is_file():
                continue
            try:
                with path.open("rb") as stream:
                    prefix = stream.read(SNIFF_BYTES)
            except OSError:
                dataset.unreadable.append(path)
                continue
            if not looks_like_dicom(prefix):
                dataset.skipped_non_dicom += 1
                continue
            dataset.examples.append(ClassExample(path, class_index, _group_id(class_folder, path)))


def _group_id(class_folder: Path, path: Path) -> str:
    parts = path.relative_to(class_folder).parts
    return parts[0] if len(parts) > 1 else path.stem


def _visible(folder: Path) -> list[os.DirEntry[str]]:
    with os.scandir(folder) as entries:
        return [entry for entry in entries if not entry.name.startswith(".")]

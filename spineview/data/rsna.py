"""Read a folder in the RSNA 2024 lumbar layout (../shared/data/RSNA2024_FORMAT.md).

`read_rsna_dataset` joins train.csv, the series descriptions, the label coordinates and the
`train_images` tree into studies and series, and lists every problem it finds in
`RsnaDataset.problems` instead of stopping at the first. No DICOM file is opened here: instance
numbers come from the file names, so a 2,000-study download reads in about a second.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from spineview.data.problems import DatasetProblem, ProblemLog
from spineview.data.rsna_format import (
    CONDITIONS,
    COORDINATES_CSV,
    IMAGES_FOLDER,
    LABEL_COLUMNS,
    LEVELS,
    SERIES_DESCRIPTIONS,
    SERIES_DESCRIPTIONS_CSV,
    SERIES_FOR_CONDITION,
    SEVERITIES,
    TRAIN_CSV,
    label_column,
)
from spineview.data.rsna_images import SeriesFolder, list_image_folders
from spineview.data.rsna_tables import (
    CoordinateRow,
    DescribedSeries,
    LabelPoint,
    read_coordinates,
    read_labels,
    read_series_descriptions,
)
from spineview.errors import DatasetError

logger = logging.getLogger(__name__)

# The three condition families of the competition metric.
CONDITION_FAMILY: dict[str, str] = {
    "Spinal Canal Stenosis": "spinal",
    "Left Neural Foraminal Narrowing": "foraminal",
    "Right Neural Foraminal Narrowing": "foraminal",
    "Left Subarticular Stenosis": "subarticular",
    "Right Subarticular Stenosis": "subarticular",
}
FAMILIES: tuple[str, ...] = ("spinal", "foraminal", "subarticular")
MISSING_LABEL = "missing"
OTHER_SERIES = "other"


@dataclass(frozen=True)
class RsnaSeries:
    """One series folder: its type from the descriptions CSV ("" when not described)."""

    study_id: str
    series_id: str
    description: str
    folder: Path
    instance_numbers: tuple[int, ...]

    def file(self, instance_number: int) -> Path:
        """The file of a slice (`<folder>/<instance_number>.dcm`; it may not exist)."""
        return self.folder / f"{instance_number}.dcm"

    @property
    def files(self) -> list[Path]:
        return [self.file(number) for number in self.instance_numbers]


@dataclass
class RsnaStudy:
    """A study: its series (by series id) and its 25 labels (severity index or None)."""

    study_id: str
    folder: Path
    series: list[RsnaSeries] = field(default_factory=list)
    labels: dict[str, int | None] = field(default_factory=dict)
    labelled: bool = False  # False for an image folder without a train.csv row

    def series_by_id(self, series_id: str) -> RsnaSeries | None:
        return next((s for s in self.series if s.series_id == series_id), None)

    def series_of_type(self, description: str) -> list[RsnaSeries]:
        return [s for s in self.series if s.description == description]

    @property
    def known_labels(self) -> dict[str, int]:
        return {column: value for column, value in self.labels.items() if value is not None}

    @property
    def max_severity(self) -> int | None:
        """The worst known grade of the study (None when no label is known)."""
        return max(self.known_labels.values(), default=None)

    @property
    def all_labels_present(self) -> bool:
        return self.labelled and all(self.labels.get(c) is not None for c in LABEL_COLUMNS)


@dataclass(frozen=True)
class RsnaSummary:
    """Counts for a report: studies, series per type, grades per condition family."""

    studies: int
    labelled_studies: int
    series: int
    series_by_type: dict[str, int]
    slices: int
    coordinates: int
    label_counts: dict[str, dict[str, int]]  # family → grade (or "missing") → cells
    errors: int
    warnings: int

    def lines(self) -> list[str]:
        """The summary as short lines of text (what `spineview` prints)."""
        lines = [
            f"studies: {self.studies} ({self.labelled_studies} with labels)",
            f"series: {self.series} ("
            + ", ".join(f"{name}: {count}" for name, count in self.series_by_type.items())
            + f"), slices: {self.slices}",
            f"coordinates: {self.coordinates}",
        ]
        for family, counts in self.label_counts.items():
            total = sum(counts.values()) or 1
            parts = [f"{grade} {n} ({100 * n / total:.1f} %)" for grade, n in counts.items()]
            lines.append(f"{family}: " + ", ".join(parts))
        lines.append(f"problems: {self.errors} errors, {self.warnings} warnings")
        return lines


@dataclass
class RsnaDataset:
    """A read RSNA-layout folder; `problems` lists every fault found (empty when clean)."""

    root: Path
    studies: dict[str, RsnaStudy]
    coordinates: list[LabelPoint]
    problems: list[DatasetProblem]
    images_checked: bool = True

    @property
    def errors(self) -> list[DatasetProblem]:
        return [p for p in self.problems if not p.warning]

    @property
    def warnings(self) -> list[DatasetProblem]:
        return [p for p in self.problems if p.warning]

    def series(self, study_id: str, series_id: str) -> RsnaSeries | None:
        study = self.studies.get(study_id)
        return study.series_by_id(series_id) if study is not None else None

    def summary(self) -> RsnaSummary:
        all_series = [s for study in self.studies.values() for s in study.series]
        by_type = Counter(
            s.description if s.description in SERIES_DESCRIPTIONS else OTHER_SERIES
            for s in all_series
        )
        series_by_type = {name: by_type[name] for name in (*SERIES_DESCRIPTIONS, OTHER_SERIES)}
        if not series_by_type[OTHER_SERIES]:
            del series_by_type[OTHER_SERIES]
        label_counts = {
            family: dict.fromkeys((*SEVERITIES, MISSING_LABEL), 0) for family in FAMILIES
        }
        for study in self.studies.values():
            if not study.labelled:
                continue
            for condition in CONDITIONS:
                counts = label_counts[CONDITION_FAMILY[condition]]
                for level in LEVELS:
                    value = study.labels.get(label_column(condition, level))
                    counts[MISSING_LABEL if value is None else SEVERITIES[value]] += 1
        return RsnaSummary(
            studies=len(self.studies),
            labelled_studies=sum(study.labelled for study in self.studies.values()),
            series=len(all_series),
            series_by_type=series_by_type,
            slices=sum(len(s.instance_numbers) for s in all_series),
            coordinates=len(self.coordinates),
            label_counts=label_counts,
            errors=len(self.errors),
            warnings=len(self.warnings),
        )


def read_rsna_dataset(root: Path, *, check_images: bool = True) -> RsnaDataset:
    """Read `root` (train.csv, the two other train CSVs, train_images/).

    Raises DatasetError only when train.csv is missing, unreadable or has no study_id column;
    everything else is listed in `problems`. With `check_images=False` the image tree is not
    listed at all (series come from the descriptions CSV, with no instance numbers), for a
    quick look at the labels.
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: folder not found")
    if not (root / TRAIN_CSV).is_file():
        raise DatasetError(f"{root}: no {TRAIN_CSV}; not a folder in the RSNA 2024 layout")
    log = ProblemLog()
    labels = read_labels(root / TRAIN_CSV, log)
    described = read_series_descriptions(root / SERIES_DESCRIPTIONS_CSV, log)
    rows = read_coordinates(root / COORDINATES_CSV, log)
    folders = list_image_folders(root / IMAGES_FOLDER, log) if check_images else None
    studies = _join_studies(root, labels, described, folders, log)
    _check_coordinates(root, studies, rows, log, check_images=check_images)
    points = [row.point for row in rows]
    dataset = RsnaDataset(root, studies, points, log.problems, images_checked=check_images)
    logger.info(
        "read RSNA layout: %d studies, %d coordinates, %d errors, %d warnings",
        len(studies),
        len(points),
        len(dataset.errors),
        len(dataset.warnings),
    )
    return dataset


def _join_studies(
    root: Path,
    labels: dict[str, dict[str, int | None]],
    described: list[DescribedSeries],
    folders: dict[str, dict[str, SeriesFolder]] | None,
    log: ProblemLog,
) -> dict[str, RsnaStudy]:
    images = root / IMAGES_FOLDER
    descriptions_csv = root / SERIES_DESCRIPTIONS_CSV
    by_study: dict[str, dict[str, DescribedSeries]] = {}
    for row in described:
        by_study.setdefault(row.study_id, {})[row.series_id] = row
    studies = {
        study_id: RsnaStudy(study_id, images / study_id, labels=values, labelled=True)
        for study_id, values in labels.items()
    }
    on_disk = folders if folders is not None else {}
    for study_id in sorted(set(on_disk) - set(labels), key=int):
        log.add(images / study_id, "no-label-row", f"study {study_id} has no row in {TRAIN_CSV}")
        studies[study_id] = RsnaStudy(study_id, images / study_id)
    for study_id, rows in by_study.items():
        if study_id not in studies:
            line = min(row.line for row in rows.values())
            log.add(
                descriptions_csv,
                "unknown-study",
                f"line {line}: describes study {study_id}, which has no row in {TRAIN_CSV}"
                + ("" if folders is None else " and no image folder"),
            )
    for study in studies.values():
        rows = by_study.get(study.study_id, {})
        if folders is None:
            study.series = [
                RsnaSeries(
                    study.study_id, r.series_id, r.description, study.folder / r.series_id, ()
                )
                for r in rows.values()
            ]
        else:
            study.series = _join_series(study, rows, folders.get(study.study_id), log, root)
        study.series.sort(key=lambda s: int(s.series_id))
    return studies


def _join_series(
    study: RsnaStudy,
    rows: dict[str, DescribedSeries],
    folders: dict[str, SeriesFolder] | None,
    log: ProblemLog,
    root: Path,
) -> list[RsnaSeries]:
    descriptions_csv = root / SERIES_DESCRIPTIONS_CSV
    if folders is None:
        log.add(study.folder, "no-image-folder", f"study {study.study_id} has no image folder")
        return []
    for series_id, row in rows.items():
        if series_id not in folders:
            log.add(
                study.folder / series_id,
                "series-folder-missing",
                f"series {series_id} is described ({SERIES_DESCRIPTIONS_CSV} line {row.line}) "
                "but its folder does not exist",
            )
    series = []
    for series_id, folder in folders.items():
        described = rows.get(series_id)
        if described is None:
            log.add(
                folder.path,
                "series-not-described",
                f"series folder is not listed in {descriptions_csv.name}; its type is unknown",
            )
        description = described.description if described is not None else ""
        series.append(
            RsnaSeries(study.study_id, series_id, description, folder.path, folder.instance_numbers)
        )
    return series


def _check_coordinates(
    root: Path,
    studies: dict[str, RsnaStudy],
    rows: list[CoordinateRow],
    log: ProblemLog,
    *,
    check_images: bool,
) -> None:
    csv_path = root / COORDINATES_CSV
    index = {
        (study.study_id, s.series_id): (s, frozenset(s.instance_numbers))
        for study in studies.values()
        for s in study.series
    }
    for row in rows:
        point = row.point
        series, instances = index.get((point.study_id, point.series_id), (None, frozenset()))
        reason = ""
        if point.study_id not in studies:
            reason = f"study {point.study_id} is unknown"
        elif series is None:
            reason = f"study {point.study_id} has no series {point.series_id}"
        elif check_images and point.instance_number not in instances:
            reason = f"series {point.series_id} has no instance {point.instance_number}"
        if reason:
            target = Path(
                IMAGES_FOLDER, point.study_id, point.series_id, f"{point.instance_number}.dcm"
            )
            log.add(
                csv_path,
                "coordinate-target-missing",
                f"line {row.line}: points at {target.as_posix()}, which does not exist ({reason})",
            )
            continue
        assert series is not None
        expected = SERIES_FOR_CONDITION[point.condition]
        if series.description in SERIES_DESCRIPTIONS and series.description != expected:
            log.add(
                csv_path,
                "unexpected-series-type",
                f"line {row.line}: {point.condition} {point.level} is placed on a "
                f"{series.description} series ({point.series_id}); usually on {expected}",
                warning=True,
            )

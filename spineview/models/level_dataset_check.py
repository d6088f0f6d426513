"""Whether a folder can train a disc level model, checked before anything trains.

A level model learns from the spinal-canal points of `train_label_coordinates.csv` on sagittal
T2/STIR series of an RSNA 2024 layout (`data.level_examples`): class folders, or an RSNA folder
without those points, cannot train one. The check lists the folder's files and CSVs only (no
DICOM is decoded and TensorFlow is not needed), so the training dialog can say at once what a
folder lacks.

A grading model learns from the same marks (its crops are placed from the disc levels) and from
the grades of `train.csv`: `check_grade_dataset` counts the marked studies that have grades.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

from spineview.core.levels import LEVELS
from spineview.data.rsna import RsnaDataset, read_rsna_dataset
from spineview.data.rsna_format import (
    COORDINATES_CSV,
    SAGITTAL_T2_STIR,
    SEVERITIES,
    TRAIN_CSV,
)
from spineview.data.rsna_levels import LEVEL_CONDITION
from spineview.errors import DatasetError, TrainingCancelled

MIN_LEVEL_STUDIES = 6
"""The fewest marked studies the level trainer accepts (`ml.level_training` refuses fewer):
fewer cannot fill a train, validation and test split with anything to learn from."""
FEW_LEVEL_STUDIES = 30
"""Below this many marked studies the check warns that the test figures rest on few series."""


@dataclass(frozen=True)
class LevelDatasetCheck:
    """What a level model would learn from in `dataset`, and why it cannot train (`errors`)."""

    dataset: Path
    studies: int = 0
    """Studies in the folder."""
    marked_studies: int = 0
    """Studies with a sagittal T2/STIR series whose marked instance is on disk."""
    marked_study_ids: frozenset[str] = frozenset()
    marked_series: int = 0
    level_counts: dict[str, int] = field(default_factory=dict)
    """Marked points per disc level (on the marked series)."""
    problems: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def can_train(self) -> bool:
        return not self.errors

    @property
    def warnings(self) -> list[str]:
        if self.can_train and self.marked_studies < FEW_LEVEL_STUDIES:
            return [
                f"only {self.marked_studies} marked studies (fewer than {FEW_LEVEL_STUDIES}): "
                "the test split holds a few series, so its figures have wide intervals"
            ]
        return []


def check_level_dataset(
    folder: Path, *, cancel: threading.Event | None = None
) -> LevelDatasetCheck:
    """Check `folder` for level training; a folder that cannot train gets its reason in
    `errors` (never raised). A set `cancel` raises TrainingCancelled."""
    dataset = _read_rsna(Path(folder), "a level model", cancel)
    return dataset if isinstance(dataset, LevelDatasetCheck) else _count_marks(dataset)


@dataclass(frozen=True)
class GradeDatasetCheck:
    """What a grading model would learn from in `dataset`: the studies with level marks
    (`marks`, its errors aside) that have grades in train.csv, and why it cannot train."""

    marks: LevelDatasetCheck
    graded_studies: int = 0
    """Marked studies with at least one grade in train.csv."""
    grade_counts: dict[str, int] = field(default_factory=dict)
    """Grades of those studies per severity (all 25 findings together)."""
    errors: list[str] = field(default_factory=list)

    @property
    def can_train(self) -> bool:
        return not self.errors

    @property
    def warnings(self) -> list[str]:
        if self.can_train and self.graded_studies < FEW_LEVEL_STUDIES:
            return [
                f"only {self.graded_studies} graded studies (fewer than {FEW_LEVEL_STUDIES}): "
                "the test split holds a few studies, so the interval against the prior is "
                "wide and the model is likely judged not usable"
            ]
        return []


def check_grade_dataset(
    folder: Path, *, min_studies: int, cancel: threading.Event | None = None
) -> GradeDatasetCheck:
    """Check `folder` for grade training, which needs `min_studies` marked studies with grades
    (the trainer's minimum, passed in: it lives with the trainer); reasons in `errors`."""
    dataset = _read_rsna(Path(folder), "a grading model", cancel)
    if isinstance(dataset, LevelDatasetCheck):
        return GradeDatasetCheck(dataset, errors=dataset.errors)
    marks = _count_marks(dataset)
    graded = [
        study
        for study_id in marks.marked_study_ids
        if (study := dataset.studies.get(study_id)) is not None and study.known_labels
    ]
    counts = {name: 0 for name in SEVERITIES}
    for study in graded:
        for value in study.known_labels.values():
            counts[SEVERITIES[value]] += 1
    errors = []
    if len(graded) < min_studies:
        errors.append(
            f"only {len(graded)} studies have both spinal-canal level marks "
            f"({LEVEL_CONDITION} rows of {COORDINATES_CSV}, on a sagittal T2/STIR series whose "
            f"images are present) and grades in {TRAIN_CSV}; at least {min_studies} are needed "
            "to train and test a grading model"
        )
    return GradeDatasetCheck(marks, len(graded), counts, errors)


def _read_rsna(
    folder: Path, model: str, cancel: threading.Event | None
) -> RsnaDataset | LevelDatasetCheck:
    """The RSNA dataset in `folder`, or a check saying why it is none (`model` learns from
    its level marks)."""
    if not (folder / TRAIN_CSV).is_file() and folder.is_dir():
        return LevelDatasetCheck(
            folder,
            errors=[
                f"{folder} is not in the RSNA 2024 layout (no {TRAIN_CSV}): {model} "
                f"learns from the spinal-canal points in {COORDINATES_CSV} on sagittal T2/STIR "
                "series; class folders can train a slice classifier only"
            ],
        )
    try:
        dataset = read_rsna_dataset(folder)
    except DatasetError as error:
        return LevelDatasetCheck(folder, errors=[str(error)])
    if cancel is not None and cancel.is_set():
        raise TrainingCancelled("the dataset check was cancelled")
    return dataset


def _count_marks(dataset: RsnaDataset) -> LevelDatasetCheck:
    """The level marks training can use: spinal-canal points on a sagittal T2/STIR (or
    undescribed) series, on an instance that is on disk, as `data.level_examples` reads them."""
    series_levels: dict[tuple[str, str], set[str]] = {}
    for point in dataset.coordinates:
        if point.condition != LEVEL_CONDITION or point.level not in LEVELS:
            continue
        series = dataset.series(point.study_id, point.series_id)
        if series is None or series.description not in ("", SAGITTAL_T2_STIR):
            continue
        if point.instance_number not in series.instance_numbers:
            continue
        series_levels.setdefault((point.study_id, point.series_id), set()).add(point.level)
    marked_ids = frozenset(study for study, _series in series_levels)
    marked_studies = len(marked_ids)
    counts = {level: sum(level in marked for marked in series_levels.values()) for level in LEVELS}
    errors = []
    if marked_studies < MIN_LEVEL_STUDIES:
        found = (
            "no study has"
            if not marked_studies
            else f"only {marked_studies} {'study has' if marked_studies == 1 else 'studies have'}"
        )
        errors.append(
            f"{found} spinal-canal level marks ({LEVEL_CONDITION} rows of {COORDINATES_CSV}) "
            f"on a sagittal T2/STIR series whose images are present; at least "
            f"{MIN_LEVEL_STUDIES} are needed to train and test a level model"
        )
    return LevelDatasetCheck(
        dataset.root,
        studies=len(dataset.studies),
        marked_studies=marked_studies,
        marked_study_ids=marked_ids,
        marked_series=len(series_levels),
        level_counts=counts,
        problems=[str(problem) for problem in dataset.problems],
        errors=errors,
    )

"""Training examples for grading, from an RSNA-layout dataset: every study's 25 crops
(`data.grade_crops`, placed from the disc levels marked in `train_label_coordinates.csv`) with
its 25 grades from `train.csv`."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from spineview.core.levels import LevelMap
from spineview.core.series import Series
from spineview.data.grade_crops import CACHE_PX, CACHE_SLICES, GradeCrop, grade_crops
from spineview.data.rsna import RsnaDataset
from spineview.data.rsna_format import (
    AXIAL_T2,
    IMAGES_FOLDER,
    LABEL_COLUMNS,
    SAGITTAL_T1,
    SAGITTAL_T2_STIR,
    label_column,
)
from spineview.data.rsna_levels import study_level_maps
from spineview.dicom.load import load_series
from spineview.dicom.scan import scan_paths
from spineview.errors import DicomLoadError, TrainingCancelled

UNLABELLED = -1


@dataclass(frozen=True)
class StudyCrops:
    study_id: str
    pixels: np.ndarray
    """(25, CACHE_PX, CACHE_PX, CACHE_SLICES) float16; zeros where `present` is False."""
    present: np.ndarray
    """(25,) bool: which findings have a crop (in LABEL_COLUMNS order)."""
    grades: np.ndarray
    """(25,) int: 0 Normal/Mild, 1 Moderate, 2 Severe, UNLABELLED."""


def crops_by_column(crops: list[GradeCrop]) -> tuple[np.ndarray, np.ndarray]:
    """Crops in LABEL_COLUMNS slots: (25, CACHE_PX, CACHE_PX, CACHE_SLICES) and `present`."""
    pixels = np.zeros((len(LABEL_COLUMNS), CACHE_PX, CACHE_PX, CACHE_SLICES), dtype=np.float16)
    present = np.zeros(len(LABEL_COLUMNS), dtype=bool)
    for crop in crops:
        slot = LABEL_COLUMNS.index(label_column(crop.condition, crop.level))
        pixels[slot] = crop.pixels
        present[slot] = True
    return pixels, present


def study_series(folder: Path) -> dict[str, list[Series]]:
    """The decoded series of one study folder by type (Sagittal T1, Sagittal T2/STIR, Axial
    T2; the most slices first); a series that cannot be decoded is left out."""
    found: dict[str, list[Series]] = {}
    for study in scan_paths([folder]).studies:
        for info in sorted(study.series, key=lambda s: -s.n_slices):
            if info.series_type.label in (SAGITTAL_T1, SAGITTAL_T2_STIR, AXIAL_T2):
                try:
                    found.setdefault(info.series_type.label, []).append(load_series(info))
                except DicomLoadError:
                    continue
    return found


LevelFinder = Callable[[dict[str, list[Series]]], LevelMap | None]
"""Disc levels from a study's decoded series by type (a level model), or None."""


def grade_examples(
    dataset: RsnaDataset,
    *,
    find_levels: LevelFinder | None = None,
    progress: Callable[[int, int], None] | None = None,
    cancel: threading.Event | None = None,
) -> tuple[list[StudyCrops], list[str]]:
    """Every study with marked levels and a train.csv row, and a sentence for each study left
    out (no levels could be placed, no series readable). With `find_levels` (a level model)
    the crops are placed where it finds the discs, as inference places them, and a study it
    finds none in keeps its marked levels (said in the sentences)."""
    maps, problems = study_level_maps(dataset)
    examples: list[StudyCrops] = []
    studies = sorted(maps, key=int)
    for done, study_id in enumerate(studies, start=1):
        if cancel is not None and cancel.is_set():
            raise TrainingCancelled("training cancelled; no model was saved")
        study = dataset.studies[study_id]
        series = study_series(dataset.root / IMAGES_FOLDER / study_id)
        levels = maps[study_id]
        if find_levels is not None:
            found = find_levels(series)
            if found is None:
                problems.append(f"study {study_id}: the level model found no levels; marks used")
            else:
                levels = found
        crops = grade_crops(
            levels,
            sagittal_t2=_first(series, SAGITTAL_T2_STIR),
            sagittal_t1=_first(series, SAGITTAL_T1),
            axials=series.get(AXIAL_T2, []),
        )
        if not crops:
            problems.append(f"study {study_id}: no crop could be taken (no readable series)")
            continue
        pixels, present = crops_by_column(crops)
        grades = np.array(
            [UNLABELLED if (g := study.labels.get(c)) is None else g for c in LABEL_COLUMNS]
        )
        examples.append(StudyCrops(study_id, pixels, present, grades))
        if progress is not None:
            progress(done, len(studies))
    return examples, problems


def _first(series: dict[str, list[Series]], kind: str) -> Series | None:
    found = series.get(kind)
    return found[0] if found else None

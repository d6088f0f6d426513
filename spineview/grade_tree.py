"""`spineview grade`: the 25 RSNA 2024 findings of every study under DICOM files or folders.

Per study: its sagittal T2/STIR (else T1) is read by the level model, its sagittal and axial
series are decoded, and the grading model grades a crop around each finding. Every study found
gets its 25 submission rows: a finding without a crop, or a study without levels, gets the
grading model's training prior and says so in the JSON.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from spineview.core.files import write_text_atomic
from spineview.core.series import Series
from spineview.data.rsna_images import rsna_ids
from spineview.dicom.index import StudyInfo
from spineview.dicom.load import load_series
from spineview.dicom.scan import ScanResult
from spineview.dicom.series_type import AXIAL_T2, SAGITTAL_T1, SAGITTAL_T2_STIR
from spineview.errors import DicomLoadError, InferenceCancelled
from spineview.models.grade_result import StudyGrades
from spineview.models.rsna_metric import write_submission

if TYPE_CHECKING:
    from spineview.ml.grade_inference import Grader
    from spineview.ml.level_inference import LevelLocator


@dataclass
class GradedStudy:
    study_id: str
    rows: np.ndarray
    """(25, 3) in train.csv's column order."""
    grades: StudyGrades
    levels_reason: str


def grade_scan(
    scan: ScanResult,
    grader: Grader,
    locator: LevelLocator,
    *,
    progress: Callable[[int, int], None] | None = None,
    cancel: threading.Event | None = None,
) -> list[GradedStudy]:
    graded = []
    for done, study in enumerate(scan.studies, start=1):
        if cancel is not None and cancel.is_set():
            raise InferenceCancelled("grading cancelled")
        graded.append(grade_study(study, grader, locator))
        if progress is not None:
            progress(done, len(scan.studies))
    return graded


def grade_study(study: StudyInfo, grader: Grader, locator: LevelLocator) -> GradedStudy:
    """One study: levels on its sagittal T2/STIR (else T1), then its 25 findings."""
    series: dict[str, list[Series]] = {}
    for info in sorted(study.series, key=lambda s: -s.n_slices):
        if info.series_type.label not in (SAGITTAL_T2_STIR, SAGITTAL_T1, AXIAL_T2):
            continue
        try:
            loaded = load_series(info)
        except DicomLoadError:
            continue
        series.setdefault(info.series_type.label, []).append(loaded)
    sagittal = series.get(SAGITTAL_T2_STIR) or series.get(SAGITTAL_T1) or []
    source = sagittal[0] if sagittal else None
    levels, levels_reason = None, "No disc levels: the study has no sagittal T2/STIR or T1 series"
    if source is not None:
        found = locator.locate(source, study_uid=study.study_uid)
        levels, levels_reason = found.levels, found.reason
    rows, grades = grader.grade_study(study.study_uid, levels, series, levels_reason=levels_reason)
    study_id = rsna_ids(study.series[0])[0] if study.series else study.study_uid
    return GradedStudy(study_id, rows, grades, levels_reason)


def write_grades(
    graded: list[GradedStudy], path: Path, *, with_json: bool, model: str
) -> Path | None:
    """The submission CSV at `path`; with `with_json` also `path` with .json: per study the
    decision and per finding its evidence. Both written atomically; returns the JSON's path."""
    write_submission(path, {study.study_id: study.rows for study in graded})
    if not with_json:
        return None
    target = path.with_suffix(".json")
    write_text_atomic(target, json.dumps(_as_json(graded, model), indent=2) + "\n", mode=0o644)
    return target


def _as_json(graded: list[GradedStudy], model: str) -> dict[str, Any]:
    return {
        "model": model,
        "studies": [
            {
                "study_id": study.study_id,
                "decision": study.grades.decision,
                "reason": study.grades.reason,
                "levels": study.levels_reason,
                "findings": [
                    {
                        "row_id": f"{study.study_id}_{finding.column}",
                        "grade": finding.grade,
                        "probabilities": [round(p, 5) for p in finding.probabilities],
                        "confidence": round(finding.confidence, 5),
                        "series": finding.series_key,
                        "instance_number": finding.instance_number,
                        "crop_box": [round(v, 2) for v in finding.crop_box]
                        if finding.crop_box
                        else None,
                    }
                    for finding in study.grades.findings
                ],
            }
            for study in graded
        ],
    }

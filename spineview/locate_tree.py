"""`spineview levels`: the disc levels of every study under DICOM files or folders.

Each study's sagittal series (T2/STIR first, then T1: the level model's distribution check says
whether it knows a T1 image) are read by the level model; every series where levels are found
gives one row per level. Study and series are named by their RSNA folder names where the files
lie in `<study_id>/<series_id>/` folders of digits (an RSNA `train_images` tree), else by UIDs.
"""

from __future__ import annotations

import csv
import io
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spineview.core.files import write_text_atomic
from spineview.core.levels import LEVELS
from spineview.data.rsna_images import rsna_ids
from spineview.dicom.load import load_series
from spineview.dicom.scan import ScanResult
from spineview.dicom.series_type import SAGITTAL_T1, SAGITTAL_T2_STIR
from spineview.errors import DicomLoadError, InferenceCancelled
from spineview.models.level_result import StudyLevels

if TYPE_CHECKING:
    from spineview.ml.level_inference import LevelLocator

CSV_COLUMNS = (
    "study_id", "series_id", "level", "instance_number", "x", "y", "x_mm", "y_mm", "z_mm",
    "confidence",
)  # fmt: skip
SERIES_PREFERENCE = (SAGITTAL_T2_STIR, SAGITTAL_T1)
"""The series types levels are looked for on, the preferred first."""


@dataclass
class SeriesLevels:
    study_id: str
    series_id: str
    series_type: str
    result: StudyLevels

    def rows(self) -> list[dict[str, str]]:
        """One CSV row per level found on this series."""
        rows = []
        for found in self.result.found:
            x_mm, y_mm, z_mm = found.position or ("", "", "")
            rows.append({
                "study_id": self.study_id, "series_id": self.series_id, "level": found.level,
                "instance_number": str(found.instance_number),
                "x": f"{found.x:.3f}", "y": f"{found.y:.3f}",
                "x_mm": _mm(x_mm), "y_mm": _mm(y_mm), "z_mm": _mm(z_mm),
                "confidence": f"{found.confidence:.3f}",
            })  # fmt: skip
        return rows


@dataclass
class LevelsReport:
    model: str
    series: list[SeriesLevels] = field(default_factory=list)
    studies_without_sagittal: list[str] = field(default_factory=list)

    def rows(self) -> list[dict[str, str]]:
        """One CSV row per series and level found."""
        return [row for entry in self.series for row in entry.rows()]

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "levels": list(LEVELS),
            "series": [
                {
                    "study_id": entry.study_id,
                    "series_id": entry.series_id,
                    "series_type": entry.series_type,
                    "found": entry.result.levels is not None,
                    "reason": entry.result.reason,
                    "levels": entry.rows(),
                }
                for entry in self.series
            ],
            "studies_without_sagittal": self.studies_without_sagittal,
        }


def _mm(value: float | str) -> str:
    return value if isinstance(value, str) else f"{value:.2f}"


def locate_levels(
    scan: ScanResult,
    locator: LevelLocator,
    *,
    progress: Callable[[int, int], None] | None = None,
    cancel: threading.Event | None = None,
) -> LevelsReport:
    """Read every sagittal T2/STIR or T1 series of every study of `scan` with `locator`."""
    report = LevelsReport(locator.name)
    work = []
    for study in scan.studies:
        sagittal = [info for info in study.series if info.series_type.label in SERIES_PREFERENCE]
        if not sagittal:
            report.studies_without_sagittal.append(study.study_uid)
        work += sorted(sagittal, key=lambda info: SERIES_PREFERENCE.index(info.series_type.label))
    for done, info in enumerate(work):
        if cancel is not None and cancel.is_set():
            raise InferenceCancelled("level search cancelled")
        study_id, series_id = rsna_ids(info)
        try:
            series = load_series(info, cancel=cancel)
            result = locator.locate(
                series,
                study_uid=info.study_uid,
                source_key=info.key,
            )
        except DicomLoadError as error:
            result = StudyLevels(info.study_uid, None, f"No disc levels: {error}", info.key)
        report.series.append(SeriesLevels(study_id, series_id, info.series_type.label, result))
        if progress is not None:
            progress(done + 1, len(work))
    return report


def write_levels(report: LevelsReport, path: Path) -> None:
    """Write the report atomically: CSV (.csv, one row per series and level) or JSON (.json,
    with the reason for every series without levels); ValueError for other suffixes."""
    if path.suffix.lower() == ".csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(report.rows())
        write_text_atomic(path, buffer.getvalue(), mode=0o644)
    elif path.suffix.lower() == ".json":
        write_text_atomic(path, json.dumps(report.to_json(), indent=2) + "\n", mode=0o644)
    else:
        raise ValueError(f"{path}: the results file must end in .csv or .json")

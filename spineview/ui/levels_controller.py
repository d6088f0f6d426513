"""Finding the disc levels of every study the viewer opens, in the background.

When a scan finishes, each study's sagittal T2/STIR series (else its sagittal T1) is read by the
level model on the inference thread; the answer (levels, or the reason there are none) goes to
the main window's `show_levels`. A study without a sagittal series, or a viewer without a level
model, gets its reason at once. Opening other paths cancels what is still running.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QObject

from spineview.dicom.index import SeriesInfo, StudyInfo
from spineview.dicom.series_type import SAGITTAL_T1, SAGITTAL_T2_STIR
from spineview.errors import Cancelled, SpineViewError, error_text
from spineview.models.level_result import StudyLevels
from spineview.ui.binding import bind_slot
from spineview.ui.study_jobs import StudyJobs, usable_model
from spineview.workers import JobRunner, LocateLevelsJob, ModelIdentity

logger = logging.getLogger(__name__)

SOURCE_TYPES = (SAGITTAL_T2_STIR, SAGITTAL_T1)


def source_series(study: StudyInfo) -> SeriesInfo | None:
    """The series a study's levels are found on: its sagittal T2/STIR (the most slices if
    several), else its sagittal T1; None without either."""
    for wanted in SOURCE_TYPES:
        candidates = [info for info in study.series if info.series_type.label == wanted]
        if candidates:
            return max(candidates, key=lambda info: info.n_slices)
    return None


def level_model(reference: str) -> tuple[ModelIdentity | None, str]:
    """The usable level model `reference` names, or None and why not (`usable_model`)."""
    return usable_model(reference, "levels")


class LevelsController(QObject):
    def __init__(
        self,
        runner: JobRunner,
        show_levels: Callable[[StudyLevels], None],
        model_reference: Callable[[], str],
        parent: QObject,
    ) -> None:
        super().__init__(parent)
        self.show_levels = show_levels
        self.model_reference = model_reference
        self.jobs = StudyJobs(runner, self)

    def find(self, studies: list[StudyInfo]) -> None:
        """Start finding the levels of `studies` (what is still running for others stops)."""
        self.cancel()
        model, unusable = level_model(self.model_reference()) if studies else (None, "")
        for study in studies:
            info = source_series(study)
            if info is None:
                self.show_levels(
                    StudyLevels(
                        study.study_uid,
                        None,
                        "No disc levels: the study has no sagittal T2/STIR or T1 series",
                    )
                )
                continue
            if model is None:
                self.show_levels(StudyLevels(study.study_uid, None, f"No disc levels: {unusable}"))
                continue
            job = LocateLevelsJob(info, model)
            job.signals.finished.connect(bind_slot(self._found))
            job.signals.failed.connect(bind_slot(self._failed, info))
            self.jobs.start(job)

    def cancel(self) -> None:
        self.jobs.cancel()

    def is_busy(self) -> bool:
        return self.jobs.is_busy()

    def _found(self, result: StudyLevels) -> None:
        self.show_levels(result)

    def _failed(self, info: SeriesInfo, error: BaseException) -> None:
        if isinstance(error, Cancelled):
            return
        if not isinstance(error, SpineViewError):
            logger.error("finding disc levels failed", exc_info=error)
        self.show_levels(
            StudyLevels(info.study_uid, None, f"No disc levels: {error_text(error)}", info.key)
        )

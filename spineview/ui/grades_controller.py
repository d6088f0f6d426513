"""Grading each opened study's 25 findings in the background, once its disc levels are found.

The grading model (config `grade_model`) reads crops placed from the levels, so a study is
graded only after `LevelsController` found them; a study without levels is declined with the
levels' reason at once, as is one when the grading model is missing, not a grading model, or
not usable by its quality gate.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QObject

from spineview.dicom.index import StudyInfo
from spineview.dicom.series_type import AXIAL_T2, SAGITTAL_T1, SAGITTAL_T2_STIR
from spineview.errors import Cancelled, SpineViewError, error_text
from spineview.models.grade_result import StudyGrades
from spineview.models.level_result import StudyLevels
from spineview.ui.binding import bind_slot
from spineview.ui.study_jobs import StudyJobs, usable_model
from spineview.workers import GradeStudyJob, JobRunner

logger = logging.getLogger(__name__)

GRADED_TYPES = (SAGITTAL_T2_STIR, SAGITTAL_T1, AXIAL_T2)


class GradesController(QObject):
    def __init__(
        self,
        runner: JobRunner,
        show_grades: Callable[[StudyGrades], None],
        model_reference: Callable[[], str],
        parent: QObject,
    ) -> None:
        super().__init__(parent)
        self.show_grades = show_grades
        self.model_reference = model_reference
        self.jobs = StudyJobs(runner, self)

    def grade(self, levels: StudyLevels, study: StudyInfo) -> None:
        """Grade `study` from its levels (or decline it with their reason)."""
        if levels.levels is None:
            reason = levels.reason.removeprefix("No disc levels: ")
            self.show_grades(
                StudyGrades(study.study_uid, (), f"no disc levels: {reason}", "declined")
            )
            return
        model, unusable = usable_model(self.model_reference(), "grades")
        if model is None:
            self.show_grades(StudyGrades(study.study_uid, (), unusable, "declined"))
            return
        infos = [info for info in study.series if info.series_type.label in GRADED_TYPES]
        job = GradeStudyJob(study.study_uid, levels.levels, infos, model)
        job.signals.finished.connect(bind_slot(self._graded))
        job.signals.failed.connect(bind_slot(self._failed, study.study_uid))
        self.jobs.start(job)

    def cancel(self) -> None:
        self.jobs.cancel()

    def is_busy(self) -> bool:
        return self.jobs.is_busy()

    def _graded(self, result: StudyGrades) -> None:
        self.show_grades(result)

    def _failed(self, study_uid: str, error: BaseException) -> None:
        if isinstance(error, Cancelled):
            return
        if not isinstance(error, SpineViewError):
            logger.error("grading a study failed", exc_info=error)
        self.show_grades(StudyGrades(study_uid, (), error_text(error), "declined"))

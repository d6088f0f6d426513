"""What the two per-study background searches (disc levels, graded findings) share: choosing a
usable model of their task, and keeping track of their running jobs."""

from __future__ import annotations

from PySide6.QtCore import QObject

from spineview.errors import ModelLoadError
from spineview.models.catalogue import TASK_NAMES, find_model, require_task
from spineview.workers import Job, JobRunner, ModelIdentity


def usable_model(reference: str, task: str) -> tuple[ModelIdentity | None, str]:
    """The model `reference` names (a name, the user's before a bundled one, or a folder) as
    its folder and weights' checksum, or None and why it cannot be used: not found, of
    another task, or not usable by its quality gate (a model that places discs or grades
    findings badly would mislabel every view)."""
    try:
        info = find_model(reference)
        require_task(info.path, task)
    except ModelLoadError as error:
        return None, str(error)
    usability = info.manifest.usability
    if not usability.usable:
        what = TASK_NAMES.get(task, "model").split(" ", 1)[-1]
        return None, f"the {what} {info.manifest.name} is not usable: {usability.reason}"
    return (info.path, info.manifest.weights_sha256), ""


class StudyJobs(QObject):
    """The running jobs of one kind of per-study search: started, cancelled, forgotten."""

    def __init__(self, runner: JobRunner, parent: QObject) -> None:
        super().__init__(parent)
        self.runner = runner
        self._jobs: list[Job] = []

    def start(self, job: Job) -> None:
        job.signals.ended.connect(self._ended)
        self._jobs.append(job)
        self.runner.start(job)

    def cancel(self) -> None:
        for job in self._jobs:
            job.cancel()
        self._jobs.clear()

    def is_busy(self) -> bool:
        return bool(self._jobs)

    def _ended(self, job: Job) -> None:
        if job in self._jobs:
            self._jobs.remove(job)

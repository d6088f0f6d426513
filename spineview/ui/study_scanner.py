"""Reading what the user opened: the background scan, the first image shown while it runs,
then the studies, problems and thumbnails once it ends (the session keeps the index).

What the main window does around it (busy state, progress bar, status line, the series shown
first) comes back through `ScanHooks`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject

from spineview.dicom.header import FileHeader
from spineview.dicom.index import SeriesInfo, study_context
from spineview.dicom.load import preview_series
from spineview.dicom.scan import ScanResult
from spineview.session import Session
from spineview.ui.problems_panel import ProblemItem, ProblemsPanel
from spineview.ui.series_browser import SeriesBrowser
from spineview.ui.viewport import Viewport
from spineview.workers import JobRunner, ScanJob, ThumbnailJob


@dataclass(frozen=True)
class ScanHooks:
    """What the scanner tells the main window."""

    active: Callable[[], Viewport]
    busy: Callable[[bool, str], None]
    """(busy, the status line while busy)."""
    progress: Callable[[int, int], None]
    status: Callable[[str], None]
    failed: Callable[[BaseException], None]
    found: Callable[[list[SeriesInfo]], None]
    """The scan ended with these series (at least one), in study and series order."""
    found_nothing: Callable[[str], None]
    """The scan ended without images: the message to show in the viewports."""
    showing: Callable[[], set[str]]
    """The keys of the series the viewports show (their loads make their thumbnails)."""


class StudyScanner(QObject):
    def __init__(
        self,
        runner: JobRunner,
        session: Session,
        browser: SeriesBrowser,
        problems: ProblemsPanel,
        reveal_problems: Callable[[], None],
        hooks: ScanHooks,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.runner = runner
        self.session = session
        self.browser = browser
        self.problems = problems
        self.reveal_problems = reveal_problems
        self.hooks = hooks
        self._scan: ScanJob | None = None
        self._thumbnails: ThumbnailJob | None = None

    def scan(self, paths: Sequence[Path], shown: str) -> None:
        """Read `paths` in the background (`shown`: how the status line names them)."""
        job = ScanJob(paths)
        job.signals.progress.connect(self.hooks.progress)
        job.signals.preview.connect(self._preview)
        job.signals.finished.connect(self._finished)
        job.signals.failed.connect(self._failed)
        job.signals.cancelled.connect(self._cancelled)
        self._scan = job
        self.hooks.busy(True, f"Reading {shown}…")
        self.runner.start(job)

    def cancel(self) -> None:
        for job in (self._scan, self._thumbnails):
            if job is not None:
                job.cancel()

    @property
    def busy(self) -> bool:
        return self._scan is not None

    def _preview(self, pixels: np.ndarray, header: FileHeader) -> None:
        viewport = self.hooks.active()
        if viewport.view.series is not None:
            return
        viewport.view.set_series(preview_series(header, pixels, study_context(header)))
        viewport.sync_slider()

    def _finished(self, result: ScanResult) -> None:
        self._scan = None
        all_series = self.session.opened(result)
        self.hooks.busy(False, "")
        items = [ProblemItem(str(p.path), p.reason, p.kind) for p in result.problems]
        items += [ProblemItem(str(p.path), p.reason, p.kind) for p in result.non_images]
        self.problems.set_problems(items)
        if result.problems:
            self.reveal_problems()
        self.browser.set_studies(result.studies)
        summary = (
            f"{result.files_seen} files: {result.series_count} series in "
            f"{len(result.studies)} studies, {len(result.problems)} unreadable, "
            f"{len(result.non_images)} without images, "
            f"{result.skipped_non_dicom} non-DICOM skipped"
        )
        if result.series_count == 0:
            where = ", ".join(str(p) for p in result.roots)
            self.hooks.found_nothing(f"No DICOM images found in {where}\n{summary}")
            self.hooks.status(f"No DICOM images found — {summary}")
            return
        self.hooks.status(summary)
        self.hooks.found(all_series)
        showing = self.hooks.showing()
        self._thumbnails = ThumbnailJob([info for info in all_series if info.key not in showing])
        self._thumbnails.signals.thumbnail.connect(self.browser.set_thumbnail)
        self.runner.start(self._thumbnails)

    def _cancelled(self) -> None:
        self._scan = None
        self.hooks.busy(False, "Reading cancelled")

    def _failed(self, error: BaseException) -> None:
        self._scan = None
        self.hooks.busy(False, "")
        self.hooks.failed(error)

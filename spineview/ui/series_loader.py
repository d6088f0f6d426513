"""Decoding series into viewports: one background load per viewport, the decoded series kept
in the session's cache, the slices shown as they arrive.

The main window asks `show(viewport, key)`; what the window does around a load (tags, cross
reference, histogram, classify-on-open) comes back through `LoadHooks`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QObject

from spineview.core.series import Series
from spineview.errors import error_text
from spineview.session import Session
from spineview.ui.binding import bind_slot
from spineview.ui.problems_panel import ProblemItem, ProblemsPanel
from spineview.ui.slice_view import SliceView
from spineview.ui.viewport import Viewport
from spineview.workers import JobRunner, LoadSeriesJob, make_thumbnail


@dataclass(frozen=True)
class LoadHooks:
    """What the loader tells the main window."""

    shown: Callable[[Viewport, bool], None]
    """A series is now in the viewport (True: complete, from the cache; False: decoding)."""
    slice_arrived: Callable[[Viewport, int, int], None]
    """(viewport, slice index, slices decoded so far)."""
    complete: Callable[[Viewport], None]
    """Every slice of the viewport's series has been decoded."""
    failed: Callable[[BaseException], None]
    thumbnail: Callable[[str, np.ndarray], None]
    """(series key, image): from the first slice a load decodes, its middle one."""


class SeriesLoader(QObject):
    def __init__(
        self,
        runner: JobRunner,
        session: Session,
        problems: ProblemsPanel,
        hooks: LoadHooks,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.runner = runner
        self.session = session
        self.problems = problems
        self.hooks = hooks
        self._loading: dict[Viewport, LoadSeriesJob] = {}

    def show(self, viewport: Viewport, key: str) -> None:
        """Show series `key` in `viewport`, from the cache or decoded in the background."""
        if not self.session.knows(key):
            return
        previous = self._loading.pop(viewport, None)
        if previous is not None:
            previous.cancel()
            self.session.drop_unfinished(previous.info.key)
        viewport.view.series_key = key
        cached = self.session.cached(key)
        if cached is not None:
            viewport.view.set_series(*cached)
            self.hooks.shown(viewport, True)
            return
        job = LoadSeriesJob(*self.session.context(key))
        job.signals.started.connect(bind_slot(self._started, job))
        job.signals.slice_loaded.connect(bind_slot(self._slice_loaded, job))
        job.signals.finished.connect(bind_slot(self._finished, job))
        job.signals.failed.connect(bind_slot(self._failed, job))
        self._loading[viewport] = job
        self.runner.start(job)

    def cancel(self) -> None:
        for job in self._loading.values():
            job.cancel()

    def is_loading(self, view: SliceView) -> bool:
        """True while the view's series is still being decoded."""
        return any(viewport.view is view for viewport in self._loading)

    @property
    def busy(self) -> bool:
        return bool(self._loading)

    def _viewport_of(self, job: LoadSeriesJob) -> Viewport | None:
        return next((v for v, loading in self._loading.items() if loading is job), None)

    def _started(self, job: LoadSeriesJob, series: Series) -> None:
        viewport = self._viewport_of(job)
        if viewport is None:
            return
        loaded = self.session.start_decoding(viewport.view.series_key, series)
        viewport.view.set_series(series, loaded)
        self.hooks.shown(viewport, False)

    def _slice_loaded(self, job: LoadSeriesJob, index: int, done: int) -> None:
        viewport = self._viewport_of(job)
        if viewport is None:
            return
        viewport.view.slice_arrived(index)
        series = viewport.view.series
        if done == 1 and series is not None:
            self.hooks.thumbnail(viewport.view.series_key, make_thumbnail(series.volume[index]))
        self.hooks.slice_arrived(viewport, index, done)

    def _finished(self, job: LoadSeriesJob, series: Series) -> None:
        viewport = self._viewport_of(job)
        if viewport is not None:
            del self._loading[viewport]
            self.hooks.complete(viewport)
        problems = [ProblemItem("", text, "series") for text in series.problems if ": " in text]
        if problems:
            self.problems.add_problems(problems)

    def _failed(self, job: LoadSeriesJob, error: BaseException) -> None:
        viewport = self._viewport_of(job)
        if viewport is not None:
            del self._loading[viewport]
            viewport.view.show_message(error_text(error))
        self.hooks.failed(error)

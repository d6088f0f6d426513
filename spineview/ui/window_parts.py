"""The main window's docks and status bar, built and kept together (the window wires them)."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDockWidget,
    QLabel,
    QMainWindow,
    QProgressBar,
    QPushButton,
    QStatusBar,
    QWidget,
)

from spineview.ui.findings_grid import FindingsGrid
from spineview.ui.garbage_collection import adopt_scene_orphans
from spineview.ui.measurements_panel import MeasurementsPanel
from spineview.ui.problems_panel import ProblemsPanel
from spineview.ui.results_panel import PREFERRED_HEIGHT, ResultsPanel
from spineview.ui.series_browser import SeriesBrowser
from spineview.ui.slice_view import SliceView
from spineview.ui.tag_browser import TagBrowser

HISTOGRAM_SAMPLES = 200_000
"""Pixels sampled (evenly) for a slice's histogram."""


class HistogramPanel(pg.HistogramLUTWidget):
    """The active slice's grey-level histogram (log counts) with its window as two handles;
    dragging them sets the view's window."""

    def __init__(self) -> None:
        super().__init__()
        self.item.gradient.hide()
        adopt_scene_orphans(self)

    def show_view(self, view: SliceView) -> None:
        """The histogram of `view`'s current slice and its window."""
        values = view.current_values()
        if values is None:
            self.item.plot.setData([], [])
            return
        finite = values[np.isfinite(values)]
        counts, edges = np.histogram(finite[:: max(1, finite.size // HISTOGRAM_SAMPLES)], bins=256)
        # Log counts: the dark background would otherwise flatten every other bin.
        self.item.plot.setData(edges[:-1], np.log1p(counts.astype(float)))
        self.item.blockSignals(True)
        self.item.setHistogramRange(float(edges[0]), float(edges[-1]))
        self.item.blockSignals(False)
        self.show_levels(view)

    def show_levels(self, view: SliceView) -> None:
        """Move the handles to `view`'s window without reporting it back."""
        low, high = view.levels()
        self.item.blockSignals(True)
        self.item.setLevels(low, high)
        self.item.blockSignals(False)

    def levels(self) -> tuple[float, float]:
        low, high = self.item.getLevels()
        return float(low), float(high)


class StatusLine:
    """The status bar: a message, the cursor readout, the model indicator, and a progress bar
    with Cancel while something is being read."""

    def __init__(self, bar: QStatusBar) -> None:
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(260)
        self.progress.setTextVisible(True)
        self.cancel_button = QPushButton("Cancel")
        self.cursor_label = QLabel()
        self.model_indicator = QLabel()
        self.model_indicator.setObjectName("model-indicator")
        self.label = QLabel("Open a folder with Ctrl+O or drop it on the window")
        bar.addWidget(self.label, 1)
        for widget in (self.cursor_label, self.model_indicator, self.progress, self.cancel_button):
            bar.addPermanentWidget(widget)
        self.set_busy(False)

    def set_busy(self, busy: bool, message: str = "") -> None:
        self.progress.setVisible(busy)
        self.cancel_button.setVisible(busy)
        if busy:
            self.progress.setRange(0, 0)
        if message:
            self.label.setText(message)

    def show_progress(self, done: int, total: int, unit: str = "files") -> None:
        self.progress.setRange(0, total)
        self.progress.setValue(done)
        self.progress.setFormat(f"{done}/{total} {unit}")

    def show_cursor(self, text: str) -> None:
        self.cursor_label.setText(text.replace("\n", "   "))


class WindowDocks:
    """The panels in docks: series, tags, histogram, results, problems, measurements,
    findings."""

    def __init__(self, window: QMainWindow) -> None:
        self.window = window
        self.browser = SeriesBrowser()
        self.tags = TagBrowser()
        self.problems = ProblemsPanel()
        self.histogram = HistogramPanel()
        self.results = ResultsPanel()
        self.measurements = MeasurementsPanel()
        self.findings = FindingsGrid()
        left, right = Qt.DockWidgetArea.LeftDockWidgetArea, Qt.DockWidgetArea.RightDockWidgetArea
        bottom = Qt.DockWidgetArea.BottomDockWidgetArea
        self.docks = {
            "series": self._dock("Series", self.browser, left),
            "tags": self._dock("Tags", self.tags, right),
            "histogram": self._dock("Histogram", self.histogram, right),
            "results": self._dock("Results", self.results, bottom),
            "problems": self._dock("Problems", self.problems, bottom),
            "measurements": self._dock("Measurements", self.measurements, right),
            "findings": self._dock("Findings", self.findings, left),  # under the series
        }
        # the images get the room: tags and histogram on request (Panels menu; Ctrl+T: tags)
        for name in ("problems", "histogram", "tags", "measurements", "findings"):
            self.docks[name].hide()
        window.resizeDocks(
            [self.docks["series"], self.docks["tags"]], [380, 360], Qt.Orientation.Horizontal
        )
        window.resizeDocks(
            [self.docks["results"]], [PREFERRED_HEIGHT], Qt.Orientation.Vertical
        )  # compact: its text scrolls
        self.problems.count_changed.connect(self._problems_counted)

    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self.window)
        dock.setObjectName(f"dock-{title.lower()}")
        dock.setWidget(widget)
        self.window.addDockWidget(area, dock)
        return dock

    def _problems_counted(self, count: int) -> None:
        self.docks["problems"].setWindowTitle(f"Problems ({count})" if count else "Problems")

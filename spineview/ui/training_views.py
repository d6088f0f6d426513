"""The parts of the training dialog that show numbers: live curves and the final report."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QMouseEvent, QPixmap, QResizeEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from spineview.ui.garbage_collection import adopt_scene_orphans

# The report figures' colours (spineview.models.report_figures): blue training, orange validation.
TRAIN_COLOUR = "#1f77b4"
VALIDATION_COLOUR = "#d95f02"
TEXT_COLOUR = "#333333"
TRAIN_PEN = pg.mkPen(TRAIN_COLOUR, width=2)
VALIDATION_PEN = pg.mkPen(VALIDATION_COLOUR, width=2, style=Qt.PenStyle.DashLine)
BATCH_PEN = pg.mkPen(color=(31, 119, 180, 90), width=1)
# Markers in the curve's colour (pyqtgraph's default markers are grey for every curve), and of
# different shapes, so validation stays apart from training without colour too.
TRAIN_MARKERS: dict[str, Any] = {
    "symbol": "o",
    "symbolSize": 7,
    "symbolBrush": pg.mkBrush(TRAIN_COLOUR),
    "symbolPen": pg.mkPen(TRAIN_COLOUR),
}
VALIDATION_MARKERS: dict[str, Any] = {
    "symbol": "s",
    "symbolSize": 7,
    "symbolBrush": pg.mkBrush(VALIDATION_COLOUR),
    "symbolPen": pg.mkPen(VALIDATION_COLOUR),
}

# Report figures written by training (spineview.ml.train), in the order the tabs show them.
REPORT_FIGURES = (
    ("Confusion matrix", "confusion.png"),
    ("ROC curve", "roc.png"),
    ("Calibration", "reliability.png"),
    ("Training curves", "training_curves.png"),
    ("Misclassified test slices", "misclassified.png"),
)
ACTUAL_SIZE_FIGURES = frozenset({"misclassified.png"})
"""Figures shown at 100 % (scrolled) from the start: shrunk to fit, their captions are too
small to read. The others start fitted to the space; a click switches either way."""
METRIC_ROWS = (
    ("Accuracy", "accuracy"),
    ("Balanced accuracy", "balanced_accuracy"),
    ("Precision", "precision"),
    ("Recall (sensitivity)", "recall"),
    ("Specificity", "specificity"),
    ("F1", "f1"),
    ("ROC AUC", "roc_auc"),
    ("Average precision", "average_precision"),
    ("Brier score", "brier"),
)


class TrainingCurves(QWidget):
    """Loss and accuracy per epoch for training and validation, plus the running batch loss."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.loss_plot = self._plot("Loss")
        self.accuracy_plot = self._plot("Accuracy")
        self.accuracy_plot.setYRange(0, 1)
        self.accuracy_plot.setXLink(self.loss_plot)  # the same epochs side by side
        layout.addWidget(self.loss_plot)
        layout.addWidget(self.accuracy_plot)
        self.batch_loss = self.loss_plot.plot(pen=BATCH_PEN, name="training (batches)")
        self.curves = {
            "loss": self.loss_plot.plot(pen=TRAIN_PEN, name="training", **TRAIN_MARKERS),
            "val_loss": self.loss_plot.plot(
                pen=VALIDATION_PEN, name="validation", **VALIDATION_MARKERS
            ),
            "accuracy": self.accuracy_plot.plot(pen=TRAIN_PEN, name="training", **TRAIN_MARKERS),
            "val_accuracy": self.accuracy_plot.plot(
                pen=VALIDATION_PEN, name="validation", **VALIDATION_MARKERS
            ),
        }
        for plot in (self.loss_plot, self.accuracy_plot):
            adopt_scene_orphans(plot)
        self.clear()

    def _plot(self, title: str) -> pg.PlotWidget:
        plot = pg.PlotWidget(background="w")
        plot.setTitle(title, color="#333", size="10pt")
        plot.setLabel("bottom", "epoch")
        plot.showGrid(x=True, y=True, alpha=0.25)
        plot.addLegend(offset=(-10, 10), labelTextColor=TEXT_COLOUR)
        plot.setMinimumHeight(160)
        for side in ("left", "bottom", "right", "top"):
            axis = plot.getAxis(side)
            axis.enableAutoSIPrefix(False)  # no "epoch (x0.001)": values read as they are
            axis.setTextPen(TEXT_COLOUR)  # pyqtgraph's light grey is faint on white
        return plot

    def legend_labels(self, plot: pg.PlotWidget) -> list[str]:
        """The names in a plot's legend (tests)."""
        legend = plot.getPlotItem().legend
        return [label.text for _, label in legend.items] if legend is not None else []

    def clear(self) -> None:
        self.epochs: dict[str, list[float]] = {name: [] for name in self.curves}
        self._batches: list[tuple[float, float]] = []
        for curve in self.curves.values():
            curve.setData([], [])
        self.batch_loss.setData([], [])

    def add_batch(self, epoch: int, batch: int, steps: int, loss: float | None) -> None:
        """The running training loss, drawn at fractional epochs (epoch 1 batch 1 → 0.0x)."""
        if loss is None or not math.isfinite(loss) or steps <= 0:
            return
        self._batches.append((epoch - 1 + batch / steps, loss))
        x, y = zip(*self._batches, strict=True)
        self.batch_loss.setData(list(x), list(y))

    def add_epoch(self, epoch: int, logs: dict[str, float]) -> None:
        for name, curve in self.curves.items():
            value = logs.get(name)
            if value is None or not math.isfinite(value):
                continue
            self.epochs[name].append(value)
            points = self.epochs[name]
            curve.setData(list(range(epoch - len(points) + 1, epoch + 1)), points)

    def points(self, name: str) -> int:
        """How many epochs curve `name` shows (tests; the dialog's summary)."""
        return len(self.epochs.get(name, []))


class TrainingReport(QWidget):
    """Test metrics (raw and calibrated) and the report figures of a trained model."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        side = QVBoxLayout()
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.table = QTableWidget(len(METRIC_ROWS) + 1, 2)
        self.table.setHorizontalHeaderLabels(["raw", "calibrated"])
        self.table.setVerticalHeaderLabels([label for label, _ in METRIC_ROWS] + ["ECE"])
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setMinimumWidth(300)
        side.addWidget(self.summary)
        side.addWidget(self.table, 1)
        self.figures = QTabWidget()
        layout.addLayout(side)
        layout.addWidget(self.figures, 1)

    def show_result(self, folder: Path, metrics: dict[str, Any], summary: str) -> None:
        self.summary.setText(summary)
        for row, (_, key) in enumerate(METRIC_ROWS):
            for column, part in enumerate(("raw", "calibrated")):
                values = metrics.get(part, {})
                text = format_metric(values.get(key)) + _interval_text(values.get(f"{key}_ci"))
                self.table.setItem(row, column, QTableWidgetItem(text))
        for column, key in enumerate(("ece_raw", "ece_calibrated")):
            self.table.setItem(
                len(METRIC_ROWS), column, QTableWidgetItem(format_metric(metrics.get(key)))
            )
        self.table.resizeColumnsToContents()
        # Wide enough for both columns: with intervals ("0.944 (0.914–0.967)") the calibrated
        # column was cut off behind a scroll bar.
        needed = (
            self.table.verticalHeader().sizeHint().width()
            + self.table.horizontalHeader().length()
            + 2 * self.table.frameWidth()
            + 4
        )
        self.table.setMinimumWidth(max(300, needed))
        self.figures.clear()
        for title, name in REPORT_FIGURES:
            path = folder / "report" / name
            if path.is_file():
                self.figures.addTab(FigureView(path, fit=name not in ACTUAL_SIZE_FIGURES), title)

    def metric_text(self, label: str, part: str = "calibrated") -> str:
        """The table's cell for a metric row label (tests)."""
        rows = [label for label, _ in METRIC_ROWS] + ["ECE"]
        item = self.table.item(rows.index(label), 0 if part == "raw" else 1)
        return item.text() if item is not None else ""


def _interval_text(interval: object) -> str:
    """ " (0.812–0.934)" for a [low, high] bootstrap interval, else ""."""
    if isinstance(interval, list | tuple) and len(interval) == 2:
        low, high = interval
        if all(isinstance(v, int | float) and math.isfinite(v) for v in (low, high)):
            return f" ({low:.3f}–{high:.3f})"
    return ""


def format_metric(value: object) -> str:
    """A metric to three decimals, or a dash when it is missing or not finite."""
    if isinstance(value, (int, float)) and math.isfinite(value):
        return f"{value:.3f}"
    return "—"


class _ClickableImage(QLabel):
    clicked = Signal()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit()
        super().mousePressEvent(event)


class FigureView(QScrollArea):
    """A report figure, fitted to the space (aspect kept, never enlarged) or at 100 % with
    scroll bars; a click on the figure switches between the two."""

    def __init__(self, path: Path, fit: bool = True, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.path = path
        self.original = QPixmap(str(path))
        self.image = _ClickableImage()
        self.image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.image.setMinimumSize(1, 1)  # fitted, the view's size decides, never the pixmap's
        self.image.setCursor(Qt.CursorShape.PointingHandCursor)
        self.image.clicked.connect(self.toggle_fit)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setWidget(self.image)
        self.setMinimumSize(200, 150)
        self.fit = fit
        self.set_fit(fit)

    def set_fit(self, fit: bool) -> None:
        """Fit the figure to the view (True) or show it at 100 % (False)."""
        self.fit = fit
        self.setWidgetResizable(fit)
        what = "show it at 100 %" if fit else "fit it to the window"
        self.image.setToolTip(f"{self.path}\nClick to {what}")
        self._show()

    def toggle_fit(self) -> None:
        self.set_fit(not self.fit)

    def shown_scale(self) -> float:
        """The shown width over the figure's width (1.0 at 100 %)."""
        pixmap = self.image.pixmap()
        if self.original.isNull() or pixmap.isNull():
            return 1.0
        return pixmap.width() / self.original.width()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self.fit:
            self._show()

    def _show(self) -> None:
        if self.original.isNull():
            self.image.setText(f"{self.path.name} cannot be read")
            return
        if not self.fit:
            self.image.setPixmap(self.original)
            self.image.resize(self.original.size())
            return
        size = self.original.size().boundedTo(self.viewport().size())
        self.image.setPixmap(
            self.original.scaled(
                size,
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
        )

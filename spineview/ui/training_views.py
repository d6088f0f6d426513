"""The parts of the training dialog that show numbers: live curves and the final report."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap, QResizeEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from spineview.ui.garbage_collection import adopt_scene_orphans

TRAIN_PEN = pg.mkPen("#2f8cff", width=2)
VALIDATION_PEN = pg.mkPen("#ff8a3d", width=2)
BATCH_PEN = pg.mkPen(color=(47, 140, 255, 90), width=1)

# Report figures written by training (spineview.ml.train), in the order the tabs show them.
REPORT_FIGURES = (
    ("Confusion matrix", "confusion.png"),
    ("ROC curve", "roc.png"),
    ("Calibration", "reliability.png"),
    ("Training curves", "training_curves.png"),
    ("Misclassified test slices", "misclassified.png"),
)
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
        layout.addWidget(self.loss_plot)
        layout.addWidget(self.accuracy_plot)
        self.batch_loss = self.loss_plot.plot(pen=BATCH_PEN, name="training (batches)")
        self.curves = {
            "loss": self.loss_plot.plot(pen=TRAIN_PEN, symbol="o", symbolSize=6, name="training"),
            "val_loss": self.loss_plot.plot(
                pen=VALIDATION_PEN, symbol="o", symbolSize=6, name="validation"
            ),
            "accuracy": self.accuracy_plot.plot(
                pen=TRAIN_PEN, symbol="o", symbolSize=6, name="training"
            ),
            "val_accuracy": self.accuracy_plot.plot(
                pen=VALIDATION_PEN, symbol="o", symbolSize=6, name="validation"
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
        plot.addLegend(offset=(-10, 10))
        plot.setMinimumHeight(160)
        return plot

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
                value = metrics.get(part, {}).get(key)
                self.table.setItem(row, column, QTableWidgetItem(format_metric(value)))
        for column, key in enumerate(("ece_raw", "ece_calibrated")):
            self.table.setItem(
                len(METRIC_ROWS), column, QTableWidgetItem(format_metric(metrics.get(key)))
            )
        self.table.resizeColumnsToContents()
        self.figures.clear()
        for title, name in REPORT_FIGURES:
            path = folder / "report" / name
            if path.is_file():
                self.figures.addTab(_image_view(path), title)

    def metric_text(self, label: str, part: str = "calibrated") -> str:
        """The table's cell for a metric row label (tests)."""
        rows = [label for label, _ in METRIC_ROWS] + ["ECE"]
        item = self.table.item(rows.index(label), 0 if part == "raw" else 1)
        return item.text() if item is not None else ""


def format_metric(value: object) -> str:
    """A metric to three decimals, or a dash when it is missing or not finite."""
    if isinstance(value, (int, float)) and math.isfinite(value):
        return f"{value:.3f}"
    return "—"


class ScaledImage(QLabel):
    """A report figure scaled to the space it has, aspect kept (never larger than drawn)."""

    def __init__(self, path: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.original = QPixmap(str(path))
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setMinimumSize(200, 150)
        self.setToolTip(str(path))

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self.original.isNull():
            return
        size = self.original.size().boundedTo(self.size())
        self.setPixmap(
            self.original.scaled(
                size,
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
        )


def _image_view(path: Path) -> QWidget:
    return ScaledImage(path)

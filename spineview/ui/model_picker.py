"""The model picker: a combo box of the stored models (bundled and the user's), a "Details…"
button and, under them, an amber "not for clinical use" line while a demo model is selected.

Listing goes through `ml.store.list_models`, which reads manifests only: the picker fills before
TensorFlow has loaded. `model_changed` carries the selected `ModelInfo` (None when there is none)
whenever the selection changes, by the user or by `set_models`/`refresh`.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QEvent, QSignalBlocker, Qt, Signal
from PySide6.QtGui import QColor, QFontDatabase, QPalette
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from spineview.ml.model_text import DEMO_SHORT_NOTICE, model_details, model_summary
from spineview.ml.store import ModelInfo, list_models

logger = logging.getLogger(__name__)

NO_MODELS_TEXT = "No models found"
DEMO_SUFFIX = " (demo)"
DEMO_BANNER_STYLE = (
    "QLabel { background: #ffc107; color: #1a1a1a; font-weight: bold;"
    " padding: 6px 8px; border-radius: 3px; }"
)
"""Dark text on an amber band: readable on light and dark palettes alike."""


@dataclass(frozen=True)
class StatusColours:
    """Text colours for verdicts and warnings that stay readable on the current palette."""

    positive: QColor
    """A finding (red-ish)."""
    negative: QColor
    """No finding (green-ish)."""
    warning: QColor
    """Demo notices, guard-rail warnings (amber)."""
    muted: QColor
    """Secondary text (rules, hints)."""


def is_dark(palette: QPalette) -> bool:
    return palette.color(QPalette.ColorRole.Window).lightness() < 128


def status_colours(palette: QPalette) -> StatusColours:
    """Brighter hues on a dark window background, deeper ones on a light one."""
    if is_dark(palette):
        return StatusColours(
            QColor("#ff6b6b"), QColor("#5fd38d"), QColor("#ffb300"), QColor("#a0a0a0")
        )
    return StatusColours(QColor("#c62828"), QColor("#2e7d32"), QColor("#b06000"), QColor("#666666"))


def model_item_text(info: ModelInfo, name_shared: bool = False) -> str:
    """The combo box text: the name, " (demo)" for a demo model; where two models share a name,
    where each comes from."""
    text = info.manifest.name
    if name_shared:
        text += " [bundled]" if info.bundled else " [user]"
    if info.manifest.demo:
        text += DEMO_SUFFIX
    return text


class ModelDetailsDialog(QDialog):
    """Read-only `model_details` text, under an amber banner for a demo model; a Close button."""

    def __init__(self, info: ModelInfo, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.info = info
        self.setWindowTitle(f"Model details: {info.manifest.name}")
        self.setSizeGripEnabled(True)

        self.banner = QLabel(self)
        self.banner.setObjectName("modelDetailsDemoNotice")
        self.banner.setStyleSheet(DEMO_BANNER_STYLE)
        self.banner.setWordWrap(True)
        notice = info.manifest.demo_notice
        self.banner.setText(f"\u26a0 Demo model: {notice}" if notice else "")
        self.banner.setVisible(notice is not None)

        self.text = QPlainTextEdit(self)
        self.text.setObjectName("modelDetailsText")
        self.text.setReadOnly(True)
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.text.setPlainText(model_details(info))

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(self.banner)
        layout.addWidget(self.text, 1)
        layout.addWidget(buttons)
        width = self.text.fontMetrics().horizontalAdvance("M" * 96)
        self.resize(min(max(width, 560), 1000), 620)

    def details_text(self) -> str:
        return self.text.toPlainText()


class ModelPicker(QWidget):
    """Choose the model that classifies: bundled demo models and the user's own."""

    model_changed = Signal(object)
    """The selected ModelInfo, or None when no model is listed."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.problems: list[str] = []
        """Lines from the last `refresh` about model folders that could not be listed."""
        self._models: list[ModelInfo] = []
        self._current: ModelInfo | None = None
        self._details: ModelDetailsDialog | None = None

        label = QLabel("Model", self)
        self.combo = QComboBox(self)
        self.combo.setObjectName("modelCombo")
        self.combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.combo.setMinimumContentsLength(14)
        self.combo.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        label.setBuddy(self.combo)
        self.details_button = QPushButton("Details…", self)
        self.details_button.setObjectName("modelDetailsButton")
        self.details_button.setToolTip("Architecture, training data, calibration, test metrics")
        self.demo_label = QLabel(DEMO_SHORT_NOTICE, self)
        self.demo_label.setObjectName("modelDemoNotice")
        self.demo_label.setWordWrap(True)
        self._style_demo_label()

        row = QHBoxLayout()
        row.setSpacing(4)
        row.addWidget(label)
        row.addWidget(self.combo, 1)
        row.addWidget(self.details_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(2)
        layout.addLayout(row)
        layout.addWidget(self.demo_label)

        self.combo.currentIndexChanged.connect(self._index_changed)
        self.details_button.clicked.connect(self.show_details)
        self.set_models([])

    # --- public API --------------------------------------------------------------------------

    def set_models(self, models: list[ModelInfo], select: str | Path | None = None) -> None:
        """List `models` in order and select `select` (a folder path or a model name), else the
        folder selected before, else the first model. Emits `model_changed` when the selected
        model differs from before."""
        previous = self._current
        self._models = list(models)
        names = Counter(info.manifest.name for info in self._models)
        with QSignalBlocker(self.combo):
            self.combo.clear()
            if not self._models:
                self.combo.addItem(NO_MODELS_TEXT)
            for row, info in enumerate(self._models):
                self.combo.addItem(model_item_text(info, names[info.manifest.name] > 1))
                self.combo.setItemData(row, model_details(info), Qt.ItemDataRole.ToolTipRole)
            index = self._find(select) if select is not None else None
            if index is None and previous is not None:
                index = self._find(previous.path)
            self.combo.setCurrentIndex(index if index is not None else 0)
        self.combo.setEnabled(bool(self._models))
        self._selection_changed()

    def refresh(self) -> None:
        """List the stored models again (no TensorFlow), keeping the selected folder if it is
        still there; folders that could not be listed go to `problems`."""
        models, problems = list_models()
        self.problems = problems
        self.set_models(models)

    def models(self) -> list[ModelInfo]:
        return list(self._models)

    def current_model(self) -> ModelInfo | None:
        row = self.combo.currentIndex()
        return self._models[row] if 0 <= row < len(self._models) else None

    def select_model(self, path_or_name: str | Path) -> bool:
        """Select the model in the folder `path_or_name`, else the first one of that name (or
        folder name). False when none matches; the selection is then left as it was."""
        index = self._find(path_or_name)
        if index is None:
            return False
        self.combo.setCurrentIndex(index)
        return True

    def show_details(self) -> ModelDetailsDialog | None:
        """Open (non-modal) the details of the selected model; the dialog, or None."""
        info = self.current_model()
        if info is None:
            return None
        if self._details is not None:
            self._details.close()
            self._details.deleteLater()
        self._details = ModelDetailsDialog(info, self)
        self._details.show()
        return self._details

    # --- internals ---------------------------------------------------------------------------

    def _find(self, path_or_name: str | Path) -> int | None:
        wanted = Path(path_or_name)
        for row, info in enumerate(self._models):
            if _same_folder(info.path, wanted):
                return row
        text = str(path_or_name)
        for row, info in enumerate(self._models):
            if text in (info.manifest.name, info.path.name):
                return row
        return None

    def _index_changed(self, _row: int) -> None:
        self._selection_changed()

    def _selection_changed(self) -> None:
        info = self.current_model()
        self.details_button.setEnabled(info is not None)
        self.demo_label.setVisible(info is not None and info.manifest.demo)
        self.combo.setToolTip(model_summary(info.manifest) if info is not None else "")
        if info != self._current:
            self._current = info
            logger.debug("model selected: %s", info.manifest.name if info else None)
            self.model_changed.emit(info)

    def _style_demo_label(self) -> None:
        colour = status_colours(self.palette()).warning.name()
        self.demo_label.setStyleSheet(f"QLabel {{ color: {colour}; font-weight: bold; }}")

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange and hasattr(self, "demo_label"):
            self._style_demo_label()


def _same_folder(a: Path, b: Path) -> bool:
    if a == b:
        return True
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False

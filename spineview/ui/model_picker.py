"""The model picker: a combo box of the stored models (bundled and the user's), a "Details…"
button and, under them, an amber "not for clinical use" line while a demo model is selected.

Models the quality gate marks not usable (`models.quality_gate`, through the manifest's `usability`)
are listed apart, under a disabled "Not usable" heading after the usable ones, each with
"(not usable)" after its name and the reason in its tooltip; while one is selected a red line
under the combo box gives the reason. Choosing one (in the combo box, or by `select_model`, which
the training dialog's *Use this model* goes through) asks first; declined, the selection stays
where it was.

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
from PySide6.QtGui import QColor, QFontDatabase, QPalette, QStandardItemModel
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from spineview.models.catalogue import ModelInfo, list_models
from spineview.models.model_text import (
    DEMO_SHORT_NOTICE,
    NOT_USABLE_MARK,
    model_details,
    model_summary,
    usability_text,
)

logger = logging.getLogger(__name__)

NO_MODELS_TEXT = "No models found"
DEMO_SUFFIX = " (demo)"
NOT_USABLE_SUFFIX = " (not usable)"
NOT_USABLE_HEADING = "Not usable (hover over a model for the reason)"
"""The disabled combo box row above the models the quality gate rejects."""
NOT_USABLE_BANNER_STYLE = (
    "QLabel { background: #c62828; color: white; font-weight: bold;"
    " padding: 6px 8px; border-radius: 3px; }"
)
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
    if not info.manifest.usability.usable:
        text += NOT_USABLE_SUFFIX
    return text


def ask_to_use_not_usable(info: ModelInfo, parent: QWidget | None = None) -> bool:
    """Ask whether to use a model the quality gate marked not usable; True when the user
    chooses "Use this model" (Cancel is the default)."""
    box = QMessageBox(
        QMessageBox.Icon.Warning,
        "Use a model that is not usable?",
        f"{info.manifest.name} is marked not usable.\n\n{info.manifest.usability.reason}.",
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
        parent,
    )
    box.setInformativeText(
        "Its results may mean nothing. Every result made with it (captions, the Results "
        "panel, exported files) will carry this warning."
    )
    yes = box.button(QMessageBox.StandardButton.Yes)
    if yes is not None:
        yes.setText("Use this model")
    box.setDefaultButton(QMessageBox.StandardButton.Cancel)
    return bool(box.exec() == QMessageBox.StandardButton.Yes)


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
        usability = info.manifest.usability
        self.usability_banner = QLabel(self)
        self.usability_banner.setObjectName("modelDetailsNotUsable")
        self.usability_banner.setStyleSheet(NOT_USABLE_BANNER_STYLE)
        self.usability_banner.setWordWrap(True)
        self.usability_banner.setText(
            "" if usability.usable else f"\u26a0 {NOT_USABLE_MARK}: {usability.reason}"
        )
        self.usability_banner.setVisible(not usability.usable)

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
        layout.addWidget(self.usability_banner)
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
        self._rows: list[int | None] = []
        """Per combo box row, the index into `_models` (None: the heading or the separator)."""
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
        self.usability_label = QLabel(self)
        self.usability_label.setObjectName("modelNotUsable")
        self.usability_label.setWordWrap(True)
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
        layout.addWidget(self.usability_label)

        self.combo.currentIndexChanged.connect(self._index_changed)
        self.details_button.clicked.connect(self.show_details)
        self.set_models([])

    # --- public API --------------------------------------------------------------------------

    def set_models(self, models: list[ModelInfo], select: str | Path | None = None) -> None:
        """List `models` in order, the usable ones first and the others apart under a heading,
        and select `select` (a folder path or a model name), else the folder selected before,
        else the first usable model (the first model when none is usable). Nothing is asked
        here. Emits `model_changed` when the selected model differs from before."""
        previous = self._current
        self._models = list(models)
        names = Counter(info.manifest.name for info in self._models)
        usable = [i for i, info in enumerate(self._models) if info.manifest.usability.usable]
        rejected = [i for i in range(len(self._models)) if i not in usable]
        self._rows = list(usable)
        with QSignalBlocker(self.combo):
            self.combo.clear()
            if not self._models:
                self.combo.addItem(NO_MODELS_TEXT)
            for row, index in enumerate(usable):
                self._add_model_row(row, self._models[index], names)
            if rejected:
                self._add_heading(separator=bool(usable))
                for index in rejected:
                    self._rows.append(index)
                    self._add_model_row(len(self._rows) - 1, self._models[index], names)
            chosen = self._find(select) if select is not None else None
            if chosen is None and previous is not None:
                chosen = self._find(previous.path)
            if chosen is None:
                chosen = next((r for r, i in enumerate(self._rows) if i is not None), 0)
            self.combo.setCurrentIndex(chosen)
        self.combo.setEnabled(bool(self._models))
        self._selection_changed()

    def refresh(self) -> None:
        """List the stored models again (no TensorFlow), keeping the selected folder if it is
        still there; folders that could not be listed go to `problems`."""
        models, problems = list_models(task="slices")
        self.problems = problems
        self.set_models(models)

    def models(self) -> list[ModelInfo]:
        return list(self._models)

    def current_model(self) -> ModelInfo | None:
        return self._model_at(self.combo.currentIndex())

    def select_model(self, path_or_name: str | Path, *, ask: bool = True) -> bool:
        """Select the model in the folder `path_or_name`, else the first one of that name (or
        folder name). A model marked not usable is selected only after the user confirms
        (`ask`; without it, at once). False when none matches or the user declines; the
        selection is then left as it was."""
        row = self._find(path_or_name)
        if row is None:
            return False
        info = self._model_at(row)
        if info is not None and info != self._current and ask and not self.confirm_use(info):
            return False
        with QSignalBlocker(self.combo):
            self.combo.setCurrentIndex(row)
        self._selection_changed()
        return True

    def confirm_use(self, info: ModelInfo) -> bool:
        """True when `info` may be used: a usable model, or one the user confirms in a dialog."""
        return info.manifest.usability.usable or self._confirm(info)

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

    def _add_model_row(self, row: int, info: ModelInfo, names: Counter[str]) -> None:
        self.combo.addItem(model_item_text(info, names[info.manifest.name] > 1))
        tooltip = model_details(info)
        if not info.manifest.usability.usable:
            tooltip = usability_text(info.manifest) + "\n\n" + tooltip
        self.combo.setItemData(row, tooltip, Qt.ItemDataRole.ToolTipRole)

    def _add_heading(self, *, separator: bool) -> None:
        if separator:
            self.combo.insertSeparator(self.combo.count())
            self._rows.append(None)
        self.combo.addItem(NOT_USABLE_HEADING)
        self._rows.append(None)
        model = self.combo.model()
        if isinstance(model, QStandardItemModel):
            item = model.item(self.combo.count() - 1)
            if item is not None:
                item.setEnabled(False)
                item.setSelectable(False)

    def _model_at(self, row: int) -> ModelInfo | None:
        index = self._rows[row] if 0 <= row < len(self._rows) else None
        return self._models[index] if index is not None else None

    def _row_of(self, info: ModelInfo | None) -> int | None:
        for row, index in enumerate(self._rows):
            if index is not None and info is not None and self._models[index] == info:
                return row
        return None

    def _find(self, path_or_name: str | Path) -> int | None:
        wanted = Path(path_or_name)
        rows = [(row, self._models[i]) for row, i in enumerate(self._rows) if i is not None]
        for row, info in rows:
            if _same_folder(info.path, wanted):
                return row
        text = str(path_or_name)
        for row, info in rows:
            if text in (info.manifest.name, info.path.name):
                return row
        return None

    def _confirm(self, info: ModelInfo) -> bool:
        agreed = ask_to_use_not_usable(info, self)
        logger.info("use of not-usable model %s %s", info.manifest.name,
                    "confirmed" if agreed else "declined")  # fmt: skip
        return agreed

    def _index_changed(self, row: int) -> None:
        info = self._model_at(row)
        if info is None or (info != self._current and not self.confirm_use(info)):
            # The heading was chosen, or the user declined: back to the model selected before.
            back = self._row_of(self._current)
            with QSignalBlocker(self.combo):
                self.combo.setCurrentIndex(back if back is not None else 0)
            return
        self._selection_changed()

    def _selection_changed(self) -> None:
        info = self.current_model()
        self.details_button.setEnabled(info is not None)
        self.demo_label.setVisible(info is not None and info.manifest.demo)
        usable = info is None or info.manifest.usability.usable
        # The first failing check under the combo box; all of them in the tooltip.
        reason = "" if info is None or usable else info.manifest.usability.reason
        self.usability_label.setText(f"\u26a0 {NOT_USABLE_MARK}: {reason.split('; ')[0]}")
        self.usability_label.setToolTip(usability_text(info.manifest) if reason and info else "")
        self.usability_label.setVisible(not usable)
        self.combo.setToolTip(model_summary(info.manifest) if info is not None else "")
        if info != self._current:
            self._current = info
            logger.debug("model selected: %s", info.manifest.name if info else None)
            self.model_changed.emit(info)

    def _style_demo_label(self) -> None:
        colours = status_colours(self.palette())
        self.demo_label.setStyleSheet(
            f"QLabel {{ color: {colours.warning.name()}; font-weight: bold; }}"
        )
        self.usability_label.setStyleSheet(
            f"QLabel {{ color: {colours.positive.name()}; font-weight: bold; }}"
        )

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

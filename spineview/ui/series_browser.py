"""The study/series tree: a thumbnail, the detected type, description and slice count per series."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QImage, QPainter, QPixmap
from PySide6.QtWidgets import QHeaderView, QTreeWidget, QTreeWidgetItem, QWidget

from spineview.core.level_display import SeriesLevel, no_levels_text, order_by_level
from spineview.core.text import format_dicom_date
from spineview.dicom.index import SeriesInfo, StudyInfo
from spineview.workers import THUMBNAIL_SIZE

KEY_ROLE = Qt.ItemDataRole.UserRole
LEVELS_FOUND_HERE = "levels found here"
ICON_SIZE = 56


class SeriesBrowser(QTreeWidget):
    """Studies as top-level rows, their series below; selecting a series emits its key."""

    series_selected = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setColumnCount(3)
        self.setHeaderLabels(["Series", "Type", "Slices"])
        self.setIconSize(QSize(ICON_SIZE, ICON_SIZE))
        self.setRootIsDecorated(True)
        self.setUniformRowHeights(False)
        self.setAlternatingRowColors(True)
        header = self.header()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(False)
        self._items: dict[str, QTreeWidgetItem] = {}
        self._types: dict[str, tuple[str, str]] = {}
        """The Type column's own text and tooltip per key (a result goes under them)."""
        self._results: dict[str, str] = {}
        self._studies: dict[str, QTreeWidgetItem] = {}
        self._names: dict[str, tuple[str, str, str]] = {}
        """Per key: the series' name, its name as listed (with its stack) and its tooltip,
        as they are without levels."""
        self._placeholder = _placeholder_icon()
        self.itemSelectionChanged.connect(self._selection_changed)

    def set_studies(self, studies: list[StudyInfo]) -> None:
        self.clear()
        self._items.clear()
        self._types.clear()
        self._results.clear()
        self._studies.clear()
        self._names.clear()
        for study in studies:
            date = format_dicom_date(study.study_date) or "no date"
            title = f"{date}  {study.description or '(no study description)'}"
            study_item = QTreeWidgetItem(self, [title])
            study_item.setFirstColumnSpanned(True)
            study_item.setToolTip(0, f"{title}\n{len(study.series)} series")
            study_item.setFlags(study_item.flags() & ~Qt.ItemFlag.ItemIsSelectable)
            font = study_item.font(0)
            font.setBold(True)
            study_item.setFont(0, font)
            for series in study.series:
                self._items[series.key] = self._series_item(study_item, series)
            study_item.setExpanded(True)
            self._studies[study.study_uid] = study_item

    def _series_item(self, parent: QTreeWidgetItem, series: SeriesInfo) -> QTreeWidgetItem:
        number = f"{series.series_number}  " if series.series_number is not None else ""
        label = series.series_type.label
        if label == "other" and series.plane:
            label = f"other, {series.plane}"
        stack = next((n.split(":")[0] for n in series.notes if n.startswith("stack ")), "")
        name = text = f"{number}{series.description or '(no description)'}"
        if stack:
            text += f"  ({stack.replace(' of ', '/')})"
        item = QTreeWidgetItem(parent, [text, label, str(series.n_slices)])  # fmt: skip
        item.setData(0, KEY_ROLE, series.key)
        item.setIcon(0, self._placeholder)
        item.setTextAlignment(2, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        notes = [series.series_type.reason, *series.notes]
        if series.order_uncertain:
            notes.append(series.order_note)
        tooltip = "\n".join(n for n in notes if n)
        item.setToolTip(0, tooltip)
        self._names[series.key] = (name, text, tooltip)
        item.setToolTip(1, series.series_type.reason)
        self._types[series.key] = (label, series.series_type.reason)
        return item

    def set_results(self, results: dict[str, tuple[str, str]]) -> None:
        """A classified series' result (short text, tooltip) under its type, per series key;
        the others show their type only (not classified by the current model)."""
        self._results = {key: text for key, (text, _) in results.items()}
        for key, item in self._items.items():
            label, reason = self._types[key]
            text, tooltip = results.get(key, ("", ""))
            item.setText(1, f"{label}\n{text}" if text else label)
            item.setToolTip(1, f"{reason}\n\n{tooltip}" if tooltip else reason)

    def set_levels(
        self,
        study_uid: str,
        levels: dict[str, SeriesLevel],
        source_key: str | None,
        reason: str,
        found: bool,
    ) -> None:
        """A study's disc levels: each axial series named by its level (a first line
        "L4/L5 (+0.4 mm)" over "3  T2W_TSE_TRA": the list is narrow) and those sorted head to
        feet, the series they were found on marked; without levels (`found` False) the
        study's row says why."""
        study_item = self._studies.get(study_uid)
        if study_item is None:
            return
        selected = self.selected_key()
        title = study_item.text(0).split("\n")[0]
        study_item.setText(0, title if found else f"{title}\n{no_levels_text(reason)}")
        tooltip = study_item.toolTip(0).split("\n\n")[0]
        said = (f"Disc levels: {reason}" if reason else "Disc levels found") if found else None
        study_item.setToolTip(0, f"{tooltip}\n\n{said or no_levels_text(reason)}")
        children = study_item.takeChildren()
        for item in children:
            key = str(item.data(0, KEY_ROLE))
            name, text, tooltip = self._names[key]
            level = levels.get(key)
            if level is not None:
                text, tooltip = f"{level.text}\n{name}", f"{level.tooltip}\n{tooltip}"
            elif key == source_key and found:
                text, tooltip = f"{text}\n{LEVELS_FOUND_HERE}", f"{reason}\n{tooltip}"
            item.setText(0, text)
            item.setToolTip(0, tooltip.strip())
        study_item.addChildren(
            order_by_level(children, lambda item: levels.get(str(item.data(0, KEY_ROLE))))
        )
        if selected is not None:
            self.blockSignals(True)
            self.select(selected)
            self.blockSignals(False)

    def series_texts(self, study_uid: str) -> list[str]:
        """The first column of a study's series rows, in list order."""
        study_item = self._studies.get(study_uid)
        if study_item is None:
            return []
        children = (study_item.child(i) for i in range(study_item.childCount()))
        return [child.text(0) for child in children if child is not None]

    def result_text(self, key: str) -> str:
        """What the list says about the series' result ("" when not classified)."""
        return self._results.get(key, "")

    def set_thumbnail(self, key: str, pixels: np.ndarray) -> None:
        item = self._items.get(key)
        if item is not None:
            item.setIcon(0, QIcon(_pixmap(pixels)))

    def select(self, key: str) -> None:
        item = self._items.get(key)
        if item is not None:
            self.setCurrentItem(item)

    def selected_key(self) -> str | None:
        item = self.currentItem()
        value = item.data(0, KEY_ROLE) if item is not None else None
        return str(value) if value else None

    def series_keys(self) -> list[str]:
        return list(self._items)

    def has_thumbnail(self, key: str) -> bool:
        item = self._items.get(key)
        return item is not None and item.icon(0).cacheKey() != self._placeholder.cacheKey()

    def _selection_changed(self) -> None:
        key = self.selected_key()
        if key is not None:
            self.series_selected.emit(key)


def _pixmap(pixels: np.ndarray) -> QPixmap:
    """A square icon with the thumbnail centred (QImage copies the buffer)."""
    data = np.ascontiguousarray(pixels, dtype=np.uint8)
    height, width = data.shape
    image = QImage(data.data, width, height, width, QImage.Format.Format_Grayscale8).copy()
    canvas = QPixmap(THUMBNAIL_SIZE, THUMBNAIL_SIZE)
    canvas.fill(QColor("black"))
    painter = QPainter(canvas)
    scaled = QPixmap.fromImage(image).scaled(
        THUMBNAIL_SIZE, THUMBNAIL_SIZE, Qt.AspectRatioMode.KeepAspectRatio,
        Qt.TransformationMode.SmoothTransformation,
    )  # fmt: skip
    painter.drawPixmap((THUMBNAIL_SIZE - scaled.width()) // 2,
                       (THUMBNAIL_SIZE - scaled.height()) // 2, scaled)  # fmt: skip
    painter.end()
    return canvas


def _placeholder_icon() -> QIcon:
    canvas = QPixmap(THUMBNAIL_SIZE, THUMBNAIL_SIZE)
    canvas.fill(QColor(40, 40, 40))
    return QIcon(canvas)

"""The Measurements dock: the active series' distances and angles (Slice, Kind, Value), with
Delete and Export CSV / JSON buttons. It only shows and asks; `MeasurementsController` acts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from spineview.ui.shortcuts import BY_ACTION

_ID_ROLE = Qt.ItemDataRole.UserRole


@dataclass(frozen=True)
class MeasurementLine:
    """One row of the list."""

    measurement_id: int
    slice_number: int  # 1-based, as the viewer shows it
    kind: str
    value: str


def empty_hint() -> str:
    distance, angle = (BY_ACTION[name].keys[0] for name in ("measure_distance", "measure_angle"))
    return f"No measurements on this series. {distance}: distance, {angle}: angle."


class MeasurementsPanel(QWidget):
    """A title line, the list, and Delete / Export buttons."""

    row_chosen = Signal(int)
    """A row was clicked (the measurement's id)."""
    delete_requested = Signal()
    export_requested = Signal(str)
    """"csv" or "json"."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel(empty_hint(), self)
        self.title.setWordWrap(True)
        self.list = QTreeWidget(self)
        self.list.setObjectName("measurementsList")
        self.list.setHeaderLabels(["Slice", "Kind", "Value"])
        self.list.setRootIsDecorated(False)
        self.list.setUniformRowHeights(True)
        self.list.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        header = self.list.header()
        header.setStretchLastSection(True)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.list.itemClicked.connect(self._clicked)
        self.list.itemActivated.connect(self._clicked)
        self.list.itemSelectionChanged.connect(self._selection_changed)
        self.delete_button = QPushButton("Delete")
        delete_keys = " / ".join(BY_ACTION["measure_delete"].keys)
        self.delete_button.setToolTip(f"Delete the selected measurement ({delete_keys})")
        self.delete_button.clicked.connect(self.delete_requested)
        self.csv_button = QPushButton("Export CSV…")
        self.json_button = QPushButton("Export JSON…")
        for button, kind in ((self.csv_button, "csv"), (self.json_button, "json")):
            button.setToolTip(f"Save every series' measurements of this study as {kind.upper()}")
            button.clicked.connect(lambda _=False, k=kind: self.export_requested.emit(k))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.title)
        layout.addWidget(self.list, 1)
        for row in ((self.delete_button,), (self.csv_button, self.json_button)):
            buttons = QHBoxLayout()  # two short rows: the dock stays narrow
            for button in row:
                buttons.addWidget(button)
            buttons.addStretch(1)
            layout.addLayout(buttons)
        self.set_lines("", [], exportable=False)

    def sizeHint(self) -> QSize:
        return QSize(250, 240)  # narrow: the images keep the room

    def set_lines(
        self, series_name: str, lines: Sequence[MeasurementLine], *, exportable: bool
    ) -> None:
        """Show `lines` (of the series called `series_name`); `exportable`: the study has
        measurements (on any series)."""
        selected = self.selected_id()
        self.list.clear()
        for line in lines:
            item = QTreeWidgetItem([str(line.slice_number), line.kind, line.value])
            item.setData(0, _ID_ROLE, line.measurement_id)
            self.list.addTopLevelItem(item)
        count = len(lines)
        if count:
            plural = "measurement" if count == 1 else "measurements"
            self.title.setText(f"{series_name}: {count} {plural}")
        else:
            self.title.setText(empty_hint())
        self.select(selected)
        for button in (self.csv_button, self.json_button):
            button.setEnabled(exportable)

    def select(self, measurement_id: int | None) -> None:
        """Highlight the row of a measurement (None or unknown: no row)."""
        self.list.blockSignals(True)
        self.list.clearSelection()
        for item in self._items():
            if item.data(0, _ID_ROLE) == measurement_id:
                item.setSelected(True)
                self.list.setCurrentItem(item)
        self.list.blockSignals(False)
        self.delete_button.setEnabled(self.selected_id() is not None)

    def selected_id(self) -> int | None:
        items = self.list.selectedItems()
        return int(items[0].data(0, _ID_ROLE)) if items else None

    def row_texts(self) -> list[tuple[str, str, str]]:
        """What the list shows (tests)."""
        return [(item.text(0), item.text(1), item.text(2)) for item in self._items()]

    def _items(self) -> list[QTreeWidgetItem]:
        items = (self.list.topLevelItem(row) for row in range(self.list.topLevelItemCount()))
        return [item for item in items if item is not None]

    def _clicked(self, item: QTreeWidgetItem, _column: int) -> None:
        self.row_chosen.emit(int(item.data(0, _ID_ROLE)))

    def _selection_changed(self) -> None:
        self.delete_button.setEnabled(self.selected_id() is not None)

"""The result page of a level or grading model's training run: a rich-text summary above a
read-only table of the test figures."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget


class ResultTable(QWidget):
    """A summary label and a table with named rows and columns; `cell` reads it back."""

    def __init__(
        self, rows: Sequence[str], columns: Sequence[str], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.rows, self.columns = list(rows), list(columns)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.summary.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.table = QTableWidget(len(self.rows), len(self.columns))
        self.table.setHorizontalHeaderLabels(self.columns)
        self.table.setVerticalHeaderLabels(self.rows)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        layout.addWidget(self.summary)
        layout.addWidget(self.table, 1)

    def set_cell(self, row: int, column: int, text: str) -> None:
        item = QTableWidgetItem(text)
        item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.table.setItem(row, column, item)

    def cell(self, row: str, column: str) -> str:
        """The table's text at a named row and column (tests)."""
        item = self.table.item(self.rows.index(row), self.columns.index(column))
        return item.text() if item is not None else ""

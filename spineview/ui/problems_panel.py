"""The problems panel: files that could not be read, one row each (File, Problem, Kind).

The File column shows the file name with the full path in its tooltip; double-clicking a row or
its "Copy path" context action puts the full path on the clipboard. `count_changed` carries the
number of rows whenever it changes (the main window shows it in the dock title).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePath

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

FILE_COLUMN_MAX_CHARS = 28
KIND_COLUMN_MAX_CHARS = 20


@dataclass(frozen=True)
class ProblemItem:
    path: str
    reason: str
    kind: str


def problems_summary(count: int) -> str:
    """The line above the list: "No problems", "1 file could not be read", "3 files ..."."""
    if count == 0:
        return "No problems"
    return f"{count} file{'' if count == 1 else 's'} could not be read"


def display_name(path: str) -> str:
    """The file name shown in the File column (the path itself when it has no name part)."""
    return PurePath(path).name or path


class ProblemsPanel(QWidget):
    """A summary line above a File/Problem/Kind list of unreadable files."""

    count_changed = Signal(int)
    path_copied = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._items: list[ProblemItem] = []
        self._summary = QLabel(problems_summary(0), self)
        self._summary.setObjectName("problemsSummary")

        self._tree = QTreeWidget(self)
        self._tree.setObjectName("problemsList")
        self._tree.setColumnCount(3)
        self._tree.setHeaderLabels(["File", "Problem", "Kind"])
        self._tree.setRootIsDecorated(False)
        self._tree.setUniformRowHeights(True)
        self._tree.setAlternatingRowColors(True)
        self._tree.setSortingEnabled(False)
        self._tree.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self._tree.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self._tree.setTextElideMode(Qt.TextElideMode.ElideRight)
        self._tree.setWordWrap(False)
        header = self._tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Interactive)
        header.setMinimumSectionSize(60)
        self._tree.setColumnWidth(0, 160)
        self._tree.setColumnWidth(2, 100)
        self._tree.itemDoubleClicked.connect(self._copy_item_path)
        copy_action = QAction("Copy path", self._tree)
        copy_action.triggered.connect(self.copy_selected_paths)
        self._tree.addAction(copy_action)
        self._tree.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        layout.addWidget(self._summary)
        layout.addWidget(self._tree, 1)

    def set_problems(self, items: Sequence[ProblemItem]) -> None:
        """Replace the list with `items` (in the given order)."""
        before = self.count()
        self._items.clear()
        self._tree.clear()
        self._append(items)
        self._count_updated(before)

    def add_problems(self, items: Sequence[ProblemItem]) -> None:
        """Append `items` below the rows already shown."""
        before = self.count()
        self._append(items)
        self._count_updated(before)

    def clear(self) -> None:
        before = self.count()
        self._items.clear()
        self._tree.clear()
        self._count_updated(before)

    def count(self) -> int:
        return len(self._items)

    def problems(self) -> list[ProblemItem]:
        """The rows shown, in order."""
        return list(self._items)

    def summary_text(self) -> str:
        return self._summary.text()

    def copy_paths(self, paths: Sequence[str]) -> None:
        """Put `paths` on the clipboard, one per line, and announce it through `path_copied`."""
        if not paths:
            return
        text = "\n".join(paths)
        QGuiApplication.clipboard().setText(text)
        self.path_copied.emit(text)

    def copy_selected_paths(self) -> None:
        """Copy the full paths of the selected rows (the "Copy path" action)."""
        rows = sorted(self._tree.indexOfTopLevelItem(item) for item in self._tree.selectedItems())
        self.copy_paths([self._items[row].path for row in rows])

    def _append(self, items: Sequence[ProblemItem]) -> None:
        rows = []
        for problem in items:
            row = QTreeWidgetItem([display_name(problem.path), problem.reason, problem.kind])
            row.setToolTip(0, problem.path)
            row.setToolTip(1, problem.reason)
            row.setToolTip(2, problem.kind)
            rows.append(row)
        self._items.extend(items)
        self._tree.addTopLevelItems(rows)
        if rows:
            self._fit_side_columns()

    def _fit_side_columns(self) -> None:
        """File and Kind as wide as their text up to a cap; Problem takes the rest."""
        char_width = self._tree.fontMetrics().averageCharWidth()
        for column, max_chars in ((0, FILE_COLUMN_MAX_CHARS), (2, KIND_COLUMN_MAX_CHARS)):
            self._tree.resizeColumnToContents(column)
            cap = char_width * max_chars
            self._tree.setColumnWidth(column, min(self._tree.columnWidth(column), cap))

    def _count_updated(self, before: int) -> None:
        after = self.count()
        self._summary.setText(problems_summary(after))
        if after != before:
            self.count_changed.emit(after)

    def _copy_item_path(self, item: QTreeWidgetItem, _column: int) -> None:
        self.copy_paths([self._items[self._tree.indexOfTopLevelItem(item)].path])

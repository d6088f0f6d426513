"""The DICOM tag browser: a search field above a two-column, read-only Attribute/Value table.

The filter (a case-insensitive substring of the keyword or the value) survives `set_tags`, so a
user can keep searching while scrolling through slices. Long values are elided in the cell and
shown whole in the tooltip; Ctrl+C copies the selected rows as "Keyword<TAB>Value" lines.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QAction, QGuiApplication, QKeyEvent, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QLineEdit,
    QSizePolicy,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from spineview.core.series import Series

NO_IMAGE_TEXT = "No image selected"
ATTRIBUTE_COLUMN_MAX_WIDTH = 260
CELL_PADDING = 12


def tag_matches(keyword: str, value: str, text: str) -> bool:
    """Whether `text` occurs in the keyword or the value, ignoring case (empty text matches)."""
    needle = text.strip().casefold()
    return not needle or needle in keyword.casefold() or needle in value.casefold()


def rows_as_text(rows: Sequence[tuple[str, str]]) -> str:
    """Rows as "Keyword<TAB>Value" lines (what Ctrl+C puts on the clipboard)."""
    return "\n".join(f"{keyword}\t{value}" for keyword, value in rows)


def _single_line(value: str) -> str:
    """Multi-line values (some text tags) shown on one line; the tooltip keeps the original."""
    return " ".join(value.splitlines()) if "\n" in value or "\r" in value else value


class _TagTable(QTableWidget):
    """The read-only Attribute/Value table; Ctrl+C copies whole selected rows, not one cell."""

    def __init__(self, browser: TagBrowser) -> None:
        super().__init__(0, 2, browser)
        self._browser = browser
        self.setHorizontalHeaderLabels(["Attribute", "Value"])
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setSortingEnabled(False)
        self.setAlternatingRowColors(True)
        self.setWordWrap(False)
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.verticalHeader().hide()
        self.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 6)
        header = self.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        header.setHighlightSections(False)

        # The key itself is handled in keyPressEvent (no QShortcut that could clash with a
        # window-wide Copy action); the menu only shows it.
        copy_keys = QKeySequence(QKeySequence.StandardKey.Copy)
        copy_action = QAction(
            f"Copy\t{copy_keys.toString(QKeySequence.SequenceFormat.NativeText)}", self
        )
        copy_action.triggered.connect(browser.copy_selection)
        self.addAction(copy_action)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)

    def event(self, event: QEvent) -> bool:
        # Claim Ctrl+C while focused, before any window-wide shortcut sees it.
        if (
            event.type() == QEvent.Type.ShortcutOverride
            and isinstance(event, QKeyEvent)
            and event.matches(QKeySequence.StandardKey.Copy)
        ):
            event.accept()
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.matches(QKeySequence.StandardKey.Copy):
            self._browser.copy_selection()
            event.accept()
            return
        super().keyPressEvent(event)


class TagBrowser(QWidget):
    """Search field, title, and the Attribute/Value table of one image's tags."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._rows: list[tuple[str, str]] = []

        self._search = QLineEdit(self)
        self._search.setObjectName("tagSearch")
        self._search.setPlaceholderText("Search tags…")
        self._search.setClearButtonEnabled(True)
        self._search.textChanged.connect(self._apply_filter)

        self._title = QLabel(self)
        self._title.setObjectName("tagTitle")
        self._title.setTextFormat(Qt.TextFormat.PlainText)
        # A long file name must not force the dock wider: ignore the label's own width.
        self._title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        font = self._title.font()
        font.setPointSizeF(max(font.pointSizeF() * 0.9, 7.0))
        self._title.setFont(font)
        self._title.hide()

        self._table = _TagTable(self)
        self._table.setObjectName("tagTable")

        self._empty = QLabel(NO_IMAGE_TEXT, self)
        self._empty.setObjectName("tagEmpty")
        self._empty.setTextFormat(Qt.TextFormat.PlainText)
        self._empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._empty.setWordWrap(True)
        self._empty.setEnabled(False)  # drawn in the palette's disabled (grey) text colour

        self._stack = QStackedWidget(self)
        self._stack.addWidget(self._table)
        self._stack.addWidget(self._empty)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        layout.addWidget(self._search)
        layout.addWidget(self._title)
        layout.addWidget(self._stack, 1)
        self._show_empty_state()

    def set_tags(self, tags: Mapping[str, str], title: str = "") -> None:
        """Show `tags` (keyword → value, in the given order) and keep the current filter."""
        self._rows = [(str(keyword), str(value)) for keyword, value in tags.items()]
        self._title.setText(title)
        self._title.setToolTip(title)
        self._title.setVisible(bool(title))
        table = self._table
        table.setUpdatesEnabled(False)
        try:
            table.clearContents()
            table.setRowCount(len(self._rows))
            for row, (keyword, value) in enumerate(self._rows):
                keyword_item = QTableWidgetItem(keyword)
                keyword_item.setToolTip(keyword)
                value_item = QTableWidgetItem(_single_line(value))
                value_item.setToolTip(value)
                table.setItem(row, 0, keyword_item)
                table.setItem(row, 1, value_item)
            if self._rows:
                table.resizeColumnToContents(0)
                width = min(table.columnWidth(0) + CELL_PADDING, ATTRIBUTE_COLUMN_MAX_WIDTH)
                table.setColumnWidth(0, width)
        finally:
            table.setUpdatesEnabled(True)
        self._apply_filter()

    def clear(self) -> None:
        """No image: empty table and the "No image selected" state (the filter stays)."""
        self.set_tags({})

    def show_slice(self, series: Series | None, index: int, decoded: bool) -> None:
        """The tags of slice `index` of `series`, titled with its number and file; cleared
        while there is no series or the slice is still being decoded."""
        if series is None or not decoded:
            self.clear()
            return
        source = series.source_files[index]
        self.set_tags(
            series.slice_tags[index], f"Slice {index + 1}/{series.n_slices} · {source.name}"
        )

    def filter_text(self) -> str:
        return self._search.text()

    def set_filter_text(self, text: str) -> None:
        self._search.setText(text)

    def focus_search(self) -> None:
        """Put the cursor in the search field with its text selected (for a Find shortcut)."""
        self._search.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self._search.selectAll()

    def visible_rows(self) -> list[tuple[str, str]]:
        """(keyword, value) of the rows the filter leaves visible, in display order."""
        return [row for index, row in enumerate(self._rows) if not self._table.isRowHidden(index)]

    def selected_rows(self) -> list[tuple[str, str]]:
        """(keyword, value) of the selected visible rows, in display order."""
        selected = {index.row() for index in self._table.selectionModel().selectedRows()}
        return [
            row
            for index, row in enumerate(self._rows)
            if index in selected and not self._table.isRowHidden(index)
        ]

    def copy_selection(self) -> None:
        """Put the selected rows on the clipboard as "Keyword<TAB>Value" lines."""
        rows = self.selected_rows()
        if rows:
            QGuiApplication.clipboard().setText(rows_as_text(rows))

    def _apply_filter(self) -> None:
        text = self._search.text()
        for index, (keyword, value) in enumerate(self._rows):
            self._table.setRowHidden(index, not tag_matches(keyword, value, text))
        if not self._rows:
            self._show_empty_state()
        elif not self.visible_rows():
            self._empty.setText(f"No tag matches “{text.strip()}”")
            self._stack.setCurrentWidget(self._empty)
        else:
            self._stack.setCurrentWidget(self._table)

    def _show_empty_state(self) -> None:
        self._empty.setText(NO_IMAGE_TEXT)
        self._stack.setCurrentWidget(self._empty)

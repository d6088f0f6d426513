"""Help → Keyboard shortcuts: every entry of `spineview.ui.shortcuts`, grouped, then the mouse.

Nothing is written here twice: the rows come from `SHORTCUTS` and `MOUSE_GESTURES`, the same
table the main window builds its actions from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from spineview.ui.shortcuts import MOUSE_GESTURES, SHORTCUTS, MouseGesture, Shortcut

MOUSE_GROUP = "Mouse"
KEY_SEPARATOR = " / "


@dataclass(frozen=True)
class ShortcutRow:
    """One line of the dialog: a group header (`description` empty) or a keys/description pair."""

    keys: str
    description: str
    is_group: bool = False


def shortcut_rows(
    shortcuts: Sequence[Shortcut] = SHORTCUTS, gestures: Sequence[MouseGesture] = MOUSE_GESTURES
) -> list[ShortcutRow]:
    """The dialog's rows: shortcuts grouped by `group` (first-seen order), then the gestures."""
    groups: dict[str, list[Shortcut]] = {}
    for shortcut in shortcuts:
        groups.setdefault(shortcut.group, []).append(shortcut)
    rows: list[ShortcutRow] = []
    for group, members in groups.items():
        rows.append(ShortcutRow(group, "", is_group=True))
        rows.extend(ShortcutRow(KEY_SEPARATOR.join(s.keys), s.description) for s in members)
    if gestures:
        rows.append(ShortcutRow(MOUSE_GROUP, "", is_group=True))
        rows.extend(ShortcutRow(g.gesture, g.description) for g in gestures)
    return rows


class ShortcutsDialog(QDialog):
    """A read-only table of the keyboard shortcuts and mouse gestures, with a Close button."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        self.setSizeGripEnabled(True)
        rows = shortcut_rows()

        self._table = QTableWidget(len(rows), 2, self)
        self._table.setObjectName("shortcutsTable")
        self._table.setHorizontalHeaderLabels(["Keys", "Action"])
        self._table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self._table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self._table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self._table.setSortingEnabled(False)
        self._table.setShowGrid(False)
        self._table.setWordWrap(True)
        self._table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._table.verticalHeader().hide()
        # Row heights follow the wrapped descriptions whenever the column widths change.
        self._table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header = self._table.horizontalHeader()
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        header.setHighlightSections(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)

        bold = self._table.font()
        bold.setBold(True)
        group_background = self.palette().brush(QPalette.ColorRole.Window)
        for index, row in enumerate(rows):
            keys = QTableWidgetItem(row.keys)
            if row.is_group:
                keys.setFont(bold)
                keys.setBackground(group_background)
                self._table.setItem(index, 0, keys)
                self._table.setSpan(index, 0, 1, 2)
            else:
                self._table.setItem(index, 0, keys)
                self._table.setItem(index, 1, QTableWidgetItem(row.description))

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(self._table, 1)
        layout.addWidget(buttons)
        self.resize(620, 640)

    def row_texts(self) -> list[tuple[str, str]]:
        """(keys or group, description) of every table row, as shown ("" for group rows)."""
        texts: list[tuple[str, str]] = []
        for index in range(self._table.rowCount()):
            keys = self._table.item(index, 0)
            description = self._table.item(index, 1)
            texts.append((keys.text() if keys else "", description.text() if description else ""))
        return texts

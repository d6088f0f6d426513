"""ShortcutsDialog lists the shortcut table (nothing hard-coded) and fits at ~620 px."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QDialogButtonBox, QTableWidget
from pytestqt.qtbot import QtBot

from spineview.ui.shortcuts import MOUSE_GESTURES, SHORTCUTS, MouseGesture, Shortcut
from spineview.ui.shortcuts_dialog import ShortcutRow, ShortcutsDialog, shortcut_rows


def test_rows_grouped_in_first_seen_order_then_gestures() -> None:
    shortcuts = (
        Shortcut("a", ("Ctrl+A",), "Alpha", "One"),
        Shortcut("b", ("B", "Shift+B"), "Beta", "Two"),
        Shortcut("c", ("C",), "Gamma", "One"),
    )
    gestures = (MouseGesture("Wheel", "Scroll"),)
    assert shortcut_rows(shortcuts, gestures) == [
        ShortcutRow("One", "", is_group=True),
        ShortcutRow("Ctrl+A", "Alpha"),
        ShortcutRow("C", "Gamma"),
        ShortcutRow("Two", "", is_group=True),
        ShortcutRow("B / Shift+B", "Beta"),
        ShortcutRow("Mouse", "", is_group=True),
        ShortcutRow("Wheel", "Scroll"),
    ]


@pytest.fixture
def dialog(qtbot: QtBot) -> ShortcutsDialog:
    widget = ShortcutsDialog()
    qtbot.addWidget(widget)
    return widget


@pytest.mark.gui
def test_one_row_per_shortcut_gesture_and_group(dialog: ShortcutsDialog) -> None:
    assert dialog.windowTitle() == "Keyboard shortcuts"
    groups = {shortcut.group for shortcut in SHORTCUTS}
    rows = dialog.row_texts()
    assert len(rows) == len(SHORTCUTS) + len(MOUSE_GESTURES) + len(groups) + 1
    for shortcut in SHORTCUTS:
        assert (" / ".join(shortcut.keys), shortcut.description) in rows
    for gesture in MOUSE_GESTURES:
        assert (gesture.gesture, gesture.description) in rows
    keys = [key for key, _ in rows]
    assert "Ctrl+O" in keys
    assert "Down / Right" in keys
    assert "Right drag" in keys
    assert rows[-len(MOUSE_GESTURES) - 1] == ("Mouse", "")


@pytest.mark.gui
def test_group_rows_are_bold_and_span_the_table(dialog: ShortcutsDialog) -> None:
    table = dialog.findChild(QTableWidget, "shortcutsTable")
    assert table is not None
    group_names = {shortcut.group for shortcut in SHORTCUTS} | {"Mouse"}
    seen = set()
    for row in range(table.rowCount()):
        item = table.item(row, 0)
        assert item is not None
        is_group = table.item(row, 1) is None
        assert item.font().bold() == is_group
        if is_group:
            assert table.columnSpan(row, 0) == 2
            seen.add(item.text())
    assert seen == group_names


@pytest.mark.gui
def test_read_only_and_fits_without_horizontal_scrolling(
    dialog: ShortcutsDialog, qtbot: QtBot
) -> None:
    dialog.resize(620, 600)
    dialog.show()
    qtbot.waitExposed(dialog)
    table = dialog.findChild(QTableWidget, "shortcutsTable")
    assert table is not None
    assert table.editTriggers() == QTableWidget.EditTrigger.NoEditTriggers
    assert table.horizontalScrollBar().maximum() == 0
    assert table.columnWidth(0) + table.columnWidth(1) <= table.viewport().width()
    # Every keys cell fits its column.
    metrics = table.fontMetrics()
    widest = max(metrics.horizontalAdvance(key) for key, _ in dialog.row_texts())
    assert widest <= table.columnWidth(0)


@pytest.mark.gui
def test_close_button_closes(dialog: ShortcutsDialog, qtbot: QtBot) -> None:
    dialog.show()
    qtbot.waitExposed(dialog)
    buttons = dialog.findChild(QDialogButtonBox)
    assert buttons is not None
    close = buttons.button(QDialogButtonBox.StandardButton.Close)
    assert close is not None
    with qtbot.waitSignal(dialog.rejected):
        close.click()
    assert not dialog.isVisible()

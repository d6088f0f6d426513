"""TagBrowser: filtering (kept across set_tags), tooltips, Ctrl+C, empty state."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QLabel,
    QLineEdit,
    QStackedWidget,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)
from pytestqt.qtbot import QtBot

from spineview.ui.tag_browser import TagBrowser, rows_as_text, tag_matches

TAGS = {
    "PatientPosition": "HFS",
    "Modality": "MR",
    "SeriesDescription": "SAG T2 FSE",
    "ImagePositionPatient": "-12.5, -120.25, 130.75",
    "SliceThickness": "4",
    "ImageComments": "A very long comment " * 20,
}


def test_tag_matches_is_case_insensitive_on_keyword_or_value() -> None:
    assert tag_matches("SeriesDescription", "SAG T2", "series")
    assert tag_matches("SeriesDescription", "SAG T2", "t2")
    assert tag_matches("Modality", "MR", "")
    assert not tag_matches("Modality", "MR", "ct")


def test_rows_as_text() -> None:
    assert rows_as_text([("Modality", "MR"), ("SliceThickness", "4")]) == (
        "Modality\tMR\nSliceThickness\t4"
    )


@pytest.fixture
def browser(qtbot: QtBot) -> TagBrowser:
    widget = TagBrowser()
    qtbot.addWidget(widget)
    widget.resize(360, 400)
    return widget


def _table(browser: TagBrowser) -> QTableWidget:
    table = browser.findChild(QTableWidget, "tagTable")
    assert table is not None
    return table


def _empty_label_showing(browser: TagBrowser) -> str | None:
    """The empty-state text when it is what the stack shows, else None."""
    stack = browser.findChild(QStackedWidget)
    assert stack is not None
    current = stack.currentWidget()
    return current.text() if isinstance(current, QLabel) else None


@pytest.mark.gui
def test_layout_and_rows_in_given_order(browser: TagBrowser) -> None:
    search = browser.findChild(QLineEdit, "tagSearch")
    assert search is not None
    assert search.placeholderText() == "Search tags…"
    assert search.isClearButtonEnabled()
    browser.set_tags(TAGS, "Slice 3/15 · IM3.dcm")
    table = _table(browser)
    assert [table.horizontalHeaderItem(c).text() for c in range(2)] == ["Attribute", "Value"]
    assert not table.isSortingEnabled()
    assert table.alternatingRowColors()
    assert table.editTriggers() == QTableWidget.EditTrigger.NoEditTriggers
    assert browser.visible_rows() == list(TAGS.items())
    title = browser.findChild(QLabel, "tagTitle")
    assert title is not None
    assert title.text() == "Slice 3/15 · IM3.dcm"
    assert _empty_label_showing(browser) is None


@pytest.mark.gui
def test_filter_by_keyword_and_by_value(browser: TagBrowser) -> None:
    browser.set_tags(TAGS)
    browser.set_filter_text("position")
    assert [k for k, _ in browser.visible_rows()] == ["PatientPosition", "ImagePositionPatient"]
    browser.set_filter_text("t2 fse")  # value only, other case
    assert browser.visible_rows() == [("SeriesDescription", "SAG T2 FSE")]
    browser.set_filter_text("")
    assert browser.visible_rows() == list(TAGS.items())


@pytest.mark.gui
def test_typing_in_the_search_field_filters_at_once(browser: TagBrowser, qtbot: QtBot) -> None:
    browser.set_tags(TAGS)
    search = browser.findChild(QLineEdit, "tagSearch")
    assert search is not None
    qtbot.keyClicks(search, "MoDa")
    assert browser.visible_rows() == [("Modality", "MR")]


@pytest.mark.gui
def test_filter_survives_set_tags(browser: TagBrowser) -> None:
    browser.set_tags(TAGS, "Slice 1/2")
    browser.set_filter_text("thickness")
    browser.set_tags({"Modality": "MR", "SliceThickness": "5", "Rows": "512"}, "Slice 2/2")
    assert browser.filter_text() == "thickness"
    assert browser.visible_rows() == [("SliceThickness", "5")]


@pytest.mark.gui
def test_no_match_and_no_image_states(browser: TagBrowser) -> None:
    assert _empty_label_showing(browser) == "No image selected"
    browser.set_tags(TAGS)
    browser.set_filter_text("no such tag")
    assert browser.visible_rows() == []
    assert "no such tag" in (_empty_label_showing(browser) or "")
    browser.set_tags({})
    assert _empty_label_showing(browser) == "No image selected"
    browser.set_filter_text("")
    browser.set_tags(TAGS)
    assert _empty_label_showing(browser) is None


@pytest.mark.gui
def test_long_value_elided_with_full_tooltip(browser: TagBrowser, qtbot: QtBot) -> None:
    browser.set_tags(TAGS)
    browser.show()
    qtbot.waitExposed(browser)
    table = _table(browser)
    row = list(TAGS).index("ImageComments")
    item = table.item(row, 1)
    assert item is not None
    assert item.toolTip() == TAGS["ImageComments"]
    assert table.textElideMode() == Qt.TextElideMode.ElideRight
    assert not table.wordWrap()
    # The value really is wider than its cell (so it is drawn elided).
    width_needed = table.fontMetrics().horizontalAdvance(TAGS["ImageComments"])
    assert width_needed > table.columnWidth(1)


@pytest.mark.gui
def test_multiline_value_shown_on_one_line_full_in_tooltip(browser: TagBrowser) -> None:
    browser.set_tags({"ImageComments": "first\nsecond"})
    item = _table(browser).item(0, 1)
    assert item is not None
    assert item.text() == "first second"
    assert item.toolTip() == "first\nsecond"
    assert browser.visible_rows() == [("ImageComments", "first\nsecond")]


@pytest.mark.gui
def test_ctrl_c_copies_selected_rows(browser: TagBrowser, qtbot: QtBot) -> None:
    browser.set_tags(TAGS)
    browser.show()
    qtbot.waitExposed(browser)
    table = _table(browser)
    selection = table.selectionModel()
    flags = QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
    for row in (1, 4):
        selection.select(table.model().index(row, 0), flags)
    QApplication.clipboard().clear()
    table.setFocus()
    qtbot.keyClick(table, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    assert QApplication.clipboard().text() == "Modality\tMR\nSliceThickness\t4"


@pytest.mark.gui
def test_copy_leaves_out_rows_hidden_by_the_filter(browser: TagBrowser) -> None:
    browser.set_tags(TAGS)
    _table(browser).selectAll()
    browser.set_filter_text("slice")
    QApplication.clipboard().clear()
    browser.copy_selection()
    assert QApplication.clipboard().text() == "SliceThickness\t4"


@pytest.mark.gui
def test_ctrl_c_wins_over_a_window_wide_copy_shortcut(qtbot: QtBot) -> None:
    window = QWidget()
    qtbot.addWidget(window)
    browser = TagBrowser(window)
    QVBoxLayout(window).addWidget(browser)
    window_copies: list[bool] = []
    window_copy = QAction("Copy image", window)
    window_copy.setShortcut(QKeySequence.StandardKey.Copy)
    window_copy.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
    window_copy.triggered.connect(lambda: window_copies.append(True))
    window.addAction(window_copy)
    browser.set_tags(TAGS)
    window.show()
    window.activateWindow()
    qtbot.waitExposed(window)
    table = _table(browser)
    table.selectRow(0)
    table.setFocus()
    qtbot.waitUntil(table.hasFocus)
    QApplication.clipboard().clear()
    qtbot.keyClick(table, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    assert QApplication.clipboard().text() == "PatientPosition\tHFS"
    assert window_copies == []

"""ProblemsPanel: rows, summary, count_changed, tooltips, copying paths."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLabel, QTreeWidget
from pytestqt.qtbot import QtBot

from spineview.ui.problems_panel import ProblemItem, ProblemsPanel, problems_summary

BROKEN = ProblemItem("/scans/study/IM0001.dcm", "truncated pixel data", "CorruptPixelDataError")
NOT_DICOM = ProblemItem("/scans/study/notes.dcm", "no DICOM preamble", "not DICOM")
MISSING = ProblemItem("/scans/other/IM9.dcm", "listed in DICOMDIR but missing", "missing")


def test_summary_wording() -> None:
    assert problems_summary(0) == "No problems"
    assert problems_summary(1) == "1 file could not be read"
    assert problems_summary(3) == "3 files could not be read"


@pytest.fixture
def panel(qtbot: QtBot) -> ProblemsPanel:
    widget = ProblemsPanel()
    qtbot.addWidget(widget)
    widget.resize(560, 240)
    return widget


def _tree(panel: ProblemsPanel) -> QTreeWidget:
    tree = panel.findChild(QTreeWidget, "problemsList")
    assert tree is not None
    return tree


def _summary(panel: ProblemsPanel) -> str:
    label = panel.findChild(QLabel, "problemsSummary")
    assert label is not None
    return label.text()


@pytest.mark.gui
def test_starts_empty(panel: ProblemsPanel) -> None:
    assert panel.count() == 0
    assert _summary(panel) == "No problems"
    header = _tree(panel).headerItem()
    assert [header.text(c) for c in range(3)] == ["File", "Problem", "Kind"]


@pytest.mark.gui
def test_set_add_clear_update_count_summary_and_signal(panel: ProblemsPanel) -> None:
    counts: list[int] = []
    panel.count_changed.connect(counts.append)
    panel.set_problems([BROKEN, NOT_DICOM, MISSING])
    assert panel.count() == 3
    assert _summary(panel) == "3 files could not be read"
    panel.add_problems([ProblemItem("/x/y.dcm", "bad", "UnreadableDicomError")])
    assert panel.count() == 4
    assert _summary(panel) == "4 files could not be read"
    panel.set_problems([BROKEN])
    assert _summary(panel) == "1 file could not be read"
    panel.set_problems([MISSING])  # same count: no signal
    panel.add_problems([])  # nothing added: no signal
    panel.clear()
    assert panel.count() == 0
    assert _summary(panel) == "No problems"
    panel.clear()  # already empty: no signal
    assert counts == [3, 4, 1, 0]


@pytest.mark.gui
def test_rows_show_file_name_with_path_tooltip(panel: ProblemsPanel) -> None:
    panel.set_problems([BROKEN, NOT_DICOM])
    tree = _tree(panel)
    first = tree.topLevelItem(0)
    assert first is not None
    assert [first.text(c) for c in range(3)] == [
        "IM0001.dcm",
        "truncated pixel data",
        "CorruptPixelDataError",
    ]
    assert first.toolTip(0) == "/scans/study/IM0001.dcm"
    second = tree.topLevelItem(1)
    assert second is not None
    assert second.text(0) == "notes.dcm"
    assert second.toolTip(0) == "/scans/study/notes.dcm"
    assert panel.problems() == [BROKEN, NOT_DICOM]


@pytest.mark.gui
def test_double_click_copies_full_path(panel: ProblemsPanel, qtbot: QtBot) -> None:
    panel.set_problems([BROKEN, NOT_DICOM, MISSING])
    panel.show()
    qtbot.waitExposed(panel)
    tree = _tree(panel)
    item = tree.topLevelItem(1)
    assert item is not None
    QApplication.clipboard().clear()
    rect = tree.visualItemRect(item)
    with qtbot.waitSignal(panel.path_copied, timeout=2000) as copied:
        # QAbstractItemView only reports a double click on the item its press landed on.
        qtbot.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
        qtbot.mouseDClick(tree.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert QApplication.clipboard().text() == NOT_DICOM.path
    assert copied.args == [NOT_DICOM.path]


@pytest.mark.gui
def test_copy_path_context_action(panel: ProblemsPanel) -> None:
    panel.set_problems([BROKEN, NOT_DICOM, MISSING])
    tree = _tree(panel)
    assert tree.contextMenuPolicy() == Qt.ContextMenuPolicy.ActionsContextMenu
    actions = {action.text(): action for action in tree.actions()}
    assert "Copy path" in actions
    item = tree.topLevelItem(2)
    assert item is not None
    tree.setCurrentItem(item)
    QApplication.clipboard().clear()
    actions["Copy path"].trigger()
    assert QApplication.clipboard().text() == MISSING.path
    # Several selected rows: one full path per line, in row order.
    tree.selectAll()
    actions["Copy path"].trigger()
    assert QApplication.clipboard().text().splitlines() == [
        BROKEN.path,
        NOT_DICOM.path,
        MISSING.path,
    ]

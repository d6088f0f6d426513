"""The Findings dock: a study's graded findings as a grid of levels × conditions, and what a
click on a cell shows.

Each cell is coloured by its grade and names it ("Mod 61 %"), its tooltip gives the three
probabilities and the series and instance it was read from. Clicking a cell takes the sagittal
view and the axial view to that finding (`models.findings_display.finding_targets`): the slice
it was read from, with the region the model read outlined, and the other plane's slice nearest
its level. A declined study shows its reason instead of grades; a flagged one its warning
above them. The texts, colours and targets are worked out in `models.findings_display`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from spineview.data.rsna_format import CONDITIONS, LEVELS
from spineview.dicom.index import SeriesInfo
from spineview.models.findings_display import (
    COLUMN_HEADERS,
    LEGEND,
    NO_GRADES,
    SHORT_CONDITIONS,
    ViewTarget,
    cell_colours,
    cell_text,
    cell_tooltip,
    decision_text,
    finding_targets,
    level_marks,
    probabilities_text,
    shows_grades,
    summary_text,
)
from spineview.models.grade_result import StudyGrades
from spineview.session import Session
from spineview.ui.viewport import Viewport

WIDEST_CELLS = ("N/M > 99 %", "Mod 00 %", "Sev 00 %", "Foramen")
WARNING_STYLE = "QLabel { color: #b06000; font-weight: bold; }"
DECLINED_STYLE = "QLabel { color: #c62828; }"


class FindingsGrid(QWidget):
    """One study's findings: levels down, conditions across (left and right are the
    patient's); clicking a graded cell emits `finding_clicked(condition, level)`."""

    finding_clicked = Signal(str, str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.result: StudyGrades | None = None
        self.title = QLabel(self)
        self.title.setObjectName("findingsTitle")
        self.title.setWordWrap(True)
        self.decision = QLabel(self)
        self.decision.setObjectName("findingsDecision")
        self.decision.setWordWrap(True)
        self.table = QTableWidget(len(LEVELS), len(CONDITIONS), self)
        self.table.setObjectName("findingsTable")
        for column, condition in enumerate(CONDITIONS):
            header = QTableWidgetItem(COLUMN_HEADERS[condition])
            header.setToolTip(f"{condition} (left and right are the patient's)")
            self.table.setHorizontalHeaderItem(column, header)
        self.table.setVerticalHeaderLabels(list(LEVELS))
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectItems)
        self.table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        # the grade's colour stays under a selected cell: the selection is a frame
        self.table.setStyleSheet(
            "QTableWidget::item:selected { border: 2px solid #2f8cff; }"
            "QTableWidget::item { padding: 0px 2px; }"
        )
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.table.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.table.setWordWrap(False)
        self.table.cellClicked.connect(self._cell_clicked)
        self._fit_width()
        self.legend = QLabel(LEGEND, self)
        self.legend.setObjectName("findingsLegend")
        self.legend.setWordWrap(True)
        small = QFont(self.font())
        small.setPointSizeF(small.pointSizeF() * 0.85)
        self.legend.setFont(small)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(3)
        for widget in (self.title, self.decision, self.table, self.legend):
            layout.addWidget(widget)
        layout.addStretch(1)
        self.show_result(None)

    def show_result(
        self, result: StudyGrades | None, series_names: dict[str, str] | None = None
    ) -> None:
        """Show `result` (None: no grades yet); `series_names` names the series a finding was
        read from in its tooltip (by key)."""
        self.result = result
        names = series_names or {}
        if result is None:
            self.title.setText(NO_GRADES)
        else:
            self.title.setText(f"Graded by {result.model_name or 'a grading model'}")
        decision = "" if result is None else decision_text(result)
        self.decision.setText(decision)
        self.decision.setStyleSheet(
            DECLINED_STYLE if result is not None and not shows_grades(result) else WARNING_STYLE
        )
        self.decision.setVisible(bool(decision))
        graded = result is not None and shows_grades(result)
        self.table.setVisible(graded)
        self.legend.setVisible(graded)
        self.table.clearSelection()
        if not graded or result is None:
            return
        for row, level in enumerate(LEVELS):
            for column, condition in enumerate(CONDITIONS):
                finding = result.finding(condition, level)
                item = QTableWidgetItem(cell_text(finding))
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                name = names.get(finding.series_key) if finding and finding.series_key else None
                item.setToolTip(cell_tooltip(condition, level, finding, name))
                colours = cell_colours(finding)
                if colours is not None:
                    item.setBackground(QBrush(QColor(colours[0])))
                    item.setForeground(QBrush(QColor(colours[1])))
                self.table.setItem(row, column, item)
        self._fit_height()

    def _fit_width(self) -> None:
        """Wide enough for the longest cell text on one line in every column."""
        metrics = self.table.fontMetrics()
        column = max(metrics.horizontalAdvance(text) for text in WIDEST_CELLS) + 10
        header = metrics.horizontalAdvance("L5/S1") + 12
        self.table.horizontalHeader().setMinimumSectionSize(column)
        self.table.setMinimumWidth(header + column * len(CONDITIONS) + 4)

    def _fit_height(self) -> None:
        """The whole grid without scrolling: its rows and header, no more."""
        rows = sum(self.table.rowHeight(row) for row in range(self.table.rowCount()))
        height = rows + self.table.horizontalHeader().sizeHint().height() + 4
        self.table.setFixedHeight(height)

    def _cell_clicked(self, row: int, column: int) -> None:
        if self.result is not None and self.result.finding(CONDITIONS[column], LEVELS[row]):
            self.finding_clicked.emit(CONDITIONS[column], LEVELS[row])


@dataclass(frozen=True)
class FindingsHooks:
    """What the findings controller asks of the main window."""

    viewports: Callable[[], list[Viewport]]
    """The visible viewports, left to right."""
    active: Callable[[], Viewport]
    load: Callable[[Viewport, str], None]
    """Show series `key` in a viewport (from the cache or decoded in the background)."""
    summary: Callable[[str], None]
    """The findings lines of the Results dock ("" for none)."""
    show_dock: Callable[[], None]
    status: Callable[[str], None]


class FindingsController(QObject):
    """Graded findings per study (kept in the session): the grid shows the active view's
    study, the level labels its worst grades, the Results dock a line per study; a clicked
    cell moves the views."""

    def __init__(
        self, session: Session, grid: FindingsGrid, hooks: FindingsHooks, parent: QObject
    ) -> None:
        super().__init__(parent)
        self.session = session
        self.grid = grid
        self.hooks = hooks
        self._latest = ""
        """The study whose grades came last (shown when the active view has no study)."""
        self._pending: dict[Viewport, ViewTarget] = {}
        """Targets waiting for their series to arrive in a viewport."""
        grid.finding_clicked.connect(self.go_to_finding)

    def show(self, result: StudyGrades) -> bool:
        """Keep and show a study's grades; False (dropped) for a study no longer open."""
        if not self.session.set_study_grades(result):
            return False
        self._latest = result.study_uid
        self.refresh()
        self.hooks.show_dock()
        return True

    def clear(self) -> None:
        """New paths are being opened (the session was cleared)."""
        self._latest = ""
        self._pending.clear()
        self.refresh()

    def refresh(self) -> None:
        """The grid, the level marks and the Results lines from the session's grades."""
        grades = self.session.study_grades
        self.grid.show_result(grades.get(self._shown_study()), self._series_names())
        for viewport in self.hooks.viewports():
            self.mark_levels(viewport)
        self.hooks.summary("\n".join(summary_text(result) for result in grades.values()))

    def mark_levels(self, viewport: Viewport) -> None:
        view = viewport.view
        view.set_level_marks(level_marks(self.session.grades_of(view.series_key)))

    def go_to_finding(self, condition: str, level: str) -> None:
        """Take the sagittal and axial views to a finding of the shown study."""
        result = self.grid.result
        finding = None if result is None else result.finding(condition, level)
        if result is None or finding is None:
            return
        series = self.session.study_series(result.study_uid)
        found = self.session.study_levels.get(result.study_uid)
        targets = finding_targets(finding, series, None if found is None else found.levels)
        for viewport in self.hooks.viewports():  # the previous cell's outline goes
            viewport.view.show_crop_box(None)
        for viewport, target in self._place(targets.sagittal, targets.axial).items():
            self._go(viewport, target)
        name = f"{SHORT_CONDITIONS[condition].capitalize()} {level}"
        if targets.sagittal is None and targets.axial is None:
            self.hooks.status(f"{name}: no series to show it on")
        else:
            outlined = any(t is not None and t.crop_box for t in (targets.sagittal, targets.axial))
            where = " (the region read is outlined)" if outlined else ""
            self.hooks.status(f"{name}: {finding.grade}, {probabilities_text(finding)}{where}")

    def series_arrived(self, viewport: Viewport) -> None:
        """A viewport's series has its first slice (or came whole from the cache): go to a
        target waiting for it."""
        target = self._pending.get(viewport)
        if target is not None and viewport.view.series_key == target.series_key:
            del self._pending[viewport]
            self._apply(viewport, target)

    def _place(
        self, sagittal: ViewTarget | None, axial: ViewTarget | None
    ) -> dict[Viewport, ViewTarget]:
        """Which viewport each target goes to: the one already showing a series of that
        plane, else the sagittal left and the axial right; with one viewport, the target with
        the outlined region (else the sagittal)."""
        viewports = self.hooks.viewports()
        if not viewports:
            return {}
        if len(viewports) < 2:
            outlined = [t for t in (sagittal, axial) if t is not None and t.crop_box is not None]
            chosen = next(iter(outlined), sagittal or axial)
            return {} if chosen is None else {viewports[0]: chosen}
        planes = [self._plane(viewport) for viewport in viewports]
        left = planes.index("sagittal") if "sagittal" in planes else 0
        right = next((i for i, p in enumerate(planes) if p == "axial" and i != left), None)
        if right is None:
            right = 1 if left == 0 else 0
        placed: dict[Viewport, ViewTarget] = {}
        if sagittal is not None:
            placed[viewports[left]] = sagittal
        if axial is not None:
            placed[viewports[right]] = axial
        return placed

    def _plane(self, viewport: Viewport) -> str | None:
        entry = self.session.series_info.get(viewport.view.series_key)
        return None if entry is None else entry[0].plane

    def _go(self, viewport: Viewport, target: ViewTarget) -> None:
        view = viewport.view
        if view.series_key == target.series_key and view.series is not None and view.loaded.any():
            self._pending.pop(viewport, None)
            self._apply(viewport, target)
            return
        self._pending[viewport] = target
        if view.series_key != target.series_key:
            self.hooks.load(viewport, target.series_key)

    def _apply(self, viewport: Viewport, target: ViewTarget) -> None:
        view = viewport.view
        view.set_slice(target.slice_index)
        viewport.sync_slider()
        view.show_crop_box(target.crop_box)

    def _shown_study(self) -> str:
        """The active view's study if it has grades, else the other view's, else the study
        graded last."""
        active = self.hooks.active()
        for viewport in [active, *self.hooks.viewports()]:
            entry = self.session.series_info.get(viewport.view.series_key)
            if entry is not None and entry[1].study_uid in self.session.study_grades:
                return entry[1].study_uid
        return self._latest

    def _series_names(self) -> dict[str, str]:
        return {key: series_name(info) for key, (info, _) in self.session.series_info.items()}


def series_name(info: SeriesInfo) -> str:
    """ "series 2 (Sagittal T2/STIR)" """
    number = f"series {info.series_number}" if info.series_number is not None else "a series"
    return f"{number} ({info.description})" if info.description else number

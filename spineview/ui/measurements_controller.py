"""Measuring in the main window: the tool mode (distance M, angle Shift+M, Esc), the selection
shared by the views and the Measurements dock, deleting, and exporting the list.

The measurements themselves live in the session's `MeasurementStore` (per series, while the
study is open); each `SliceView` draws those of its slice through its `MeasureLayer`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, QStandardPaths, Signal
from PySide6.QtWidgets import QFileDialog, QWidget

from spineview import paths
from spineview.core.files import write_text_atomic
from spineview.core.measurements import (
    MeasurementKind,
    MeasurementStore,
    rows_to_csv,
    rows_to_json,
)
from spineview.ui.binding import bind_slot
from spineview.ui.measurements_panel import MeasurementLine, MeasurementsPanel
from spineview.ui.shortcuts import BY_ACTION
from spineview.ui.slice_view import SliceView

EXPORT_FILE_STEM = "spineview-measurements"


@dataclass(frozen=True)
class MeasureHooks:
    """What the controller needs of the main window."""

    active_view: Callable[[], SliceView]
    views: Callable[[], Sequence[SliceView]]
    status: Callable[[str], None]
    show_dock: Callable[[], None]


def default_export_folder(candidates: Sequence[Path | None], opened: Sequence[Path]) -> Path:
    """The first existing candidate folder that is not inside (or equal to) an opened folder:
    an export never lands in the study by default. Falls back to the app's data folder."""
    opened_resolved = [folder.resolve() for folder in opened]
    for candidate in candidates:
        if candidate is None or not candidate.is_dir():
            continue
        resolved = candidate.resolve()
        if not any(resolved.is_relative_to(folder) for folder in opened_resolved):
            return candidate
    return paths.user_data_dir() / "exports"


class MeasurementsController(QObject):
    tool_changed = Signal(object)
    """The measuring tool now on (a `MeasurementKind`, or None)."""

    def __init__(
        self,
        store: MeasurementStore,
        panel: MeasurementsPanel,
        hooks: MeasureHooks,
        parent: QWidget,
    ) -> None:
        super().__init__(parent)
        self.store = store
        self.panel = panel
        self.hooks = hooks
        self.tool: MeasurementKind | None = None
        self.selected_id: int | None = None
        self.last_export_folder: Path | None = None
        self._opened: list[Path] = []
        self._parent = parent
        for view in hooks.views():
            layer = view.measure
            layer.store = store
            layer.changed.connect(bind_slot(self._layer_changed, view))
            layer.selected.connect(self._selected)
            layer.redrawn.connect(bind_slot(self._view_redrawn, view))
        panel.row_chosen.connect(self.go_to)
        panel.delete_requested.connect(self.delete_selected)
        panel.export_requested.connect(self.export)

    # --- tool mode -----------------------------------------------------------------------

    def set_tool(self, tool: MeasurementKind | None) -> None:
        was_on, self.tool = self.tool is not None, tool
        for view in self.hooks.views():
            view.measure.set_tool(tool)
        self.tool_changed.emit(tool)
        if tool is MeasurementKind.DISTANCE:
            self.hooks.status("Distance: click both ends on the image (Esc cancels)")
        elif tool is MeasurementKind.ANGLE:
            self.hooks.status("Angle: click one end, the vertex, then the other end (Esc cancels)")
        elif was_on:
            self.hooks.status("Measuring off")

    def cancel(self) -> None:
        """Esc: drop a half-drawn measurement; with none, leave the tool."""
        cancelled = [view.measure.cancel_draft() for view in self.hooks.views()]
        if not any(cancelled) and self.tool is not None:
            self.set_tool(None)

    # --- selection, navigation, deleting -------------------------------------------------

    def _selected(self, measurement_id: int) -> None:
        self.select(measurement_id or None)

    def select(self, measurement_id: int | None) -> None:
        self.selected_id = measurement_id
        for view in self.hooks.views():
            view.measure.select(measurement_id)
        self.panel.select(measurement_id)

    def go_to(self, measurement_id: int) -> None:
        """Show the slice of a measurement (in the view showing its series) and select it."""
        found = self.store.find(measurement_id)
        if found is None:
            return
        key, measurement = found
        views = [self.hooks.active_view(), *self.hooks.views()]
        view = next((v for v in views if v.series_key == key and v.series is not None), None)
        if view is not None:
            view.set_slice(measurement.slice_index)
        self.select(measurement_id)

    def delete_selected(self) -> None:
        selected = self.selected_id if self.selected_id is not None else self.panel.selected_id()
        if selected is None or self.store.remove(selected) is None:
            delete = " / ".join(BY_ACTION["measure_delete"].keys)
            self.hooks.status(f"Select a measurement to delete first (click it), then {delete}")
            return
        self.selected_id = None
        for view in self.hooks.views():
            view.measure.select(None)
            view.measure.redraw()
        self.refresh_panel()
        self.hooks.status("Measurement deleted")

    # --- keeping views and the dock in step ----------------------------------------------

    def _layer_changed(self, view: SliceView) -> None:
        """`view` added or moved a measurement: other views of that series redraw, the dock
        follows (and opens on the first measurement)."""
        for other in self.hooks.views():
            if other is not view and other.series_key == view.series_key:
                other.measure.redraw()
        if len(self.store) == 1:
            self.hooks.show_dock()
        self.refresh_panel()

    def _view_redrawn(self, view: SliceView) -> None:
        if view is self.hooks.active_view():
            self.refresh_panel()

    def study_opened(self, folders: Sequence[Path]) -> None:
        """New paths are open (the session has forgotten the old measurements)."""
        self._opened = list(folders)
        self.selected_id = None
        for view in self.hooks.views():
            view.measure.cancel_draft()
        self.refresh_panel()

    def refresh_panel(self) -> None:
        view = self.hooks.active_view()
        series, key = view.series, view.series_key
        lines = [
            MeasurementLine(m.id, m.slice_index + 1, str(m.kind), self.store.value(key, m).label)
            for m in (self.store.of_series(key) if series is not None else [])
        ]
        name = ""
        if series is not None:
            number = f"Se {series.series_number} " if series.series_number is not None else ""
            name = f"{number}{series.description or '(no description)'}"
        self.panel.set_lines(name, lines, exportable=len(self.store) > 0)
        self.panel.select(self.selected_id)

    # --- export --------------------------------------------------------------------------

    def export(self, kind: str) -> None:
        """Ask where, then save every measurement of the open study as CSV or JSON."""
        if len(self.store) == 0:
            self.hooks.status("No measurements to export")
            return
        documents = QStandardPaths.writableLocation(
            QStandardPaths.StandardLocation.DocumentsLocation
        )
        folder = default_export_folder(
            [self.last_export_folder, Path(documents) if documents else None, Path.home()],
            self._opened,
        )
        target, _ = QFileDialog.getSaveFileName(
            self._parent,
            f"Export measurements as {kind.upper()}",
            str(folder / f"{EXPORT_FILE_STEM}.{kind}"),
            f"{kind.upper()} (*.{kind})",
        )
        if target:
            self.export_to(Path(target), kind)

    def export_to(self, path: Path, kind: str) -> bool:
        """Write the study's measurements to `path` (atomically); whether it was written."""
        rows = self.store.rows()
        text = rows_to_json(rows) if kind == "json" else rows_to_csv(rows)
        try:
            write_text_atomic(path, text)
        except OSError as error:
            self.hooks.status(f"Measurements not saved: {error}")
            return False
        self.last_export_folder = path.parent
        plural = "measurement" if len(rows) == 1 else "measurements"
        self.hooks.status(f"Saved {len(rows)} {plural} to {path}")
        return True

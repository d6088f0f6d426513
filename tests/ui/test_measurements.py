"""Measuring in the viewer, driven by simulated mouse clicks and keys on a series whose row and
column spacing differ (0.5 mm between rows, 0.8 mm between columns)."""

from __future__ import annotations

import csv
import json
import math
import time
from pathlib import Path

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QImage, QMouseEvent
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from spineview.core.measurements import Point, scene_from_point
from spineview.dicom.write import SeriesSpec, write_series
from spineview.ui.main_window import MainWindow
from spineview.ui.measure_tools import MeasurementGraphic
from spineview.ui.measurements_controller import default_export_folder
from spineview.ui.slice_view import SliceView
from tests.ui.conftest import open_and_wait, wait_until_loaded

pytestmark = pytest.mark.gui

SPACING = (0.5, 0.8)
LEFT = Qt.MouseButton.LeftButton


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("measure-study")
    spec = SeriesSpec(n_slices=5, rows=40, cols=50, pixel_spacing=SPACING, series_number=1)
    write_series(folder / "a", spec)
    write_series(folder / "b", SeriesSpec(n_slices=5, rows=40, cols=50, series_number=2,
                                          description="T1_SAG"))  # fmt: skip
    return folder


@pytest.fixture
def opened(window: MainWindow, qtbot: QtBot, study: Path) -> SliceView:
    open_and_wait(qtbot, window, study)
    view = window.active.view
    assert view.series is not None and view.series.pixel_spacing == SPACING
    view.setFocus()
    return view


def _widget_point(view: SliceView, point: Point) -> QPoint:
    assert view.series is not None
    x, y = scene_from_point(point, view.series.pixel_spacing)
    return view.graphics.mapFromScene(view.viewbox.mapViewToScene(QPointF(x, y)))


def _send(view: SliceView, kind: QEvent.Type, at: QPoint, button: Qt.MouseButton,
          buttons: Qt.MouseButton) -> None:  # fmt: skip
    position = QPointF(at)
    event = QMouseEvent(kind, position, position, button, buttons, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(view.graphics.viewport(), event)


def _click(view: SliceView, point: Point) -> None:
    at = _widget_point(view, point)
    _send(view, QEvent.Type.MouseMove, at, Qt.MouseButton.NoButton, Qt.MouseButton.NoButton)
    _send(view, QEvent.Type.MouseButtonPress, at, LEFT, LEFT)
    _send(view, QEvent.Type.MouseButtonRelease, at, LEFT, Qt.MouseButton.NoButton)


def _drag(view: SliceView, start: Point, end: Point, steps: int = 4) -> None:
    """Press, move, release (pyqtgraph drops moves closer than its mouse rate limit)."""
    first, last = _widget_point(view, start), _widget_point(view, end)
    pause = 1.5 / pg.getConfigOption("mouseRateLimit")
    _send(view, QEvent.Type.MouseMove, first, Qt.MouseButton.NoButton, Qt.MouseButton.NoButton)
    _send(view, QEvent.Type.MouseButtonPress, first, LEFT, LEFT)
    for step in range(1, steps + 1):
        at = first + (last - first) * step / steps
        time.sleep(pause)
        _send(view, QEvent.Type.MouseMove, at, Qt.MouseButton.NoButton, LEFT)
    _send(view, QEvent.Type.MouseButtonRelease, last, LEFT, Qt.MouseButton.NoButton)


def _measure(window: MainWindow, view: SliceView, tool: str, *points: Point) -> None:
    action = window.actions_by_name[tool]
    if not action.isChecked():
        action.trigger()
    for point in points:
        _click(view, point)


def _graphics(view: SliceView) -> list[MeasurementGraphic]:
    items = view.viewbox.addedItems
    return [item for item in items if isinstance(item, MeasurementGraphic)]


def _values(window: MainWindow) -> list[float]:
    key = window.active.view.series_key
    return [window.session.measurements.value(key, m).value
            for m in window.session.measurements.of_series(key)]  # fmt: skip


def test_a_distance_by_two_clicks_is_in_mm_from_row_and_column_spacing(
    window: MainWindow, opened: SliceView
) -> None:
    assert not window.docks["measurements"].isVisible()
    # 30 rows down: 30 × 0.5 = 15 mm (with the spacings swapped it would read 24 mm)
    _measure(window, opened, "measure_distance", (5, 25), (35, 25))
    # then 30 columns across: 30 × 0.8 = 24 mm
    _measure(window, opened, "measure_distance", (10, 10), (10, 40))
    assert _values(window) == [pytest.approx(15.0, abs=0.1), pytest.approx(24.0, abs=0.1)]
    assert window.docks["measurements"].isVisible()
    rows = window.panels.measurements.row_texts()
    assert rows == [("3", "distance", "15.0 mm"), ("3", "distance", "24.0 mm")]
    assert len(_graphics(opened)) == 2
    assert _graphics(opened)[1].label.textItem.toPlainText() == "24.0 mm"


def test_an_angle_is_measured_in_the_image_plane(window: MainWindow, opened: SliceView) -> None:
    # arms from the vertex (30, 10): 30 columns right (24 mm) and 20 rows up, 20 columns right
    # (10 mm up, 16 mm right): atan(10 / 16) = 32.0° in mm, 45° on the pixel grid
    _measure(window, opened, "measure_angle", (30, 40), (30, 10), (10, 30))
    (value,) = _values(window)
    assert value == pytest.approx(math.degrees(math.atan2(10, 16)), abs=0.2)
    assert window.panels.measurements.row_texts() == [("3", "angle", f"{value:.1f}°")]


def test_measurements_show_on_their_own_slice_only_and_survive_a_series_switch(
    window: MainWindow, qtbot: QtBot, opened: SliceView
) -> None:
    _measure(window, opened, "measure_distance", (5, 25), (35, 25))
    key = opened.series_key
    opened.set_slice(opened.index + 1)
    assert opened.measure.measurements == [] and _graphics(opened) == []
    opened.set_slice(opened.index - 1)
    assert len(_graphics(opened)) == 1
    other = next(k for k in window.browser.series_keys() if k != key)
    window.show_series(other)
    wait_until_loaded(qtbot, window)
    assert opened.series_key == other and _graphics(opened) == []
    assert window.panels.measurements.row_texts() == []
    window.show_series(key)
    wait_until_loaded(qtbot, window)
    opened.set_slice(2)
    assert len(_graphics(opened)) == 1
    assert window.panels.measurements.row_texts() == [("3", "distance", "15.0 mm")]


def test_opening_new_paths_forgets_the_measurements(
    window: MainWindow, qtbot: QtBot, opened: SliceView, study: Path
) -> None:
    _measure(window, opened, "measure_distance", (5, 25), (35, 25))
    open_and_wait(qtbot, window, study)
    assert len(window.session.measurements) == 0
    assert _graphics(window.active.view) == []
    assert window.panels.measurements.row_texts() == []


def test_escape_cancels_a_half_drawn_measurement_then_the_tool(
    window: MainWindow, qtbot: QtBot, opened: SliceView
) -> None:
    window.activateWindow()
    _measure(window, opened, "measure_angle", (30, 40), (30, 10))
    assert opened.measure.drafting
    qtbot.keyClick(opened, Qt.Key.Key_Escape)
    assert not opened.measure.drafting and len(window.session.measurements) == 0
    assert window.actions_by_name["measure_angle"].isChecked()  # the tool stays on
    qtbot.keyClick(opened, Qt.Key.Key_Escape)
    assert not window.actions_by_name["measure_angle"].isChecked()
    _click(opened, (30, 40))  # no tool: clicks do not measure
    assert not opened.measure.drafting and len(window.session.measurements) == 0


def test_select_by_clicking_then_delete(
    window: MainWindow, qtbot: QtBot, opened: SliceView
) -> None:
    window.activateWindow()
    _measure(window, opened, "measure_distance", (5, 25), (35, 25))
    _measure(window, opened, "measure_distance", (10, 10), (10, 40))
    qtbot.keyClick(opened, Qt.Key.Key_Escape)  # tool off
    _click(opened, (10, 5))  # beside both: nothing selected
    assert window.measurements.selected_id is None
    _click(opened, (20, 25))  # on the vertical line
    first = window.session.measurements.of_series(opened.series_key)[0]
    assert window.measurements.selected_id == first.id
    qtbot.keyClick(opened, Qt.Key.Key_Delete)
    assert _values(window) == [pytest.approx(24.0, abs=0.1)]
    assert len(_graphics(opened)) == 1
    panel = window.panels.measurements
    panel.list.itemClicked.emit(panel.list.topLevelItem(0), 0)  # a click on the row
    assert panel.delete_button.isEnabled()
    panel.delete_button.click()
    assert _values(window) == [] and _graphics(opened) == []


def test_a_dragged_handle_changes_the_value(window: MainWindow, opened: SliceView) -> None:
    _measure(window, opened, "measure_distance", (5, 25), (35, 25))  # selected: handles shown
    window.actions_by_name["measure_distance"].trigger()  # tool off
    _drag(opened, (35, 25), (25, 25))
    assert _values(window) == [pytest.approx(10.0, abs=0.1)]
    assert window.panels.measurements.row_texts() == [("3", "distance", "10.0 mm")]
    _drag(opened, (25, 25), (60, 25))  # past the image's edge: kept on it (row 39.5)
    assert _values(window) == [pytest.approx(34.5 * 0.5, abs=0.1)]


def test_row_click_goes_to_the_slice(window: MainWindow, opened: SliceView) -> None:
    _measure(window, opened, "measure_distance", (5, 25), (35, 25))
    opened.set_slice(0)
    panel = window.panels.measurements
    panel.list.itemClicked.emit(panel.list.topLevelItem(0), 0)
    assert opened.index == 2 and len(_graphics(opened)) == 1


def _export_pixel(image: QImage, view: SliceView, point: Point) -> tuple[int, int, int]:
    """The export's colour at an image point: the export is either the view's widget grabbed
    or the image rectangle rendered at (a multiple of) the image's own size."""
    assert view.series is not None
    rows, cols = view.series.shape[1:]
    if image.width() % cols == 0 and image.height() % rows == 0 and image.size() != view.size():
        at = QPoint(int((point[1] + 0.5) / cols * image.width()),
                    int((point[0] + 0.5) / rows * image.height()))  # fmt: skip
    else:
        at = view.graphics.viewport().mapTo(view, _widget_point(view, point))
    colour = image.pixelColor(at.x(), at.y())
    return colour.red(), colour.green(), colour.blue()


def test_png_export_includes_the_measurements_of_the_slice(
    window: MainWindow, opened: SliceView, tmp_path: Path
) -> None:
    _measure(window, opened, "measure_distance", (5, 25), (35, 25))
    window.measurements.set_tool(None)
    window.measurements.select(None)  # no handles in the picture
    opened.export_png(tmp_path / "with.png")
    window.measurements.delete_selected()  # nothing selected: nothing deleted
    window.measurements.select(window.session.measurements.of_series(opened.series_key)[0].id)
    window.measurements.delete_selected()
    window.measurements.select(None)
    opened.export_png(tmp_path / "without.png")
    with_item, without = QImage(str(tmp_path / "with.png")), QImage(str(tmp_path / "without.png"))
    assert with_item.size() == without.size()
    on_line = [(row, 25.0) for row in np.linspace(8, 32, 7)]
    assert all(
        _export_pixel(with_item, opened, p) != _export_pixel(without, opened, p) for p in on_line
    )
    away = [(row, 45.0) for row in np.linspace(8, 32, 7)]
    assert all(
        _export_pixel(with_item, opened, p) == _export_pixel(without, opened, p) for p in away
    )


def test_export_writes_rows_as_csv_and_json(
    window: MainWindow, opened: SliceView, tmp_path: Path
) -> None:
    _measure(window, opened, "measure_distance", (5, 25), (35, 25))
    _measure(window, opened, "measure_angle", (30, 40), (30, 10), (10, 30))
    assert window.measurements.export_to(tmp_path / "out" / "m.csv", "csv")
    assert window.measurements.export_to(tmp_path / "out" / "m.json", "json")
    lines = list(csv.DictReader((tmp_path / "out" / "m.csv").open(encoding="utf-8")))
    assert [(line["kind"], line["unit"], line["slice"]) for line in lines] == [
        ("distance", "mm", "3"), ("angle", "deg", "3"),
    ]  # fmt: skip
    assert float(lines[0]["value"]) == pytest.approx(15.0, abs=0.1)
    assert lines[0]["instance_number"] == "3" and lines[0]["series_number"] == "1"
    assert opened.series is not None and lines[0]["series_uid"] == opened.series.series_uid
    assert len(lines[0]["points_mm"].split(";")) == 2
    document = json.loads((tmp_path / "out" / "m.json").read_text(encoding="utf-8"))
    assert [row["kind"] for row in document["measurements"]] == ["distance", "angle"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["m.csv", "m.json"]
    assert "Saved 2 measurements" in window.status_label.text()


def test_a_failed_export_says_so(window: MainWindow, opened: SliceView, tmp_path: Path) -> None:
    _measure(window, opened, "measure_distance", (5, 25), (35, 25))
    blocker = tmp_path / "file"
    blocker.write_text("not a folder", encoding="utf-8")
    assert not window.measurements.export_to(blocker / "m.csv", "csv")
    assert window.status_label.text().startswith("Measurements not saved:")


def test_the_default_export_folder_is_never_the_opened_one(tmp_path: Path) -> None:
    study, documents = tmp_path / "study", tmp_path / "documents"
    (study / "series").mkdir(parents=True)
    documents.mkdir()
    assert default_export_folder([study / "series", None, documents], [study]) == documents
    assert default_export_folder([study], [study]).name == "exports"

"""The main window and its viewports, driven through real widgets offscreen."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent, QImage, QMouseEvent
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from spineview.core.windowing import window_from_drag
from spineview.dicom.write import SeriesSpec, write_series
from spineview.ui.main_window import MainWindow
from spineview.ui.slice_view import PAGE_STEP, SliceView
from tests.ui.conftest import open_and_wait, wait_until_loaded

pytestmark = pytest.mark.gui


def _drop(main: MainWindow, *paths: Path) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    event = QDropEvent(
        QPointF(300, 300), Qt.DropAction.CopyAction, mime,
        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
    )  # fmt: skip
    main.dropEvent(event)


def test_dropping_a_folder_opens_it(window: MainWindow, qtbot: QtBot, demo_folder: Path) -> None:
    _drop(window, demo_folder)
    wait_until_loaded(qtbot, window)
    view = window.active.view
    assert view.series is not None and view.series.description == "Sagittal T1"
    assert view.loaded.all()
    labels = [window.browser.topLevelItem(0).child(i).text(1) for i in range(3)]
    assert labels == ["Sagittal T1", "Sagittal T2/STIR", "Axial T2"]
    assert all(window.browser.has_thumbnail(key) for key in window.browser.series_keys())
    assert str(demo_folder.resolve()) in window.recent.folders()


def test_the_first_image_shows_before_the_scan_ends(
    window: MainWindow, qtbot: QtBot, tmp_path: Path
) -> None:
    write_series(tmp_path / "a", SeriesSpec(n_slices=300, rows=32, cols=32))
    shown_while_scanning: list[bool] = []
    window.open_paths([tmp_path])
    qtbot.waitUntil(lambda: window.active.view.series is not None, timeout=20_000)
    shown_while_scanning.append(window.session.scan_result is None)
    wait_until_loaded(qtbot, window)
    assert shown_while_scanning == [True]


def test_keyboard_moves_through_slices(window: MainWindow, qtbot: QtBot, demo_folder: Path) -> None:
    open_and_wait(qtbot, window, demo_folder)
    view = window.active.view
    view.setFocus()
    view.set_slice(0)
    qtbot.keyClick(view, Qt.Key.Key_Down)
    assert view.index == 1
    qtbot.keyClick(view, Qt.Key.Key_Right)
    assert view.index == 2
    qtbot.keyClick(view, Qt.Key.Key_Up)
    assert view.index == 1
    qtbot.keyClick(view, Qt.Key.Key_PageDown)
    assert view.index == 1 + PAGE_STEP
    qtbot.keyClick(view, Qt.Key.Key_End)
    assert view.index == view.n_slices - 1
    qtbot.keyClick(view, Qt.Key.Key_Down)  # stays on the last slice
    assert view.index == view.n_slices - 1
    qtbot.keyClick(view, Qt.Key.Key_Home)
    assert view.index == 0
    assert window.active.slider.value() == 0
    assert "Im 1/15" in " ".join(view.visible_texts())


def _send_mouse(widget: object, kind: QEvent.Type, point: QPoint, button: Qt.MouseButton,
                buttons: Qt.MouseButton) -> None:  # fmt: skip
    position = QPointF(point)
    event = QMouseEvent(kind, position, position, button, buttons, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, event)  # type: ignore[arg-type]


def _right_drag(view: SliceView, start: QPoint, end: QPoint, steps: int = 8) -> None:
    target = view.graphics.viewport()
    right = Qt.MouseButton.RightButton
    _send_mouse(target, QEvent.Type.MouseButtonPress, start, right, right)
    for step in range(1, steps + 1):
        point = start + (end - start) * step / steps
        _send_mouse(target, QEvent.Type.MouseMove, point, Qt.MouseButton.NoButton, right)
    _send_mouse(target, QEvent.Type.MouseButtonRelease, end, right, Qt.MouseButton.NoButton)


def test_right_drag_changes_window_and_level(
    window: MainWindow, qtbot: QtBot, demo_folder: Path
) -> None:
    open_and_wait(qtbot, window, demo_folder)
    view = window.active.view
    state = view.window_state
    assert state is not None
    before_center, before_width = state.center, state.width
    center = view.graphics.viewport().rect().center()
    _right_drag(view, center, center + QPoint(60, -40))
    after = view.window_state
    assert after is not None
    expected = window_from_drag(before_center, before_width, 60, -40, view.wl_sensitivity)
    assert (after.center, after.width) == pytest.approx(expected)
    assert after.width > before_width and after.center < before_center  # right: wider; up: lower
    text = " ".join(view.visible_texts())
    assert f"W {after.width:.0f}  L {after.center:.0f}" in text


def _top_right(image: QImage, view: SliceView | None = None) -> np.ndarray:
    """The top-right corner (grey levels) of a view's grab, or of an export (`view` None)."""
    width = view.width() if view is not None else image.width()
    height = 80 if view is not None else image.height() // 5
    left = int(width * 0.6)  # right of the centred orientation marker
    corner = image.copy(left, 0, width - left, height).convertToFormat(
        QImage.Format.Format_Grayscale8
    )
    buffer = np.frombuffer(corner.constBits(), dtype=np.uint8)
    # Copy: the buffer belongs to `corner`, which is freed when this function returns.
    return buffer.reshape(corner.height(), corner.bytesPerLine())[:, : corner.width()].copy()


def test_patient_data_toggle_removes_the_name(
    window: MainWindow, qtbot: QtBot, demo_folder: Path, tmp_path: Path
) -> None:
    open_and_wait(qtbot, window, demo_folder)
    view = window.active.view
    assert any("DEMO SYNTHETIC" in text for text in view.visible_texts())
    shown = _top_right(view.grab().toImage(), view)
    window.actions_by_name["patient_data"].trigger()
    assert not any("DEMO" in text for text in view.visible_texts())
    assert not any("DEMO" in text for text in window.viewports[1].view.visible_texts())
    hidden = _top_right(view.grab().toImage(), view)
    assert (shown > 100).sum() > 100, "the name should be drawn in bright pixels"
    assert (hidden > 100).sum() < (shown > 100).sum() / 10
    window.actions_by_name["patient_data"].trigger()
    assert any("DEMO SYNTHETIC" in text for text in view.visible_texts())
    exported = tmp_path / "view.png"
    window.export_view_to(exported)  # hides patient data by default
    assert any("DEMO SYNTHETIC" in text for text in view.visible_texts())  # restored on screen
    window.config.export_hides_patient_data = False
    with_name = tmp_path / "with-name.png"
    window.export_view_to(with_name)
    named, anonymous = _top_right(QImage(str(with_name))), _top_right(QImage(str(exported)))
    # the same image at the same size: only the patient text (and its shadow) differs
    text = np.abs(named.astype(int) - anonymous.astype(int)) > 60
    assert text.sum() > 50, "the export with patient data should draw the name, the default not"


def test_cross_reference_line_follows_the_axial_slice(
    window: MainWindow, qtbot: QtBot, demo_folder: Path
) -> None:
    window.set_layout("1x2")
    open_and_wait(qtbot, window, demo_folder)
    sagittal, axial = (viewport.view for viewport in window.viewports)
    assert sagittal.series is not None and sagittal.series.series_type == "Sagittal T1"
    assert axial.series is not None and axial.series.series_type == "Axial T2"
    for index in (0, 5, 11):
        axial.set_slice(index)
        # Demo geometry: axial slice k at z = -60 + 10k mm; the sagittal's first row is at
        # z = 128 mm with 2 mm rows, so the line sits at scene y = (128 - z) + 1 (pixel centre).
        z = -60.0 + 10.0 * index
        assert sagittal.reference_segment == ((0.0, 128 - z + 1), (256.0, 128 - z + 1))
        xs, ys = sagittal.reference_line.getData()
        assert list(ys) == [128 - z + 1] * 2 and list(xs) == [0.0, 256.0]
    # The sagittal's plane (x = -28 - 4k) cuts the axial image along a column.
    sagittal.set_slice(3)
    x = -28.0 - 4 * 3
    assert axial.reference_segment == ((x + 128 + 1, 0.0), (x + 128 + 1, 256.0))
    window.set_layout("1x1")
    assert sagittal.reference_segment is None


def test_presets_zoom_invert_and_cine(window: MainWindow, qtbot: QtBot, demo_folder: Path) -> None:
    open_and_wait(qtbot, window, demo_folder)
    view = window.active.view
    values = view.series.volume[view.index] if view.series is not None else None
    assert values is not None
    window.actions_by_name["preset_2"].trigger()  # full range
    assert view.window_state is not None and view.window_state.name == "Full range"
    assert view.levels()[0] <= float(values.min()) and view.levels()[1] >= float(values.max()) - 1
    window.actions_by_name["preset_5"].trigger()  # the header's own preset
    assert (view.window_state.center, view.window_state.width) == (500.0, 1000.0)
    view.actual_size()
    assert view.zoom_factor() == pytest.approx(1.0, rel=0.02)
    view.fit()
    window.actions_by_name["invert"].trigger()
    assert view.inverted
    window.actions_by_name["reset"].trigger()
    assert not view.inverted
    start = view.index
    view.toggle_cine()
    qtbot.waitUntil(lambda: view.index != start, timeout=3000)
    view.toggle_cine()
    assert not view.cine_timer.isActive()


def test_readout_gives_value_and_patient_position(
    window: MainWindow, qtbot: QtBot, demo_folder: Path
) -> None:
    open_and_wait(qtbot, window, demo_folder)
    view = window.active.view
    assert view.series is not None
    view.set_slice(0)
    text = view.readout_at(QPointF(2 * 10 + 1, 2 * 20 + 1))  # column 10, row 20
    value = view.series.volume[0, 20, 10]
    assert text.startswith(f"(10, 20)  value {value:.6g}")
    # Sagittal slice 0: x = -28, y = -128 + 2·10, z = 128 - 2·20.
    assert "-28.0, -108.0, 88.0 mm" in text
    assert view.readout_at(QPointF(-5, -5)) == ""


def test_tags_and_problems_panels(window: MainWindow, qtbot: QtBot, tmp_path: Path) -> None:
    paths = write_series(tmp_path, SeriesSpec(n_slices=4))
    paths[0].write_bytes(paths[0].read_bytes()[:-40])
    (tmp_path / "broken.dcm").write_text("not dicom")
    open_and_wait(qtbot, window, tmp_path)
    reasons = {Path(item.path).name: item.reason for item in window.problems.problems()}
    assert "truncated pixel data" in reasons[paths[0].name]
    assert "not DICOM" in reasons["broken.dcm"]
    assert window.docks["problems"].isVisible()
    view = window.active.view
    assert view.series is not None and view.series.n_slices == 3
    rows = dict(window.tags.visible_rows())
    assert rows["Modality"] == "MR"
    window.tags.set_filter_text("echo")
    assert [key for key, _ in window.tags.visible_rows()] == ["EchoTime"]


def test_a_folder_without_images_says_so(window: MainWindow, qtbot: QtBot, tmp_path: Path) -> None:
    for index in range(3):
        (tmp_path / f"readme{index}.txt").write_text("hello")
    open_and_wait(qtbot, window, tmp_path)
    message = " ".join(window.active.view.visible_texts())
    assert f"No DICOM images found in {tmp_path}" in message
    assert "3 non-DICOM skipped" in message


def test_shortcuts_help_lists_every_action(window: MainWindow) -> None:
    from spineview.ui.shortcuts import SHORTCUTS

    for shortcut in SHORTCUTS:
        if shortcut.group in ("Slices",):
            continue  # handled by the viewport itself
        assert shortcut.action in window.actions_by_name or shortcut.action in window.docks


def test_the_viewer_does_not_import_tensorflow(tmp_path: Path) -> None:
    # The window shows before TensorFlow is imported (the model thread imports it an event-loop
    # turn later); with the model not loaded at start, it is never imported at all.
    code = (
        "import sys, time\n"
        "from spineview.config import Config\n"
        "from spineview.ui.application import create_application\n"
        "from spineview.ui.main_window import MainWindow\n"
        "app = create_application()\n"
        "window = MainWindow(Config(load_model_at_start=False)); window.show()\n"
        "for _ in range(20): app.processEvents(); time.sleep(0.05)\n"
        "assert 'tensorflow' not in sys.modules, 'tensorflow imported'\n"
        "assert 'keras' not in sys.modules, 'keras imported'\n"
        "window.close()\n"
        "window = MainWindow(); window.show()\n"
        "assert 'tensorflow' not in sys.modules, 'tensorflow imported'\n"
        "assert 'keras' not in sys.modules, 'keras imported'\n"
        "window.close()\n"
    )
    environment = {"QT_QPA_PLATFORM": "offscreen", "SPINEVIEW_HOME": str(tmp_path),
                   "PATH": "/usr/bin:/bin"}  # fmt: skip
    completed = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
        env=environment, check=False,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr


def test_cancel_stops_reading(window: MainWindow, qtbot: QtBot, tmp_path: Path) -> None:
    for number in range(1, 4):
        spec = SeriesSpec(n_slices=300, rows=32, cols=32, series_number=number)
        write_series(tmp_path / f"s{number}", spec, seed=number)
    window.open_paths([tmp_path])
    assert window.cancel_button.isVisible()
    window.cancel_button.click()
    qtbot.waitUntil(lambda: not window.is_busy() and window.runner.running() == 0, timeout=20_000)
    assert window.session.scan_result is None
    assert "cancelled" in window.status_label.text()
    assert not window.cancel_button.isVisible()
    open_and_wait(qtbot, window, tmp_path)  # and the window still works afterwards
    assert window.session.scan_result is not None and window.session.scan_result.series_count == 3


def test_switching_series_mid_load_never_shows_a_half_loaded_one(
    window: MainWindow, qtbot: QtBot, tmp_path: Path
) -> None:
    for number in (1, 2):
        spec = SeriesSpec(n_slices=150, rows=64, cols=64, series_number=number)
        write_series(tmp_path / f"s{number}", spec, seed=number)
    open_and_wait(qtbot, window, tmp_path)
    first, second = window.browser.series_keys()
    window.session.loaded.clear()
    window.show_series(second)
    window.show_series(first)  # cancels the second load
    wait_until_loaded(qtbot, window)
    window.show_series(second)
    wait_until_loaded(qtbot, window)
    assert window.active.view.loaded.all()


def test_demo_opens_a_synthetic_lumbar_study(window: MainWindow, qtbot: QtBot) -> None:
    window.open_demo()
    qtbot.waitUntil(lambda: window.session.scan_result is not None, timeout=60_000)
    wait_until_loaded(qtbot, window)
    left, right = (viewport.view for viewport in window.viewports)
    assert left.series is not None and left.series.series_type.startswith("Sagittal")
    assert right.series is not None and right.series.series_type == "Axial T2"
    assert left.reference_segment is not None  # the axial slice is drawn on the sagittal
    temporary = list(window._temporary_folders)
    assert temporary and all(folder.exists() for folder in temporary)
    window.close()
    assert not any(folder.exists() for folder in temporary)


def test_a_longer_caption_is_never_cut(window: MainWindow, qtbot: QtBot, demo_folder: Path) -> None:
    from spineview.ui.slice_view import SliceClassification

    open_and_wait(qtbot, window, demo_folder)
    view = window.active.view
    assert view.series is not None
    count = view.series.n_slices
    short = SliceClassification("m", np.full(count, 0.2), 0.5, ("healthy", "degenerative"))
    view.set_classification(short)
    width = view.caption.width()
    note = "heatmap: decided healthy (tick Healthy map to see its evidence)"
    view.set_heatmap_enabled(True)
    view.set_heatmap_absent(view.index, note)  # the caption grows a second, longer line
    caption = view.caption
    assert caption.text().endswith(note)
    assert caption.width() > width and caption.width() >= caption.sizeHint().width()
    assert caption.height() >= caption.sizeHint().height()
    assert caption.x() >= 0 and caption.x() + caption.width() <= view.width()


def test_a_shown_series_gets_its_thumbnail_from_its_load(
    window: MainWindow, qtbot: QtBot, demo_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The thumbnail job decodes only the series no viewport is loading: a shown series'
    load decodes its middle slice first and that slice becomes its thumbnail."""
    from spineview import workers

    decoded: list[str] = []
    real = workers.decode_frame

    def counting(header: Any, frame: int) -> Any:
        decoded.append(threading.current_thread().name)
        return real(header, frame)

    monkeypatch.setattr(workers, "decode_frame", counting)
    open_and_wait(qtbot, window, demo_folder)
    shown = {view.series_key for view in window.pair.views if view.series_key}
    assert shown and all(window.browser.has_thumbnail(key) for key in window.browser.series_keys())
    by_thumbnail_job = [name for name in decoded if name.startswith("thumbnails")]
    assert len(by_thumbnail_job) == len(window.browser.series_keys()) - len(shown)


def test_corner_text_wraps_rather_than_being_cut(
    window: MainWindow, qtbot: QtBot, demo_folder: Path
) -> None:
    open_and_wait(qtbot, window, demo_folder)
    view = window.active.view
    label = view.corner["bottom_left"]
    view.resize(240, 400)  # a narrow viewport (the corner gets half its width)
    one_line = label.fontMetrics().horizontalAdvance(label.text().splitlines()[0])
    assert one_line > view.width() // 2  # the text does not fit on one line here
    assert label.wordWrap() and label.width() <= view.width() // 2
    assert label.height() >= label.heightForWidth(label.width())  # every wrapped line shows
    assert label.y() + label.height() <= view.height()


def test_tags_and_histogram_start_closed(window: MainWindow) -> None:
    assert window.docks["tags"].isHidden() and window.docks["histogram"].isHidden()
    assert not window.docks["series"].isHidden() and not window.docks["results"].isHidden()

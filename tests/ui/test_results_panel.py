"""ResultsPanel: verdict text, the per-slice curve with gaps, click/drag to a slice, heatmap."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QColor, QMouseEvent, QPainterPath, QPalette
from PySide6.QtWidgets import QApplication, QLabel
from pytestqt.qtbot import QtBot

from spineview.models.architectures import LAST_LAYER_LAPLACE, MC_DROPOUT
from spineview.models.manifest import DEMO_NOTICE
from spineview.models.predictions import SlicePredictions
from spineview.models.verdict import SeriesVerdict, series_verdict
from spineview.ui.results_panel import (
    NOT_CLASSIFIED,
    ResultsPanel,
    nearest_slice,
    slice_ticks,
    verdict_text,
)

# 15 slices: a run of confident slices in the middle, slice 11 (index 10) without a result.
BUMP = np.array(
    [0.03, 0.05, 0.04, 0.10, 0.22, 0.55, 0.88, 0.93, 0.79, 0.31, np.nan, 0.08, 0.05, 0.04, 0.02]
)
LOW = np.array([0.03, 0.05, 0.04, 0.10, 0.22, 0.62, 0.31, 0.2, 0.1, 0.08, 0.06, 0.08])


def _show(
    panel: ResultsPanel, probabilities: np.ndarray, warnings: tuple[str, ...] = ()
) -> SeriesVerdict:
    verdict = series_verdict(probabilities, 0.5)
    predictions = SlicePredictions(probabilities, probabilities, 0.5)
    panel.set_result(
        "cnn-demo",
        DEMO_NOTICE,
        predictions,
        verdict,
        "degenerative",
        list(warnings),
        negative_class_name="healthy",
    )
    return verdict


@pytest.fixture
def panel(qtbot: QtBot) -> ResultsPanel:
    widget = ResultsPanel()
    qtbot.addWidget(widget)
    widget.resize(1000, 200)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def _label(panel: ResultsPanel, name: str) -> QLabel:
    label = panel.findChild(QLabel, name)
    assert label is not None
    return label


def _click_at_slice(qtbot: QtBot, panel: ResultsPanel, slice_number: float, y: float) -> None:
    """A real left click on the plot's viewport where (slice_number, y) is drawn."""
    scene = panel.viewbox.mapViewToScene(QPointF(slice_number, y))
    point = panel.plot.mapFromScene(scene)
    qtbot.mouseClick(panel.plot.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(point))


# --- pure helpers ------------------------------------------------------------------------------


def test_nearest_slice_rounds_and_clamps() -> None:
    assert nearest_slice(1.0, 15) == 0
    assert nearest_slice(7.4, 15) == 6
    assert nearest_slice(7.6, 15) == 7
    assert nearest_slice(-3.0, 15) == 0
    assert nearest_slice(99.0, 15) == 14
    assert nearest_slice(math.nan, 15) == 0
    with pytest.raises(ValueError):
        nearest_slice(1.0, 0)


def test_slice_ticks_label_one_and_round_steps() -> None:
    major, minor = slice_ticks(15)
    assert [label for _, label in major] == [str(n) for n in range(1, 16)]
    assert minor == []
    major, minor = slice_ticks(60)
    assert [label for _, label in major] == ["1", "5", "10", "15", "20", "25", "30", "35", "40",
                                             "45", "50", "55", "60"]  # fmt: skip
    assert len(minor) == 60
    assert slice_ticks(0) == [[], []]


def test_verdict_text_wording() -> None:
    positive = series_verdict(BUMP, 0.5)
    negative = series_verdict(LOW, 0.5)
    empty = series_verdict(np.full(4, np.nan), 0.5)
    assert verdict_text(positive, "degenerative", "healthy") == ("Series: DEGENERATIVE  score 88 %")
    assert verdict_text(negative, "degenerative", "healthy") == "Series: healthy  score 31 %"
    assert verdict_text(negative, "degenerative", None) == "Series: not degenerative  score 31 %"
    assert verdict_text(empty, "degenerative", "healthy") == "Series: not classified"


# --- the curve ---------------------------------------------------------------------------------


@pytest.mark.gui
def test_curve_has_one_point_per_slice(panel: ResultsPanel) -> None:
    _show(panel, BUMP)
    x, y = panel.curve.getData()
    assert x is not None and y is not None
    np.testing.assert_array_equal(x, np.arange(1, 16))
    np.testing.assert_array_equal(y, BUMP)  # NaN compares equal here
    scatter_x = panel.curve.scatter.data["x"]
    assert len(scatter_x) == 15
    assert panel.plot.getPlotItem().getAxis("left").labelText == "P(degenerative)"
    assert panel.threshold_line.value() == pytest.approx(0.5)
    assert panel.viewbox.viewRange()[1][0] <= 0.0 and panel.viewbox.viewRange()[1][1] >= 1.0


@pytest.mark.gui
def test_nan_slices_are_gaps_in_the_line(panel: ResultsPanel) -> None:
    _show(panel, BUMP)
    assert math.isnan(panel.curve.getData()[1][10])
    path = panel.curve.curve.getPath()
    starts = [
        i
        for i in range(path.elementCount())
        if path.elementAt(i).type == QPainterPath.ElementType.MoveToElement
    ]
    assert len(starts) == 2, "the line must break at the slice without a result"
    # The second segment starts at slice 12.
    assert path.elementAt(starts[1]).x == pytest.approx(12.0)


@pytest.mark.gui
def test_run_that_gave_the_score_is_shaded(panel: ResultsPanel) -> None:
    verdict = _show(panel, BUMP)
    assert verdict.run_start == 6 and verdict.neighbours == 2
    assert panel.run_region.isVisible()
    assert panel.run_region.getRegion() == pytest.approx((6.5, 8.5))
    np.testing.assert_array_equal(panel.run_markers.data["x"], [7.0, 8.0])


# --- clicks and the slice line -----------------------------------------------------------------


@pytest.mark.gui
def test_clicking_the_plot_requests_the_nearest_slice(qtbot: QtBot, panel: ResultsPanel) -> None:
    _show(panel, BUMP)
    with qtbot.waitSignal(panel.slice_requested, timeout=2000) as blocker:
        _click_at_slice(qtbot, panel, 8.2, 0.3)
    assert blocker.args == [7]
    assert panel.current_line.value() == pytest.approx(8)
    assert panel.current_slice == 7
    with qtbot.waitSignal(panel.slice_requested, timeout=2000) as blocker:
        _click_at_slice(qtbot, panel, 2.6, 0.9)  # anywhere in the column, not only on points
    assert blocker.args == [2]


@pytest.mark.gui
def test_clicking_without_a_result_requests_nothing(qtbot: QtBot, panel: ResultsPanel) -> None:
    with qtbot.assertNotEmitted(panel.slice_requested):
        _click_at_slice(qtbot, panel, 3, 0.5)


@pytest.mark.gui
def test_dragging_the_line_requests_slices_and_snaps(qtbot: QtBot, panel: ResultsPanel) -> None:
    _show(panel, BUMP)
    panel.set_current_slice(2)
    requested: list[int] = []
    panel.slice_requested.connect(requested.append)
    line = panel.current_line
    for position in (3.2, 3.6, 4.4, 4.6, 5.1):  # what InfiniteLine reports while dragged
        line.setValue(position)
        line.sigDragged.emit(line)
    assert requested == [3, 4]  # one request per slice crossed, none for the same slice
    line.sigPositionChangeFinished.emit(line)
    assert line.value() == pytest.approx(5.0)


@pytest.mark.gui
def test_set_current_slice_moves_the_line_without_emitting(
    qtbot: QtBot, panel: ResultsPanel
) -> None:
    _show(panel, BUMP)
    with qtbot.assertNotEmitted(panel.slice_requested):
        panel.set_current_slice(3)
        panel.set_current_slice(40)  # clamped to the last slice
    assert panel.current_line.value() == pytest.approx(15)
    assert panel.current_slice == 14
    panel.set_current_slice(7)
    assert panel.current_line.value() == pytest.approx(8)
    assert _label(panel, "resultsSliceReading").text() == "slice 8: 93 %"
    panel.set_current_slice(10)
    assert _label(panel, "resultsSliceReading").text() == "slice 11: no result"


@pytest.mark.gui
def test_a_real_mouse_drag_of_the_line(qtbot: QtBot, panel: ResultsPanel) -> None:
    _show(panel, BUMP)
    panel.set_current_slice(2)
    requested: list[int] = []
    panel.slice_requested.connect(requested.append)
    viewport = panel.plot.viewport()

    def at(slice_number: float) -> QPoint:
        scene = panel.viewbox.mapViewToScene(QPointF(slice_number, 0.7))
        return QPoint(panel.plot.mapFromScene(scene))

    def send(kind: QEvent.Type, point: QPoint, button: Qt.MouseButton) -> None:
        # QTest's mouseMove carries no pressed buttons: build the drag's events by hand.
        held = (
            Qt.MouseButton.NoButton
            if kind == QEvent.Type.MouseButtonRelease
            else Qt.MouseButton.LeftButton
        )
        event = QMouseEvent(
            kind,
            QPointF(point),
            QPointF(viewport.mapToGlobal(point)),
            button,
            held,
            Qt.KeyboardModifier.NoModifier,
        )
        QApplication.sendEvent(viewport, event)

    send(QEvent.Type.MouseButtonPress, at(3), Qt.MouseButton.LeftButton)
    for step in np.linspace(3, 9.2, 16):
        qtbot.wait(15)  # pyqtgraph drops moves closer than 10 ms apart (mouseRateLimit)
        send(QEvent.Type.MouseMove, at(float(step)), Qt.MouseButton.NoButton)
    send(QEvent.Type.MouseButtonRelease, at(9.2), Qt.MouseButton.LeftButton)
    assert requested, "dragging the slice line requested no slice"
    assert requested == sorted(set(requested))  # one request per slice crossed, in order
    assert requested[-1] == 8
    assert panel.current_line.value() == pytest.approx(9.0)  # snapped on release


# --- text --------------------------------------------------------------------------------------


@pytest.mark.gui
def test_verdict_text_and_colour_follow_the_verdict(panel: ResultsPanel) -> None:
    _show(panel, BUMP)
    positive_style = panel.verdict_label.styleSheet()
    assert panel.verdict_text() == "Series: DEGENERATIVE  score 88 %"
    assert _label(panel, "resultsSummary").text() == (
        "4 of 14 slices reach 50 % · 1 without a result"
    )
    assert "2 neighbouring slices" in _label(panel, "resultsRule").text()
    assert _label(panel, "resultsModel").text() == "Model: cnn-demo"
    assert DEMO_NOTICE in _label(panel, "resultsDemoNotice").text()
    assert _label(panel, "resultsDemoNotice").isVisible()

    _show(panel, LOW)
    assert panel.verdict_text() == "Series: healthy  score 31 %"
    assert panel.verdict_label.styleSheet() != positive_style
    x, _ = panel.curve.getData()
    assert x is not None and len(x) == 12


@pytest.mark.gui
def test_warnings_label_is_hidden_when_empty(panel: ResultsPanel) -> None:
    warnings = _label(panel, "resultsWarnings")
    _show(panel, BUMP)
    assert warnings.isHidden()
    _show(panel, BUMP, ("axial series: the model was trained on sagittal slices",))
    assert warnings.isVisible()
    assert "axial series" in warnings.text()


@pytest.mark.gui
def test_demo_notice_hidden_for_a_non_demo_model(panel: ResultsPanel) -> None:
    verdict = series_verdict(BUMP, 0.5)
    panel.set_result("mine", None, SlicePredictions(BUMP, BUMP, 0.5), verdict, "degenerative")
    assert _label(panel, "resultsDemoNotice").isHidden()
    assert panel.verdict_text().startswith("Series: DEGENERATIVE")


@pytest.mark.gui
def test_progress_then_result_then_clear(panel: ResultsPanel) -> None:
    _show(panel, BUMP)
    panel.show_progress(3, 15)
    assert panel.progress.isVisible()
    assert panel.progress.value() == 3 and panel.progress.maximum() == 15
    assert panel.verdict_text() == "Classifying… 3/15"
    assert not panel.has_result()
    assert len(panel.curve.getData()[0] or []) == 0

    _show(panel, BUMP, ("a warning",))
    assert panel.progress.isHidden()
    assert panel.has_result()

    panel.clear()
    assert panel.verdict_text() == NOT_CLASSIFIED
    assert not panel.has_result()
    x, _ = panel.curve.getData()
    assert x is None or len(x) == 0
    assert len(panel.run_markers.data) == 0
    assert not panel.current_line.isVisible()
    assert not panel.run_region.isVisible()
    for name in ("resultsWarnings", "resultsDemoNotice", "resultsRule", "resultsSummary"):
        assert _label(panel, name).isHidden(), name
    panel.clear("No series shown")
    assert panel.verdict_text() == "No series shown"


@pytest.mark.gui
def test_show_message_for_errors(panel: ResultsPanel) -> None:
    panel.show_message("Idle")
    idle_style = panel.verdict_label.styleSheet()
    panel.show_message("Classification failed: model missing", error=True)
    assert panel.verdict_text() == "Classification failed: model missing"
    assert panel.verdict_label.styleSheet() != idle_style


# --- overlay controls ----------------------------------------------------------------------------


@pytest.mark.gui
def test_opacity_slider_emits_fractions(qtbot: QtBot, panel: ResultsPanel) -> None:
    values: list[float] = []
    panel.opacity_changed.connect(values.append)
    panel.opacity_slider.setValue(30)
    qtbot.keyClick(panel.opacity_slider, Qt.Key.Key_End)
    qtbot.keyClick(panel.opacity_slider, Qt.Key.Key_Home)
    assert values == [pytest.approx(0.3), pytest.approx(1.0), pytest.approx(0.0)]
    assert _label(panel, "overlayOpacityLabel").text() == "0 %"

    with qtbot.assertNotEmitted(panel.opacity_changed):
        panel.set_opacity(0.8)
        panel.set_opacity(1.7)  # clamped
    assert panel.opacity == pytest.approx(1.0)
    panel.set_opacity(0.25)
    assert panel.opacity_slider.value() == 25
    assert _label(panel, "overlayOpacityLabel").text() == "25 %"


@pytest.mark.gui
def test_heatmap_toggle_and_method(qtbot: QtBot, panel: ResultsPanel) -> None:
    assert not panel.overlay_enabled
    with qtbot.waitSignal(panel.overlay_toggled) as toggled:
        qtbot.mouseClick(panel.overlay_check, Qt.MouseButton.LeftButton)
    assert toggled.args == [True]
    assert panel.overlay_enabled
    with qtbot.assertNotEmitted(panel.overlay_toggled):
        panel.set_overlay_enabled(False)
    assert not panel.overlay_enabled

    assert panel.method == "hirescam"
    count = panel.method_combo.count()
    assert [panel.method_combo.itemText(i) for i in range(count)] == [
        "HiResCAM", "Grad-CAM", "Grad-CAM++", "Layer-CAM",
    ]  # fmt: skip
    with qtbot.waitSignal(panel.method_changed) as changed:
        panel.method_combo.setCurrentIndex(2)
    assert changed.args == ["gradcam++"]
    with qtbot.assertNotEmitted(panel.method_changed):
        panel.set_method("gradcam")
    assert panel.method == "gradcam"
    with pytest.raises(ValueError, match="unknown heatmap method"):
        panel.set_method("lime")


@pytest.mark.gui
def test_panel_is_compact(panel: ResultsPanel) -> None:
    assert 150 <= panel.sizeHint().height() <= 190  # the details scroll (test_results_dock)
    assert panel.minimumSizeHint().height() <= 150


@pytest.mark.gui
def test_colours_follow_a_dark_palette(panel: ResultsPanel) -> None:
    _show(panel, BUMP)
    light_style = panel.verdict_label.styleSheet()
    dark = QPalette(panel.palette())
    dark.setColor(QPalette.ColorRole.Window, QColor("#202020"))
    dark.setColor(QPalette.ColorRole.Base, QColor("#181818"))
    dark.setColor(QPalette.ColorRole.Text, QColor("#e0e0e0"))
    panel.setPalette(dark)
    assert panel.plot.backgroundBrush().color() == QColor("#181818")
    assert panel.verdict_label.styleSheet() != light_style
    assert panel.verdict_text() == "Series: DEGENERATIVE  score 88 %"  # the result is kept


def test_the_decision_is_shown_and_a_declined_series_has_no_verdict(
    qtbot: QtBot, panel: ResultsPanel
) -> None:
    from spineview.models.series_decision import SeriesDecision
    from spineview.ui.results_panel import DECLINED_TEXT

    verdict = series_verdict(BUMP, 0.5)
    predictions = SlicePredictions(BUMP, BUMP, 0.5)
    far = "slices 1–15 (15 of 15) are far from anything cnn-demo was trained on"
    declined = SeriesDecision("declined", (far,), tuple(range(15)))
    panel.set_result("cnn-demo", None, predictions, verdict, "degenerative", decision=declined)
    assert panel.verdict_text() == DECLINED_TEXT
    assert far in _label(panel, "resultsDecision").text()
    assert panel.force_button.isVisible() and panel.curve.getData()[0] is None
    with qtbot.waitSignal(panel.force_requested):
        panel.force_button.click()

    forced = declined.forcing()
    sampled = SlicePredictions(
        BUMP, BUMP, 0.5, samples=np.tile(BUMP[:, None], 4), uncertainty_method=MC_DROPOUT
    )
    panel.set_result(
        "cnn-demo", None, sampled, verdict, "degenerative", decision=forced, agreement=0.97
    )
    assert panel.verdict_text() == "Series: DEGENERATIVE  score 88 %"
    assert "declined (shown on request)" in _label(panel, "resultsDecision").text()
    assert "97 % of Monte-Carlo dropout samples" in _label(panel, "resultsSummary").text()
    laplace = dataclasses.replace(sampled, uncertainty_method=LAST_LAYER_LAPLACE)
    panel.set_result(
        "resnet", None, laplace, verdict, "degenerative", decision=forced, agreement=0.97
    )
    assert "97 % of last-layer Laplace samples" in _label(panel, "resultsSummary").text()
    panel.set_result(
        "cnn-demo", None, sampled, verdict, "degenerative", decision=forced, agreement=0.97
    )
    assert not panel.force_button.isVisible() and len(panel.curve.getData()[0]) == len(BUMP)

    unchecked = SeriesDecision("accepted", ("the image content was not checked: m has none",))
    panel.set_result("m", None, predictions, verdict, "degenerative", decision=unchecked)
    assert "was not checked" in _label(panel, "resultsDecision").text()

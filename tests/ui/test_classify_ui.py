"""Classify in the viewer: background model load, per-slice curve, heatmap, cancel, errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtWidgets import QMessageBox, QPushButton
from pytestqt.qtbot import QtBot

from spineview.dicom.write import SeriesSpec, write_series
from spineview.models.catalogue import bundled_models_dir, user_models_dir
from spineview.ui.classification import HEALTHY_NOT_MAPPED
from spineview.ui.main_window import MainWindow
from spineview.ui.results_panel import DECLINED_TEXT
from tests.ui.conftest import open_and_wait

pytestmark = [pytest.mark.gui, pytest.mark.tf]

MODEL_TIMEOUT = 90_000  # importing TensorFlow and loading the model on a busy 2-core machine


def _classified(main: MainWindow) -> bool:
    return main.classification.result_for(main.active.view) is not None


def test_classify_shows_curve_caption_and_heatmap(
    window: MainWindow, qtbot: QtBot, demo_folder: Path
) -> None:
    open_and_wait(qtbot, window, demo_folder)
    view = window.active.view
    assert view.series is not None and view.series.series_type == "Sagittal T1"
    window.classify_active()  # the model is not loaded yet: it loads, then classifies
    assert "Loading the model" in window.results.verdict_text()
    qtbot.waitUntil(lambda: _classified(window), timeout=MODEL_TIMEOUT)
    assert "ready" in window.model_indicator.text()
    # the demo phantom is far from cnn-demo's synthetic training studies: declined, no curve
    assert window.results.verdict_text() == DECLINED_TEXT
    assert "far from anything cnn-demo was trained on" in window.results.decision_label.text()
    assert view.caption.text() == "cnn-demo: declined, no verdict"
    assert window.browser.result_text(view.series_key) == "declined"
    assert window.results.force_button.isVisible()
    window.results.force_button.click()  # "Show verdict anyway"
    assert not window.results.force_button.isVisible()
    assert "declined, shown on request" in view.caption.text()
    listed = window.browser.result_text(view.series_key)
    assert listed.startswith("\u26a0 ") and listed.endswith("%") and "100 %" not in listed

    x, y = window.results.curve.getData()
    assert len(x) == view.series.n_slices and np.all((y >= 0) & (y <= 1))
    assert window.results.has_result()
    assert "neighbouring slices" in window.results.rule_label.text()
    caption = view.caption.text()
    assert caption.startswith("cnn-demo: ") and "%" in caption and "demo model" in caption

    window.results.slice_requested.emit(3)  # a click on the curve
    assert view.index == 3 and window.results.current_slice == 3
    view.set_slice(5)
    assert window.results.current_slice == 5

    window.results.opacity_slider.setValue(35)
    window.results.healthy_check.setChecked(True)  # maps on slices decided healthy too
    window.classification.set_heatmap_enabled(True)
    qtbot.waitUntil(lambda: view.heatmap_shown, timeout=30_000)
    assert view.heat_image.opacity() == pytest.approx(0.35)
    assert view.heat_scale.isVisible() and "strongest evidence" in view.heat_scale.toolTip()
    assert view.heatmap_index == 5 and view.heat_image.image.shape == view.series.shape[1:]
    view.set_slice(6)
    qtbot.waitUntil(lambda: view.heatmap_shown and view.heatmap_index == 6, timeout=30_000)
    qtbot.waitUntil(lambda: window.runner.running() == 0, timeout=30_000)

    # by default only slices decided degenerative are mapped; a healthy one says why not
    result = window.classification.result_for(view)
    assert result is not None
    healthy = int(np.flatnonzero(~result.predictions.positive)[0])
    window.results.healthy_check.setChecked(False)
    assert not window.classification.config.heatmap_healthy_class
    view.set_slice(healthy)
    qtbot.waitUntil(lambda: HEALTHY_NOT_MAPPED in view.caption.text(), timeout=30_000)
    assert not view.heatmap_shown and not view.heat_scale.isVisible()
    qtbot.waitUntil(lambda: window.runner.running() == 0, timeout=30_000)


def test_cancel_leaves_the_viewer_usable(window: MainWindow, qtbot: QtBot, tmp_path: Path) -> None:
    write_series(tmp_path / "long", SeriesSpec(n_slices=240, rows=96, cols=96, description="T1 SAG",
                                               echo_time=10.0, repetition_time=500.0))  # fmt: skip
    open_and_wait(qtbot, window, tmp_path / "long")
    window.classification.load_selected_model()
    qtbot.waitUntil(lambda: window.classification.model_ready, timeout=MODEL_TIMEOUT)
    window.classify_active()
    assert window.results.cancel_button.isVisible()
    window.results.cancel_button.click()
    qtbot.waitUntil(lambda: "cancelled" in window.results.verdict_text(), timeout=30_000)
    assert not _classified(window)
    window.active.view.step_slices(1)  # still responsive
    window.classify_active()
    qtbot.waitUntil(lambda: _classified(window), timeout=60_000)
    window.results.force_button.click()  # a test pattern: declined as unlike the training data
    x, _ = window.results.curve.getData()
    assert len(x) == 240


def test_a_series_the_model_was_not_trained_on_needs_confirmation(
    window: MainWindow, qtbot: QtBot, demo_folder: Path
) -> None:
    open_and_wait(qtbot, window, demo_folder)
    axial = next(
        key for key, (info, _) in window.session.series_info.items() if info.plane == "axial"
    )
    window.show_series(axial)
    qtbot.waitUntil(lambda: not window.is_busy(), timeout=20_000)
    window.classification.load_selected_model()
    qtbot.waitUntil(lambda: window.classification.model_ready, timeout=MODEL_TIMEOUT)
    window.classify_active()
    dialog = window.classification.warning_dialog
    assert dialog is not None and dialog.isVisible()
    assert "Axial T2 series" in dialog.text() and "Sagittal T1" in dialog.text()
    assert not _classified(window)
    anyway = next(b for b in dialog.findChildren(QPushButton) if b.text() == "Classify anyway")
    anyway.click()
    qtbot.waitUntil(lambda: _classified(window), timeout=60_000)
    assert "Axial T2 series" in window.results.warnings_label.text()


def test_a_model_that_fails_to_load_shows_an_error_dialog(
    window: MainWindow, qtbot: QtBot, demo_folder: Path
) -> None:
    broken = user_models_dir() / "broken-model"
    shutil.copytree(bundled_models_dir() / "cnn-demo", broken)
    weights = broken / "model.weights.h5"
    weights.write_bytes(weights.read_bytes()[:1000])
    window.model_picker.refresh()
    assert window.model_picker.select_model(broken)
    open_and_wait(qtbot, window, demo_folder)
    window.classify_active()
    qtbot.waitUntil(lambda: window.classification.error_dialog is not None, timeout=30_000)
    dialog = window.classification.error_dialog
    assert isinstance(dialog, QMessageBox) and dialog.isVisible()
    assert "broken-model" in dialog.text() and "checksum" in dialog.text()
    assert "Traceback" not in dialog.text()
    assert "failed" in window.model_indicator.text()
    dialog.close()
    window.model_picker.select_model("cnn-demo")  # another model still works
    window.classify_active()
    qtbot.waitUntil(lambda: _classified(window), timeout=MODEL_TIMEOUT)


def test_a_series_with_an_undecodable_slice_is_classified_around_it(
    window: MainWindow, qtbot: QtBot, demo_folder: Path
) -> None:
    open_and_wait(qtbot, window, demo_folder)
    view = window.active.view
    assert view.series is not None
    # What a file that fails to decode leaves behind: a NaN slice, never marked loaded.
    view.series.volume[2] = np.nan
    view.loaded[2] = False
    window.classify_active()
    qtbot.waitUntil(lambda: _classified(window), timeout=MODEL_TIMEOUT)
    result = window.classification.result_for(view)
    assert result is not None and np.isnan(result.predictions.calibrated[2])
    assert np.isfinite(np.delete(result.predictions.calibrated, 2)).all()
    window.results.force_button.click()
    view.set_slice(2)
    assert "no result for this slice" in view.caption.text()


def test_reopening_a_folder_drops_the_old_results(
    window: MainWindow, qtbot: QtBot, demo_folder: Path
) -> None:
    open_and_wait(qtbot, window, demo_folder)
    window.classify_active()
    qtbot.waitUntil(lambda: _classified(window), timeout=MODEL_TIMEOUT)
    assert window.active.view.caption.isVisible()
    window.open_paths([demo_folder])  # same UIDs: the pixels could differ now
    assert window.classification.results == {}
    assert not window.results.has_result()
    open_and_wait(qtbot, window, demo_folder)
    assert not _classified(window) and not window.active.view.caption.isVisible()

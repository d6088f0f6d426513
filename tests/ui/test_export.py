"""Export of the active view: the slice at the image's own size, everything drawn on it."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pyqtgraph as pg
import pytest
from PIL import Image
from PySide6.QtGui import QColor, QPen
from pytestqt.qtbot import QtBot

from spineview.core.windowing import WindowPreset, apply_preset
from spineview.ui.export_location import default_export_folder, is_inside_study
from spineview.ui.main_window import MainWindow
from spineview.ui.slice_view import SliceView
from tests.ui.conftest import open_and_wait
from tests.ui.test_overlay_view import overlay_series

pytestmark = pytest.mark.gui


def _read(path: Path) -> tuple[np.ndarray, dict[str, str]]:
    with Image.open(io.BytesIO(path.read_bytes())) as picture:
        picture.load()
        return np.asarray(picture.convert("RGB")), dict(picture.text)


def test_export_has_the_image_size_and_its_windowed_pixels(view: SliceView, tmp_path: Path) -> None:
    series = overlay_series(rows=260, cols=300)
    view.set_series(series)
    view.set_slice(0)  # no overlay on slice 0
    view.set_window(400.0, 600.0, "LINEAR")
    view.zoom_by(3.0)  # zoom and pan must not matter
    visible = view.viewbox.viewRect()
    view.export_png(tmp_path / "slice.png")
    rgb, text = _read(tmp_path / "slice.png")
    assert rgb.shape == (260, 300, 3)
    expected = apply_preset(series.volume[0], WindowPreset(400.0, 600.0, "", "LINEAR"))
    middle = (slice(60, 200), slice(40, 260))  # away from the corner texts and side letters
    difference = np.abs(rgb[middle][..., 0].astype(int) - expected[middle].astype(int))
    assert np.percentile(difference, 99) <= 2 and difference.max() <= 4
    assert (rgb[middle][..., 0] == rgb[middle][..., 1]).all()  # grey: nothing drawn over it
    assert view.viewbox.viewRect() == visible  # the screen's zoom is put back
    assert text["Software"] == "spineview"
    assert "W 600  L 400" in text["Description"] and "Im 1/2" in text["Description"]
    assert "Zoom" not in text["Description"]  # the screen's zoom means nothing here


def test_export_draws_overlays_inversion_and_scene_items(view: SliceView, tmp_path: Path) -> None:
    series = overlay_series(rows=256, cols=256)
    view.set_series(series)
    view.set_slice(1)
    view.set_window(500.0, 1000.0, "LINEAR")
    view.toggle_invert()
    line = pg.PlotCurveItem([0, 256], [200, 200], pen=QPen(QColor(255, 0, 0), 3))
    view.viewbox.addItem(line)  # a measurement or level label added by other code
    view.export_png(tmp_path / "overlay.png")
    rgb = _read(tmp_path / "overlay.png")[0].astype(int)
    assert rgb.shape == (256, 256, 3)
    mask = series.overlays[1][0x6000]
    on = rgb[mask]
    assert ((on[:, 1] - on[:, 0] > 80) & (on[:, 2] - on[:, 0] > 80)).mean() > 0.9  # cyan
    assert rgb[128, 5, 0] > 200 and rgb[128, 250, 0] < 50  # inverted ramp: bright on the left
    red = (rgb[..., 0] > 200) & (rgb[..., 1] < 80) & (rgb[..., 2] < 80)
    assert red[197:204, 60:200].any(axis=0).mean() > 0.9  # the scene item, across the image


def test_small_images_are_scaled_up_by_a_whole_number(view: SliceView, tmp_path: Path) -> None:
    view.set_series(overlay_series(rows=64, cols=80))
    assert view.export_scale() == 4
    view.export_png(tmp_path / "small.png")
    assert _read(tmp_path / "small.png")[0].shape == (256, 320, 3)


def test_default_export_folder_is_outside_every_opened_study(tmp_path: Path) -> None:
    study = tmp_path / "study"
    inside = study / "exports"
    inside.mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert default_export_folder(str(elsewhere), [study]) == elsewhere
    chosen = default_export_folder(str(inside), [study])  # remembered, but inside a study
    assert not is_inside_study(chosen, [study])
    assert chosen.is_dir()
    home = Path.home()
    assert not is_inside_study(default_export_folder("", [home]), [home])


def test_window_export_starts_outside_the_study_and_hides_patient_data(
    window: MainWindow, qtbot: QtBot, demo_folder: Path, tmp_path: Path
) -> None:
    open_and_wait(qtbot, window, demo_folder)
    assert not is_inside_study(window.export_folder(), [demo_folder])
    view = window.active.view
    assert view.series is not None
    rows, cols = view.series.shape[1:]
    window.export_view_to(tmp_path / "hidden.png")
    window.config.export_hides_patient_data = False
    window.export_view_to(tmp_path / "shown.png")
    hidden, hidden_text = _read(tmp_path / "hidden.png")
    shown, _ = _read(tmp_path / "shown.png")
    assert hidden.shape[:2] == (rows * view.export_scale(), cols * view.export_scale())
    corner = (slice(0, hidden.shape[0] // 5), slice(hidden.shape[1] * 6 // 10, None))
    bright_shown = (shown[corner].min(axis=2) > 200).sum()
    assert bright_shown > 30, "the patient's name is drawn in the top right corner"
    assert (hidden[corner].min(axis=2) > 200).sum() < bright_shown / 5
    assert "DEMO" not in " ".join(hidden_text.values())

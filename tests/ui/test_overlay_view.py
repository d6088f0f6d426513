"""DICOM overlay planes drawn over the slice, with the O toggle."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtGui import QImage
from pytestqt.qtbot import QtBot

from spineview.core.series import Series
from spineview.ui.main_window import MainWindow
from spineview.ui.slice_view import OVERLAY_COLOURS, SliceView
from tests.conftest import SHARED_DATA
from tests.ui.conftest import open_and_wait

pytestmark = pytest.mark.gui

SIEMENS = SHARED_DATA / "dicom-zoo/pydicom-data/MR-SIEMENS-DICOM-WithOverlays.dcm"


def overlay_series(rows: int = 64, cols: int = 80) -> Series:
    """Two slices of a grey ramp; slice 1 carries a square overlay outline in group 6000
    (30 pixels wide, a third of the way in)."""
    volume = np.tile(np.linspace(0, 1000, cols, dtype=np.float32), (2, rows, 1))
    mask = np.zeros((rows, cols), dtype=bool)
    top, left = rows // 3, cols // 3  # clear of the corner texts
    mask[top : top + 30, left] = mask[top : top + 30, left + 30] = True
    mask[top, left : left + 31] = mask[top + 29, left : left + 31] = True
    return Series(
        series_uid="1.2.3",
        description="ramp",
        series_number=1,
        modality="MR",
        series_type="Sagittal T2",
        volume=volume,
        pixel_spacing=(1.0, 1.0),
        slice_thickness=None,
        positions=np.full((2, 3), np.nan),
        orientation=None,
        photometric="MONOCHROME2",
        overlays=[{}, {0x6000: mask}],
    )


def _rgb(image: QImage) -> np.ndarray:
    image = image.convertToFormat(QImage.Format.Format_RGB888)
    buffer = np.frombuffer(image.constBits(), dtype=np.uint8)
    rows = buffer.reshape(image.height(), image.bytesPerLine())[:, : image.width() * 3]
    return rows.reshape(image.height(), image.width(), 3).copy()


def _cyan_pixels(view: SliceView) -> int:
    """Screen pixels in the overlay's colour (cyan blended over grey: blue and green well
    above red)."""
    rgb = _rgb(view.grab().toImage()).astype(int)
    red, green, blue = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    return int(((green - red > 80) & (blue - red > 80)).sum())


def test_overlay_is_drawn_on_its_slice_and_the_toggle_hides_it(view: SliceView) -> None:
    assert OVERLAY_COLOURS[0] == (0, 229, 255)
    view.set_series(overlay_series())
    view.set_slice(0)
    assert _cyan_pixels(view) == 0
    assert not any("overlay" in text for text in view.visible_texts())
    view.set_slice(1)
    drawn = _cyan_pixels(view)
    assert drawn > 300, "the outline (about 120 image pixels, zoomed) should show in colour"
    assert any("overlay 6000" in text for text in view.visible_texts())
    view.set_dicom_overlays_visible(False)
    assert _cyan_pixels(view) == 0
    assert any("overlay hidden (O)" in text for text in view.visible_texts())
    view.set_dicom_overlays_visible(True)
    assert _cyan_pixels(view) == drawn


@pytest.mark.skipif(not SIEMENS.exists(), reason="shared corpus not present")
def test_o_toggles_the_overlay_of_a_real_file(
    window: MainWindow, qtbot: QtBot, tmp_path: Path
) -> None:
    study = tmp_path / "study"
    study.mkdir()
    (study / "overlay.dcm").write_bytes(SIEMENS.read_bytes())
    open_and_wait(qtbot, window, study)
    view = window.active.view
    assert view.series is not None and view.series.overlay_groups == [0x6000]
    assert view.dicom_overlay_groups == [0x6000]  # on by default
    shown = _cyan_pixels(view)
    assert shown > 100
    action = window.actions_by_name["dicom_overlays"]
    assert action.isChecked() and action.shortcut().toString() == "O"
    action.trigger()
    assert not view.dicom_overlays_visible and _cyan_pixels(view) < shown / 20
    action.trigger()
    assert view.dicom_overlay_groups == [0x6000]

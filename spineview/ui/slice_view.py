"""One viewport: a series slice with window/level, zoom/pan, cine, annotations, cross-reference.

Scene units are millimetres in the image plane (pixel (r, c) covers [c·cs, (c+1)·cs] ×
[r·rs, (r+1)·rs]), so non-square pixels keep their aspect and the cross-reference line can be
drawn from patient geometry. LINEAR windows go to pyqtgraph as levels (so the histogram widget
can drive them); SIGMOID windows and VOI LUTs are applied by `core.windowing` to 8 bits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QImage,
    QKeyEvent,
    QKeySequence,
    QPainter,
    QPen,
    QResizeEvent,
)
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from spineview.core.files import write_bytes_atomic
from spineview.core.geometry import pixel_to_patient, plane_intersection_in_image, row_col_normal
from spineview.core.heatmap import DEFAULT_OPACITY, heat_indices, heat_lut
from spineview.core.level_display import slice_labels, slice_level_text
from spineview.core.levels import LevelMap
from spineview.core.png import encode_png
from spineview.core.presets import AUTO, MR_PRESETS
from spineview.core.series import Series
from spineview.core.text import format_dicom_date, format_probability, format_spread
from spineview.core.windowing import (
    VoiLut,
    WindowPreset,
    apply_preset,
    apply_voi_lut,
    needs_inversion,
    window_from_drag,
)
from spineview.models.findings_display import LevelMark
from spineview.ui.crop_outline import CropOutline
from spineview.ui.garbage_collection import adopt_scene_orphans
from spineview.ui.heat_scale import HeatScale
from spineview.ui.level_labels import LevelLabels
from spineview.ui.measure_tools import MeasureLayer
from spineview.ui.shortcuts import BY_ACTION

GREY = np.arange(256, dtype=np.uint8)
GREY_INVERTED = GREY[::-1].copy()
PAGE_STEP = 10
REFERENCE_PEN = QPen(QColor(255, 210, 0), 0)
WINDOW_DRAG_SCREEN_PIXELS = 512  # a drag of this many pixels changes W or L by the data range

_ANNOTATION_STYLE = (
    "QLabel { color: #e6e6e6; background: rgba(0, 0, 0, 110); padding: 2px 4px;"
    " font-family: monospace; font-size: 11px; }"
)
_CAPTION_STYLE = (
    "QLabel {{ color: {colour}; background: rgba(0, 0, 0, 150); padding: 3px 8px;"
    " font-weight: bold; font-size: 12px; border-radius: 3px; }}"
)
_POSITIVE_COLOUR = "#ff8a65"
_NEGATIVE_COLOUR = "#9be29b"
_WITHHELD_COLOUR = "#c8c8c8"
_MARKER_STYLE = "QLabel { color: #ffd200; font-weight: bold; font-size: 13px; background: none; }"
OVERLAY_COLOURS = ((0, 229, 255), (255, 64, 129), (118, 255, 3), (255, 171, 0))
"""DICOM overlay planes in the order of their groups (6000 cyan, 6002 pink, ...)."""
OVERLAY_ALPHA = 200
EXPORT_MIN_SIDE = 256
"""An export of an image whose shorter side is below this is scaled up by a whole number."""


@dataclass(frozen=True)
class SliceClassification:
    """A model's per-slice result, as the viewport's caption shows it."""

    model_name: str
    probabilities: np.ndarray
    """Calibrated P(positive class) per slice (NaN: no result)."""
    threshold: float
    class_names: tuple[str, str]
    demo: bool = False
    spreads: np.ndarray | None = None
    """Each slice's uncertainty (standard deviation of its uncertainty samples), or None."""
    withheld: str = ""
    """Instead of a verdict (a declined series): e.g. "declined, no verdict"."""
    note: str = ""
    """A line under the verdict (e.g. the series was flagged)."""

    def caption(self, index: int) -> str:
        """ "cnn-demo: degenerative 87 % ± 6 %"; the class shown with its own probability,
        never "100 %" (see `format_probability`)."""
        if not 0 <= index < len(self.probabilities):
            return ""
        if self.withheld:
            return f"{self.model_name}: {self.withheld}"
        probability = float(self.probabilities[index])
        if not math.isfinite(probability):
            return f"{self.model_name}: no result for this slice"
        positive = probability >= self.threshold
        confidence = probability if positive else 1.0 - probability
        name = self.class_names[int(positive)]
        demo = "  (demo model)" if self.demo else ""
        spread = ""
        if self.spreads is not None and index < len(self.spreads):
            spread = f" {format_spread(float(self.spreads[index]))}".rstrip()
        text = f"{self.model_name}: {name} {format_probability(confidence)}{spread}{demo}"
        return f"{text}\n{self.note}" if self.note else text

    def is_positive(self, index: int) -> bool:
        probability = float(self.probabilities[index])
        return math.isfinite(probability) and probability >= self.threshold


@dataclass
class WindowState:
    center: float
    width: float
    function: str = "LINEAR"
    name: str = ""
    lut: VoiLut | None = None


def _navigation_keys() -> dict[int, str]:
    """Key code → action, for the slice keys of the shortcut table (one source of truth)."""
    keys: dict[int, str] = {}
    for action in ("next_slice", "previous_slice", "page_forward", "page_back", "first_slice",
                   "last_slice", "cine"):  # fmt: skip
        for text in BY_ACTION[action].keys:
            combination = QKeySequence(text)[0]  # type: ignore[index]  # stubs lack __getitem__
            keys[combination.key().value] = action
    return keys


class _SliceViewBox(pg.ViewBox):
    """A ViewBox with clinical-viewer mouse bindings."""

    def __init__(self, view: SliceView) -> None:
        super().__init__(lockAspect=True, invertY=True, enableMenu=False)
        self._view = view

    def wheelEvent(self, ev: Any, axis: Any = None) -> None:
        if ev.modifiers() & Qt.KeyboardModifier.ControlModifier:
            super().wheelEvent(ev, axis)  # zoom around the pointer
            self._view.view_changed()
            return
        steps = -1 if ev.delta() > 0 else 1
        self._view.step_slices(steps)
        ev.accept()

    def mouseDragEvent(self, ev: Any, axis: Any = None) -> None:
        if ev.button() == Qt.MouseButton.RightButton:
            ev.accept()
            delta = ev.screenPos() - ev.lastScreenPos()
            self._view.drag_window(delta.x(), delta.y())
            return
        super().mouseDragEvent(ev, axis)  # left and middle buttons pan
        self._view.view_changed()

    def mouseClickEvent(self, ev: Any) -> None:
        ev.accept()
        self._view.activated.emit()
        if ev.button() == Qt.MouseButton.LeftButton:
            self._view.measure.click(ev.scenePos())  # a point, with a measuring tool on


class SliceView(QWidget):
    """Shows one slice of a `Series`; the main window drives it and listens to its signals."""

    slice_changed = Signal(int)
    window_changed = Signal(float, float)
    cursor_text_changed = Signal(str)
    activated = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMinimumSize(200, 200)
        self.series: Series | None = None
        self.index = 0
        self.loaded = np.zeros(0, dtype=bool)
        self.window_state: WindowState | None = None
        self.inverted = False
        self.patient_data_visible = True
        self.wl_sensitivity = 1.0  # data units per screen pixel of right-drag
        self._reference_segment: tuple[tuple[float, float], tuple[float, float]] | None = None
        self._navigation = _navigation_keys()
        self._user_zoomed = False
        self._cursor_text = ""
        self._message_override = ""
        self.series_key = ""  # the main window's name for the series shown

        self.graphics = pg.GraphicsView(self)
        self.graphics.setBackground("k")
        self.viewbox = _SliceViewBox(self)
        self.graphics.setCentralItem(self.viewbox)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.viewbox.addItem(self.image)
        self._build_heat_layer()
        self._build_dicom_overlay_layer()
        self.classification: SliceClassification | None = None
        self.reference_line = pg.PlotCurveItem(pen=REFERENCE_PEN)
        self.reference_line.setZValue(10)
        self.viewbox.addItem(self.reference_line)
        self.disc_levels: LevelMap | None = None
        """The disc levels of the shown series' study (None: none to show)."""
        self.levels_visible = True
        self.level_labels = LevelLabels(self.viewbox)
        self.level_marks: dict[str, LevelMark] = {}
        """The worst grade per level of the study's findings, beside the level labels."""
        self.crop_outline = CropOutline(self.viewbox)
        self.measure = MeasureLayer(self)
        adopt_scene_orphans(self.graphics)
        self.graphics.scene().sigMouseMoved.connect(self._mouse_moved)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.graphics)

        self.corner = {
            name: self._label(alignment)
            for name, alignment in (
                ("top_left", Qt.AlignmentFlag.AlignLeft),
                ("top_right", Qt.AlignmentFlag.AlignRight),
                ("bottom_left", Qt.AlignmentFlag.AlignLeft),
                ("bottom_right", Qt.AlignmentFlag.AlignRight),
            )
        }
        self.markers = {side: self._marker() for side in ("left", "right", "top", "bottom")}
        self.message = self._label(Qt.AlignmentFlag.AlignCenter)
        self.caption = self._label(Qt.AlignmentFlag.AlignCenter)
        self.heat_scale = HeatScale(self)
        self.cine_timer = QTimer(self)
        self.cine_timer.timeout.connect(self._cine_step)
        self.cine_frames_per_second = 8.0
        self._update_annotations()

    # --- building ------------------------------------------------------------------------

    def _build_heat_layer(self) -> None:
        self.heat_image = pg.ImageItem(axisOrder="row-major")
        self.heat_image.setZValue(5)
        self.heat_image.setLookupTable(heat_lut())
        self.heat_image.setOpacity(DEFAULT_OPACITY)
        self.heat_image.setVisible(False)
        self.viewbox.addItem(self.heat_image)
        self.heatmap_index: int | None = None
        """The slice whose heatmap `heat_image` holds (None: none)."""
        self.heatmap_enabled = False
        self._heatmap_note = ""
        self._heat_drawn = False
        """Whether `heat_image` holds a map (False: none, or none on purpose)."""

    def _build_dicom_overlay_layer(self) -> None:
        self.dicom_overlay = pg.ImageItem(axisOrder="row-major")
        self.dicom_overlay.setZValue(6)  # over the image and the heatmap, under lines and labels
        self.dicom_overlay.setVisible(False)
        self.viewbox.addItem(self.dicom_overlay)
        self.dicom_overlays_visible = True
        """The O toggle: draw the series' DICOM overlay planes (on by default)."""
        self.dicom_overlay_groups: list[int] = []
        """The overlay groups drawn on the shown slice."""

    def _label(self, alignment: Qt.AlignmentFlag) -> QLabel:
        label = QLabel(self)
        label.setStyleSheet(_ANNOTATION_STYLE)
        label.setAlignment(alignment | Qt.AlignmentFlag.AlignTop)
        label.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        return label

    def _marker(self) -> QLabel:
        label = QLabel(self)
        label.setStyleSheet(_MARKER_STYLE)
        label.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        return label

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._place_overlays()
        if self.series is not None and not self._user_zoomed:
            self.fit()

    def _place_overlays(self) -> None:
        width, height = self.width(), self.height()
        margin = 4
        for name, label in self.corner.items():
            _fit_label(label, max(width // 2 - 2 * margin, 40))  # corners never overlap
            x = margin if name.endswith("left") else width - label.width() - margin
            y = margin if name.startswith("top") else height - label.height() - margin
            label.move(x, y)
        for side, marker in self.markers.items():
            marker.adjustSize()
            positions = {
                "left": (margin, (height - marker.height()) // 2),
                "right": (width - marker.width() - margin, (height - marker.height()) // 2),
                "top": ((width - marker.width()) // 2, margin),
                "bottom": ((width - marker.width()) // 2, height - marker.height() - margin),
            }
            marker.move(*positions[side])
        scale = self.heat_scale
        scale.move(width - scale.width() - 24, max((height - scale.height()) // 2 - 40, margin))
        self._place_caption()
        self.message.adjustSize()
        self.message.move(
            (width - self.message.width()) // 2, (height - self.message.height()) // 2
        )

    def _place_caption(self) -> None:
        """The caption centred above the bottom corner texts, sized to its current text (never
        wider than the view: it wraps instead of being cut)."""
        width, margin = self.width(), 4
        self.caption.setMaximumWidth(max(width - 2 * margin, 40))
        self.caption.adjustSize()
        bottom_texts = [
            self.corner[n] for n in ("bottom_left", "bottom_right") if self.corner[n].text()
        ]
        above = min((label.y() for label in bottom_texts), default=self.height() - margin)
        self.caption.move((width - self.caption.width()) // 2, above - self.caption.height() - 4)

    # --- series and slices ---------------------------------------------------------------

    def set_series(self, series: Series | None, loaded: np.ndarray | None = None) -> None:
        """Show `series` (slices marked False in `loaded` are still decoding)."""
        self.stop_cine()
        self.series = series
        self._message_override = ""
        self._reference_segment = None
        self.inverted = False
        self.window_state = None
        self._user_zoomed = False
        self.classification = None
        self.disc_levels = None
        self.level_marks = {}
        self.crop_outline.clear()
        self.clear_heatmap()
        if series is None:
            self.loaded = np.zeros(0, dtype=bool)
            self.image.clear()
            self.measure.sync()
            self._update_annotations()
            return
        self.loaded = loaded if loaded is not None else np.ones(series.n_slices, dtype=bool)
        self.index = series.n_slices // 2 if self.loaded.all() else int(np.argmax(self.loaded))
        self._set_orientation_markers()
        self._render()
        self.fit()

    def slice_arrived(self, index: int) -> None:
        """A worker stored slice `index`: draw it if it is the one shown (or nothing is yet)."""
        if self.series is None or index >= len(self.loaded):
            return
        first = not self.loaded.any()
        self.loaded[index] = True
        if first and index != self.index:
            self.crop_outline.clear()  # it was on another slice
        if first:
            self.index = index
        if first or index == self.index:
            self._render()
        else:
            self._update_annotations()

    def set_slice(self, index: int) -> None:
        if self.series is None:
            return
        index = max(0, min(self.series.n_slices - 1, index))
        if index == self.index:
            return
        self.index = index
        self.crop_outline.clear()  # it outlined the slice left
        self._render()
        self.slice_changed.emit(index)

    def step_slices(self, steps: int) -> None:
        self.set_slice(self.index + steps)

    @property
    def n_slices(self) -> int:
        return 0 if self.series is None else self.series.n_slices

    # --- window / level ------------------------------------------------------------------

    def set_window(
        self, center: float, width: float, function: str = "LINEAR", name: str = ""
    ) -> None:
        self.window_state = WindowState(center, max(width, 1.0), function, name)
        self._render()
        self.window_changed.emit(self.window_state.center, self.window_state.width)

    def apply_preset(self, preset: WindowPreset) -> None:
        self.set_window(preset.center, preset.width, preset.function, preset.name)

    def apply_preset_number(self, number: int) -> bool:
        """Number keys: 1–4 the MR percentile presets, 5+ the DICOM header presets."""
        values = self.current_values()
        if values is None:
            return False
        if number <= len(MR_PRESETS):
            self.apply_preset(MR_PRESETS[number - 1].window_for(values))
            return True
        header = self.series.voi_presets if self.series is not None else []
        position = number - len(MR_PRESETS) - 1
        if position < len(header):
            self.apply_preset(header[position])
            return True
        if position == len(header) and self.series is not None and self.series.voi_luts:
            lut = self.series.voi_luts[0]
            self.window_state = WindowState(0, 1, "VOI LUT", lut.explanation or "VOI LUT", lut)
            self._render()
            return True
        return False

    def drag_window(self, dx: float, dy: float) -> None:
        """Right-drag: horizontal changes the width, vertical the level (see window_from_drag)."""
        if self.window_state is None:
            return
        center, width = window_from_drag(
            self.window_state.center, self.window_state.width, dx, dy, self.wl_sensitivity
        )
        self.set_window(
            center, width, self.window_state.function if self.window_state.lut is None else "LINEAR"
        )

    def set_levels_from_histogram(self, low: float, high: float) -> None:
        """The histogram widget moved the LINEAR levels."""
        center, width = (low + high) / 2 + 0.5, high - low + 1
        if (
            self.window_state
            and math.isclose(center, self.window_state.center)
            and math.isclose(width, self.window_state.width)
        ):
            return
        self.set_window(center, width, "LINEAR", "Manual")

    def toggle_invert(self) -> None:
        self.inverted = not self.inverted
        self._render()

    def reset(self) -> None:
        self.inverted = False
        self.window_state = None
        self._render()
        self.fit()

    # --- zoom and pan --------------------------------------------------------------------

    def fit(self) -> None:
        self._user_zoomed = False
        self.viewbox.setRange(self.image_rect(), padding=0.02)
        self.view_changed()

    def actual_size(self) -> None:
        """1:1: one image pixel per screen pixel, centred where the view is centred."""
        if self.series is None:
            return
        spacing = self.series.pixel_spacing or (1.0, 1.0)
        view_rect = self.viewbox.viewRect()
        center = view_rect.center()
        width_mm = self.viewbox.width() * spacing[1]
        height_mm = self.viewbox.height() * spacing[1]
        self.viewbox.setRange(
            QRectF(center.x() - width_mm / 2, center.y() - height_mm / 2, width_mm, height_mm),
            padding=0.0,
        )
        self._user_zoomed = True
        self.view_changed()

    def zoom_by(self, factor: float) -> None:
        self.viewbox.scaleBy((1 / factor, 1 / factor))
        self._user_zoomed = True
        self.view_changed()

    def zoom_factor(self) -> float:
        """Screen pixels per image pixel along the row direction."""
        if self.series is None:
            return 1.0
        spacing = self.series.pixel_spacing or (1.0, 1.0)
        visible_mm = self.viewbox.viewRect().width()
        return self.viewbox.width() / visible_mm * spacing[1] if visible_mm > 0 else 1.0

    def view_changed(self) -> None:
        self._update_annotations()

    # --- cine ----------------------------------------------------------------------------

    def toggle_cine(self) -> None:
        if self.cine_timer.isActive():
            self.stop_cine()
        elif self.n_slices > 1:
            self.cine_timer.start(max(1, round(1000 / self.cine_frames_per_second)))

    def stop_cine(self) -> None:
        self.cine_timer.stop()

    def _cine_step(self) -> None:
        if self.n_slices:
            self.set_slice((self.index + 1) % self.n_slices)

    # --- cross-reference -----------------------------------------------------------------

    def set_reference_plane(self, other: Any) -> None:
        """Draw where another viewport's current slice plane cuts this image (None hides)."""
        segment = None
        plane = self.series.plane(self.index) if self.series is not None else None
        if other is not None and plane is not None and self.series is not None:
            spacing = self.series.pixel_spacing or (1.0, 1.0)
            segment = plane_intersection_in_image(plane, spacing, self.series.shape[1:], other)
        self._reference_segment = segment
        if segment is None:
            self.reference_line.setData([], [])
        else:
            (x0, y0), (x1, y1) = segment
            self.reference_line.setData([x0, x1], [y0, y1])

    @property
    def reference_segment(self) -> tuple[tuple[float, float], tuple[float, float]] | None:
        return self._reference_segment

    # --- patient data and export ---------------------------------------------------------

    def set_levels(self, levels: LevelMap | None) -> None:
        """The disc levels of the shown series' study: a sagittal or coronal slice shows them
        as labels beside the spine, an axial slice its nearest level in the corner."""
        self.disc_levels = levels
        self._update_annotations()

    def set_levels_visible(self, visible: bool) -> None:
        self.levels_visible = visible
        self._update_annotations()

    def set_level_marks(self, marks: dict[str, LevelMark]) -> None:
        """The worst grade per level of the study's findings, drawn beside the level labels."""
        self.level_marks = marks
        self._update_annotations()

    def show_crop_box(self, box: tuple[float, float, float, float] | None) -> None:
        """Outline `box` ((x0, y0, x1, y1) pixels of the current slice: the region a grading
        model read) until another slice or series is shown; None removes it."""
        if box is None or self.series is None:
            self.crop_outline.clear()
            return
        self.crop_outline.show(box, self.series.pixel_spacing or (1.0, 1.0))

    def _level_text(self) -> str:
        """The corner line of the nearest disc level (drawing the labels on the way)."""
        series, levels = self.series, self.disc_levels
        if series is None or levels is None or not self.levels_visible:
            self.level_labels.clear()
            return ""
        plane = series.plane(self.index)
        spacing = series.pixel_spacing or (1.0, 1.0)
        labels = slice_labels(levels, plane, spacing, series.slice_spacing)
        self.level_labels.show(labels, self.level_marks)
        return slice_level_text(levels, plane)

    def set_patient_data_visible(self, visible: bool) -> None:
        self.patient_data_visible = visible
        self._update_annotations()

    def export_png(self, path: Path, *, hide_patient_data: bool = True) -> None:
        """Save the slice at the image's own pixel size (see `render_image`) as PNG, written
        atomically, with the series, slice and window (no patient data) in its text."""
        shown = self.patient_data_visible
        self.set_patient_data_visible(shown and not hide_patient_data)
        try:
            image = self.render_image()
        finally:
            self.set_patient_data_visible(shown)
        write_bytes_atomic(path, encode_png(_rgb_array(image), self.export_text()), mode=0o644)

    def export_text(self) -> dict[str, str]:
        """The PNG text of an export: what it shows, never who it shows."""
        texts = {"Software": "spineview"}
        series = self.series
        if series is not None:
            lines = [
                self.corner["top_left"].text(),
                _without_zoom(self.corner["bottom_left"].text()),
            ]
            texts["Description"] = "\n".join(line for line in lines if line)
            texts["Source"] = f"series {series.series_uid}, slice {self.index + 1}"
        return texts

    def export_scale(self) -> int:
        """Screen-free export size factor: 1, or the whole number that brings an image whose
        shorter side is under `EXPORT_MIN_SIDE` pixels to at least that."""
        if self.series is None:
            return 1
        shorter = min(self.series.shape[1:])
        return max(1, math.ceil(EXPORT_MIN_SIDE / shorter))

    def render_image(self) -> QImage:
        """The current slice at the image's own size (rows × columns, times `export_scale`):
        the view's scene over the image rectangle (window/level, inversion, heatmap, DICOM
        overlays and every item drawn on the slice) and the annotations laid out for that
        size. The view's zoom and pan do not matter and are left as they were."""
        if self.series is None:
            raise OSError("no series to export")
        rows, cols = self.series.shape[1:]
        scale = self.export_scale()
        image = QImage(cols * scale, rows * scale, QImage.Format.Format_RGB32)
        image.fill(QColor(0, 0, 0))
        rect = self.image_rect()
        x_range, y_range = self.viewbox.viewRange()
        zoomed = self._user_zoomed
        painter = QPainter(image)
        try:
            self.viewbox.setRange(rect, padding=0.0)  # the whole image inside: nothing clipped
            source = self.viewbox.mapViewToScene(rect).boundingRect()
            self.graphics.scene().render(
                painter, QRectF(image.rect()), source, Qt.AspectRatioMode.IgnoreAspectRatio
            )
            self._paint_annotations(painter, image.width(), image.height())
        finally:
            painter.end()
            self.viewbox.setRange(xRange=x_range, yRange=y_range, padding=0.0)
            self._user_zoomed = zoomed
        return image

    def _paint_annotations(self, painter: QPainter, width: int, height: int) -> None:
        """Corner text, orientation letters and the caption, laid out anew for an export of
        `width` × `height` (the screen's layout fits the widget, not the image). The pointer
        readout is left out."""
        font = QFont("monospace")
        font.setStyleHint(QFont.StyleHint.Monospace)
        font.setPixelSize(max(10, min(width, height) // 42))
        painter.setFont(font)
        margin = max(3, font.pixelSize() // 3)
        half = max(width // 2 - 2 * margin, 40)
        left, right = Qt.AlignmentFlag.AlignLeft, Qt.AlignmentFlag.AlignRight
        corners = {"top_left": (left, True), "top_right": (right, True)}
        corners["bottom_left"] = (left, False)
        bottom = height - margin
        for name, (side, top) in corners.items():
            label = self.corner[name]
            text = _without_zoom(label.text()) if label.isVisible() else ""
            if not text:
                continue
            box = _text_box(painter, text, half, side)
            x = margin if side == left else width - margin - box.width()
            y = margin if top else height - margin - box.height()
            _paint_text(painter, text, box.translated(x, y), side, _ANNOTATION_COLOURS)
            if not top:
                bottom = min(bottom, int(y))
        centre = Qt.AlignmentFlag.AlignHCenter
        for where, marker in self.markers.items():
            if not marker.text():
                continue
            box = _text_box(painter, marker.text(), half, centre)
            x = {"left": margin, "right": width - margin - box.width()}.get(
                where, (width - box.width()) / 2
            )
            y = {"top": margin, "bottom": height - margin - box.height()}.get(
                where, (height - box.height()) / 2
            )
            _paint_text(painter, marker.text(), box.translated(x, y), centre, _MARKER_COLOURS)
        if self.caption.isVisible() and self.caption.text():
            box = _text_box(painter, self.caption.text(), width - 2 * margin, centre)
            x, y = (width - box.width()) / 2, bottom - box.height() - margin
            _paint_text(painter, self.caption.text(), box.translated(x, y), centre,
                        _ANNOTATION_COLOURS)  # fmt: skip

    # --- keys and mouse ------------------------------------------------------------------

    def keyPressEvent(self, event: QKeyEvent) -> None:
        action = self._navigation.get(event.key())
        if action is None or self.series is None:
            super().keyPressEvent(event)
            return
        steps = {"next_slice": 1, "previous_slice": -1, "page_forward": PAGE_STEP,
                 "page_back": -PAGE_STEP}  # fmt: skip
        if action in steps:
            self.step_slices(steps[action])
        elif action == "first_slice":
            self.set_slice(0)
        elif action == "last_slice":
            self.set_slice(self.n_slices - 1)
        elif action == "cine":
            self.toggle_cine()
        event.accept()

    def focusInEvent(self, event: Any) -> None:
        super().focusInEvent(event)
        self.activated.emit()

    def _mouse_moved(self, scene_position: QPointF) -> None:
        """Only the readout corner changes with the pointer: no full annotation rebuild."""
        text = self.readout_at(self.viewbox.mapSceneToView(scene_position))
        self._cursor_text = text
        self.cursor_text_changed.emit(text)
        label = self.corner["bottom_right"]
        label.setText(text)
        label.setVisible(bool(text))
        label.adjustSize()
        label.move(self.width() - label.width() - 4, self.height() - label.height() - 4)

    def readout_at(self, point: QPointF) -> str:
        """Pixel value and patient position (mm) under a scene point, or "" outside the image."""
        series = self.series
        if series is None or not self.loaded.any():
            return ""
        row_spacing, column_spacing = series.pixel_spacing or (1.0, 1.0)
        row, col = int(point.y() // row_spacing), int(point.x() // column_spacing)
        rows, cols = series.shape[1:]
        if not (0 <= row < rows and 0 <= col < cols):
            return ""
        value = float(series.volume[self.index, row, col])
        text = f"({col}, {row})  value {value:.6g}"
        plane = series.plane(self.index)
        if plane is not None:
            x, y, z = pixel_to_patient(
                plane.position, plane.orientation, (row_spacing, column_spacing), row, col
            )
            text += f"\n{x:.1f}, {y:.1f}, {z:.1f} mm"
        return text

    # --- drawing -------------------------------------------------------------------------

    def current_values(self) -> np.ndarray | None:
        if self.series is None or not self.loaded.any() or not self.loaded[self.index]:
            return None
        return self.series.volume[self.index]

    def _render(self) -> None:
        self.measure.sync()  # the measurements of this series and slice
        values = self.current_values()
        self._update_dicom_overlay()
        if values is None:
            self.image.clear()
            self._update_annotations()
            return
        finite = np.nan_to_num(values)
        if self.window_state is None:
            header = self.series.voi_presets if self.series is not None else []
            preset = header[0] if header else AUTO.window_for(values)
            self.window_state = WindowState(
                preset.center, preset.width, preset.function, preset.name
            )
            self.window_changed.emit(self.window_state.center, self.window_state.width)
            self._update_sensitivity(finite)
        series = self.series
        shown_inverted = series is not None and needs_inversion(
            series.photometric, series.presentation_lut_shape
        )
        invert = self.inverted != shown_inverted
        window = self.window_state
        if window.lut is not None:
            self.image.setImage(
                apply_voi_lut(finite, window.lut, invert), levels=(0, 255), lut=GREY
            )
        elif window.function == "SIGMOID":
            shown = apply_preset(finite, WindowPreset(window.center, window.width, "", "SIGMOID"))
            self.image.setImage(shown, levels=(0, 255), lut=GREY_INVERTED if invert else GREY)
        else:
            low, high = self.levels()
            lut = GREY_INVERTED if invert else GREY
            self.image.setImage(finite, autoLevels=False, levels=(low, high), lut=lut)
        self.image.setRect(self.image_rect())  # after setImage: the scale needs the image size
        self._update_heat_visibility()
        self._update_annotations()

    def set_dicom_overlays_visible(self, visible: bool) -> None:
        """The O toggle: show or hide the DICOM overlay planes of the series."""
        self.dicom_overlays_visible = visible
        self._update_dicom_overlay()
        self._update_annotations()

    def _update_dicom_overlay(self) -> None:
        """Draw the shown slice's overlay planes, each in its colour, semi-opaque."""
        series = self.series
        masks: dict[int, np.ndarray] = {}
        if series is not None and series.overlays and self.current_values() is not None:
            masks = series.overlays[self.index]
        groups = series.overlay_groups if series is not None else []
        shown = self.dicom_overlays_visible and bool(masks)
        self.dicom_overlay_groups = sorted(masks) if shown else []
        if shown and series is not None:
            colours = {group: OVERLAY_COLOURS[n % len(OVERLAY_COLOURS)] for n, group in
                       enumerate(groups)}  # fmt: skip
            self.dicom_overlay.setImage(overlay_rgba(masks, colours), autoLevels=False)
            self.dicom_overlay.setRect(self.image_rect())
        else:
            self.dicom_overlay.clear()
        self.dicom_overlay.setVisible(shown)

    def _overlay_text(self) -> str:
        """The corner line: "overlay 6000" while drawn; a hidden one says how to show it."""
        if self.dicom_overlay_groups:
            return "overlay " + ", ".join(f"{group:04X}" for group in self.dicom_overlay_groups)
        series = self.series
        hidden = series is not None and not self.dicom_overlays_visible
        if hidden and series is not None and series.overlays and series.overlays[self.index]:
            return "overlay hidden (O)"
        return ""

    def image_rect(self) -> QRectF:
        """The image's extent in scene millimetres."""
        if self.series is None:
            return QRectF(0, 0, 1, 1)
        rows, cols = self.series.shape[1:]
        row_spacing, column_spacing = self.series.pixel_spacing or (1.0, 1.0)
        return QRectF(0, 0, cols * column_spacing, rows * row_spacing)

    def levels(self) -> tuple[float, float]:
        """pyqtgraph levels equal to the current LINEAR (or LINEAR_EXACT) window."""
        if self.window_state is None:
            return 0.0, 1.0
        center, width = self.window_state.center, self.window_state.width
        if self.window_state.function == "LINEAR_EXACT":
            return center - width / 2, center + width / 2
        return center - 0.5 - (width - 1) / 2, center - 0.5 + (width - 1) / 2

    def _update_sensitivity(self, values: np.ndarray) -> None:
        low, high = np.percentile(values[:: max(1, values.shape[0] // 256)], [1, 99])
        self.wl_sensitivity = max(float(high - low), 1.0) / WINDOW_DRAG_SCREEN_PIXELS

    def _set_orientation_markers(self) -> None:
        series = self.series
        if series is None or series.orientation is None:
            for marker in self.markers.values():
                marker.setText("")
            return
        row_dir, col_dir, _ = row_col_normal(series.orientation)
        texts = {
            "right": _direction_letters(row_dir),
            "left": _direction_letters(-row_dir),
            "bottom": _direction_letters(col_dir),
            "top": _direction_letters(-col_dir),
        }
        for side, marker in self.markers.items():
            marker.setText(texts[side])

    def _update_annotations(self) -> None:
        series = self.series
        level_text = self._level_text()
        if series is None:
            for label in self.corner.values():
                label.setText("")
                label.setVisible(False)
            self.message.setText(
                self._message_override or "Open a folder (Ctrl+O) or drop one here"
            )
            self.message.setVisible(True)
            self.caption.setVisible(False)
            self._place_overlays()
            return
        number = f"Se {series.series_number}  " if series.series_number is not None else ""
        top_left = [f"{number}{series.description or '(no description)'}"]
        if series.series_type not in series.description:
            top_left.append(series.series_type)
        slice_line = f"Im {self.index + 1}/{series.n_slices}"
        distances = series.slice_distances()
        if distances is not None:
            slice_line += f"   Pos {distances[self.index]:.1f} mm"
        if series.slice_thickness:
            slice_line += f"   Th {series.slice_thickness:g} mm"
        top_left.append(slice_line)
        if level_text:
            top_left.append(level_text)
        if series.order_uncertain:
            top_left.append("order uncertain")
        self.corner["top_left"].setText("\n".join(top_left))
        study = series.study
        patient = [
            study.patient_name.replace("^", " "),
            study.patient_id,
            format_dicom_date(study.study_date),
        ]
        patient_text = "\n".join(line for line in patient if line)
        self.corner["top_right"].setText(patient_text if self.patient_data_visible else "")
        self.corner["top_right"].setVisible(self.patient_data_visible and bool(patient_text))
        bottom_left = []
        if self.window_state is not None:
            if self.window_state.lut is not None:
                bottom_left.append(f"VOI LUT {self.window_state.name}")
            else:
                state = self.window_state
                name = f" ({state.name})" if state.name else ""
                bottom_left.append(f"W {state.width:.0f}  L {state.center:.0f}{name}")
        bottom_left.append(
            f"Zoom {self.zoom_factor():.2f}×" + ("  inverted" if self.inverted else "")
        )
        bottom_left.extend(line for line in (self._overlay_text(),) if line)
        self.corner["bottom_left"].setText("\n".join(bottom_left))
        self.corner["bottom_right"].setText(self._cursor_text)
        for name in ("top_left", "bottom_left", "bottom_right"):
            self.corner[name].setVisible(bool(self.corner[name].text()))
        self._update_caption()
        waiting = not self.loaded.any() or not self.loaded[self.index]
        text = self._message_override or ("Loading…" if waiting else "")
        self.message.setText(text)
        self.message.setVisible(bool(text))
        self._place_overlays()

    # --- classification and heatmap ----------------------------------------------------------

    def set_classification(self, classification: SliceClassification | None) -> None:
        """Show (or clear) a model's per-slice result in the caption under the image."""
        self.classification = classification
        self._update_annotations()

    def set_heatmap(self, index: int, heat: np.ndarray, note: str = "") -> None:
        """A heatmap in [0, 1] on slice `index`'s pixel grid; shown while that slice is.
        `note` (e.g. "no evidence for the class") goes under the caption with it."""
        if self.series is None or heat.shape != self.series.shape[1:]:
            return
        self.heat_image.setImage(heat_indices(heat), autoLevels=False, levels=(0, 255))
        self._heat_drawn = True
        self.heat_image.setRect(self.image_rect())
        self.heatmap_index = index
        self._heatmap_note = note
        self._update_heat_visibility()
        self._update_annotations()

    def set_heatmap_absent(self, index: int, note: str) -> None:
        """No map for slice `index` on purpose: the caption says why (`note`), nothing is drawn
        and no colour bar shows."""
        self.heat_image.clear()
        self.heatmap_index = index
        self._heatmap_note = note
        self._heat_drawn = False
        self._update_heat_visibility()
        self._update_caption()

    def clear_heatmap(self) -> None:
        self.heatmap_index = None
        self._heatmap_note = ""
        self._heat_drawn = False
        self.heat_image.clear()
        self._update_heat_visibility()

    def set_heatmap_enabled(self, enabled: bool) -> None:
        self.heatmap_enabled = enabled
        self._update_heat_visibility()
        self._update_annotations()

    def set_heatmap_opacity(self, opacity: float) -> None:
        self.heat_image.setOpacity(float(np.clip(opacity, 0.0, 1.0)))

    @property
    def heatmap_shown(self) -> bool:
        return self.heat_image.isVisible()

    def _update_heat_visibility(self) -> None:
        shown = (
            self.heatmap_enabled and self.series is not None and self.heatmap_index == self.index
        )
        self.heat_image.setVisible(shown and self._heat_drawn)
        self.heat_scale.setVisible(shown and self._heat_drawn)

    def show_message(self, text: str) -> None:
        """A message in the middle of the view (no images found, load failed, ...)."""
        self._message_override = text
        self._update_annotations()

    def _update_caption(self) -> None:
        result = self.classification
        text = result.caption(self.index) if result is not None else ""
        if (
            text
            and self._heatmap_note
            and self.heatmap_enabled
            and self.heatmap_index == self.index
        ):
            text += f"\n{self._heatmap_note}"
        if result is not None and text:
            colour = (
                _WITHHELD_COLOUR
                if result.withheld
                else _POSITIVE_COLOUR
                if result.is_positive(self.index)
                else _NEGATIVE_COLOUR
            )
            self.caption.setStyleSheet(_CAPTION_STYLE.format(colour=colour))
        self.caption.setText(text)
        self.caption.setVisible(bool(text))
        self._place_caption()  # a longer text than the last needs a larger label

    def visible_texts(self) -> list[str]:
        """All annotation text currently on screen (tests; the patient-data toggle)."""
        labels = [*self.corner.values(), self.message, self.caption, *self.markers.values()]
        return [label.text() for label in labels if label.isVisible() and label.text()]


_ANNOTATION_COLOURS = (QColor(230, 230, 230), QColor(0, 0, 0, 110))
_MARKER_COLOURS = (QColor(255, 210, 0), QColor(0, 0, 0, 0))


def overlay_rgba(
    masks: dict[int, np.ndarray], colours: dict[int, tuple[int, int, int]]
) -> np.ndarray:
    """(rows, columns, 4) uint8: each group's mask in its colour at `OVERLAY_ALPHA`, later
    groups over earlier ones, transparent elsewhere."""
    first = next(iter(masks.values()))
    rgba = np.zeros((*first.shape, 4), dtype=np.uint8)
    for group in sorted(masks):
        rgba[masks[group]] = (*colours.get(group, OVERLAY_COLOURS[0]), OVERLAY_ALPHA)
    return rgba


def _without_zoom(text: str) -> str:
    """Corner text for an export at the image's own size, where the screen's zoom means
    nothing ("Zoom 2.00×  inverted" keeps "inverted")."""
    lines = [
        ("inverted" if line.endswith("inverted") else "") if line.startswith("Zoom ") else line
        for line in text.splitlines()
    ]
    return "\n".join(line for line in lines if line)


def _rgb_array(image: QImage) -> np.ndarray:
    """(height, width, 3) uint8 copy of `image`."""
    rgb = image.convertToFormat(QImage.Format.Format_RGB888)
    buffer = np.frombuffer(rgb.constBits(), dtype=np.uint8)
    rows = buffer.reshape(rgb.height(), rgb.bytesPerLine())[:, : rgb.width() * 3]
    return rows.reshape(rgb.height(), rgb.width(), 3).copy()


def _text_box(painter: QPainter, text: str, max_width: int, align: Qt.AlignmentFlag) -> QRectF:
    """The padded box `text` takes when wrapped at `max_width`, at the origin."""
    flags = int(align | Qt.AlignmentFlag.AlignTop) | int(Qt.TextFlag.TextWordWrap)
    bounds = painter.boundingRect(QRectF(0, 0, max_width, 10_000), flags, text)
    pad = 3
    return QRectF(0, 0, bounds.width() + 2 * pad, bounds.height() + 2 * pad)


def _paint_text(
    painter: QPainter,
    text: str,
    box: QRectF,
    align: Qt.AlignmentFlag,
    colours: tuple[QColor, QColor],
) -> None:
    foreground, background = colours
    painter.fillRect(box, background)
    painter.setPen(foreground)
    flags = int(align | Qt.AlignmentFlag.AlignTop) | int(Qt.TextFlag.TextWordWrap)
    painter.drawText(box.adjusted(3, 3, -3, -3), flags, text)


def _fit_label(label: QLabel, max_width: int) -> None:
    """Size `label` to its text on one line per line when that fits in `max_width`, else
    wrap it at that width: corner text is never cut ("W 2703 L 1488 (Heade")."""
    label.setWordWrap(False)
    label.setMaximumWidth(16_777_215)
    label.adjustSize()
    if label.width() <= max_width:
        return
    label.setWordWrap(True)
    label.setMaximumWidth(max_width)
    label.resize(max_width, label.heightForWidth(max_width))


def _direction_letters(direction: np.ndarray) -> str:
    """Patient direction letters (L/R, A/P, H/F) of an LPS vector, strongest first."""
    letters = []
    for axis in np.argsort(-np.abs(direction)):
        if abs(direction[axis]) < 0.25:
            break
        positive, negative = (("L", "R"), ("P", "A"), ("H", "F"))[axis]
        letters.append(positive if direction[axis] > 0 else negative)
    return "".join(letters[:2])

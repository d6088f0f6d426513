"""Distance and angle measurements drawn on a slice view: the drawn items, their drag handles,
and the tool mode that places them with clicks (values come from `core.measurements`).

Items live in the view's scene (millimetres in the image plane), so they follow zoom and pan
and any render of the scene (the PNG export) includes them; lines, ticks and labels are drawn
at a constant screen size with a dark outline, readable on any grey level.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pyqtgraph as pg
from PySide6.QtCore import QLineF, QObject, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPainterPathStroker, QPen

from spineview.core.measurements import (
    Measurement,
    MeasurementKind,
    MeasurementStore,
    Point,
    clamp_to_image,
    inside_image,
    measured_value,
    point_from_scene,
    scene_from_point,
)

if TYPE_CHECKING:
    from spineview.ui.slice_view import SliceView

MEASURE_COLOUR = QColor(90, 230, 255)
SELECTED_COLOUR = QColor(255, 160, 60)
OUTLINE_COLOUR = QColor(0, 0, 0, 200)
TICK_PIXELS = 6.0  # half-length of an end tick, screen pixels
ARC_PIXELS = 18.0  # radius of an angle's arc
HIT_PIXELS = 8.0  # how near a click must be to a line to select it
HANDLE_PIXELS = 9
Z_MEASUREMENT = 20


class MeasurementGraphic(pg.GraphicsObject):
    """A distance (line with end ticks) or an angle (two arms with an arc at the vertex) and
    its value label. Points are scene coordinates. While `clickable`, a left click on a line
    emits `clicked` with `measurement_id`; otherwise the click goes on to the view."""

    clicked = Signal(int)

    def __init__(self, kind: MeasurementKind, measurement_id: int = 0) -> None:
        super().__init__()
        self.kind = kind
        self.measurement_id = measurement_id
        self.points: list[QPointF] = []
        self.selected = False
        self.clickable = False
        self.setZValue(Z_MEASUREMENT)
        self.label = pg.TextItem(color=MEASURE_COLOUR, fill=pg.mkBrush(0, 0, 0, 170))
        self.label.setParentItem(self)

    def set_points(self, points: Sequence[QPointF], text: str) -> None:
        self.prepareGeometryChange()
        self.points = list(points)
        self.label.setText(text, MEASURE_COLOUR if not self.selected else SELECTED_COLOUR)
        self._place_label()
        self.update()

    def set_selected(self, selected: bool) -> None:
        self.selected = selected
        self.label.setColor(SELECTED_COLOUR if selected else MEASURE_COLOUR)
        self.update()

    def _place_label(self) -> None:
        """Beside the line's middle (a distance) or outside the vertex (an angle), on the side
        away from the lines (the view has y down, as the scene)."""
        if len(self.points) < 2:
            self.label.setVisible(False)
            return
        self.label.setVisible(True)
        if self.kind is MeasurementKind.ANGLE and len(self.points) == 3:
            first, vertex, last = self.points
            away = -(_unit(first - vertex) + _unit(last - vertex))
            anchor_at = vertex
        else:
            start, end = self.points[0], self.points[-1]
            line = _unit(end - start)
            away = QPointF(line.y(), -line.x())  # perpendicular, turned to point up-right
            if away.y() > 0 or (away.y() == 0 and away.x() < 0):
                away = -away
            anchor_at = (start + end) / 2
        away = _unit(away) if away.x() or away.y() else QPointF(0, -1)
        self.label.setAnchor((0.5 - 0.8 * away.x(), 0.5 - 0.8 * away.y()))
        self.label.setPos(anchor_at)

    # --- geometry ------------------------------------------------------------------------

    def _pixel(self) -> float:
        """Length of one screen pixel in scene units (1 until the item is in a view)."""
        length = self.pixelLength(pg.Point(1, 0))
        return float(length) if length else 1.0

    def boundingRect(self) -> QRectF:
        if not self.points:
            return QRectF()
        xs, ys = [p.x() for p in self.points], [p.y() for p in self.points]
        margin = (ARC_PIXELS + 4) * self._pixel()
        return QRectF(min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)).adjusted(
            -margin, -margin, margin, margin
        )

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        if len(self.points) >= 2:
            path.moveTo(self.points[0])
            for point in self.points[1:]:
                path.lineTo(point)
        stroker = QPainterPathStroker()
        stroker.setWidth(HIT_PIXELS * 2 * self._pixel())
        return stroker.createStroke(path)

    def viewTransformChanged(self) -> None:
        self.prepareGeometryChange()  # margins are in screen pixels

    # --- drawing -------------------------------------------------------------------------

    def paint(self, painter: QPainter, *_: Any) -> None:
        if len(self.points) < 2:
            return
        device = [painter.transform().map(point) for point in self.points]
        painter.save()
        painter.resetTransform()  # draw in screen pixels: constant line widths and tick sizes
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        colour = SELECTED_COLOUR if self.selected else MEASURE_COLOUR
        for pen in (_pen(OUTLINE_COLOUR, 4.0), _pen(colour, 1.6)):
            painter.setPen(pen)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawPath(self._device_path(device))
        painter.restore()

    def _device_path(self, device: list[QPointF]) -> QPainterPath:
        path = QPainterPath(device[0])
        for point in device[1:]:
            path.lineTo(point)
        if self.kind is MeasurementKind.DISTANCE:
            start, end = device[0], device[-1]
            normal = _unit(QPointF(-(end - start).y(), (end - start).x())) * TICK_PIXELS
            for point in (start, end):
                path.moveTo(point - normal)
                path.lineTo(point + normal)
        elif len(device) == 3:
            first, vertex, last = device
            arm = QLineF(vertex, first)
            start_angle = arm.angle()  # Qt angles turn counter-clockwise as seen on screen
            sweep = arm.angleTo(QLineF(vertex, last))
            if sweep > 180:
                sweep -= 360  # the arc spans the angle measured (≤ 180°), not its complement
            box = QRectF(vertex.x() - ARC_PIXELS, vertex.y() - ARC_PIXELS,
                         2 * ARC_PIXELS, 2 * ARC_PIXELS)  # fmt: skip
            path.arcMoveTo(box, start_angle)
            path.arcTo(box, start_angle, sweep)
        return path

    def mouseClickEvent(self, ev: Any) -> None:
        if ev.button() == Qt.MouseButton.LeftButton and self.clickable:
            ev.accept()
            self.clicked.emit(self.measurement_id)
            return
        ev.ignore()


class PointHandle(pg.TargetItem):
    """A square handle on point `which` of measurement `measurement_id`, dragged to move it."""

    def __init__(self, position: QPointF, measurement_id: int, which: int) -> None:
        super().__init__(
            position, size=HANDLE_PIXELS, symbol="s", pen=pg.mkPen(SELECTED_COLOUR, width=2),
            brush=pg.mkBrush(0, 0, 0, 120), hoverPen=pg.mkPen("w", width=2),
            hoverBrush=pg.mkBrush(SELECTED_COLOUR),
        )  # fmt: skip
        self.measurement_id = measurement_id
        self.which = which
        self.setZValue(Z_MEASUREMENT + 1)


def _unit(vector: QPointF) -> QPointF:
    length = math.hypot(vector.x(), vector.y())
    return vector / length if length > 0 else QPointF(0, 0)


def _pen(colour: QColor, width: float) -> QPen:
    pen = QPen(colour, width)
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    return pen


class MeasureLayer(QObject):
    """The measurements of one `SliceView`: draws those of its series' current slice (from
    the shared store), places new ones while a tool is on, moves points by their handles."""

    changed = Signal()
    """This layer added, moved or removed a measurement (others showing it must redraw)."""
    selected = Signal(int)
    """A measurement was clicked or just drawn (its id; 0: the selection was cleared)."""
    redrawn = Signal()
    """The view now shows another series or slice."""

    def __init__(self, view: SliceView) -> None:
        super().__init__(view)
        self.view = view
        self.store: MeasurementStore | None = None
        self.tool: MeasurementKind | None = None
        self.selected_id: int | None = None
        self._shown: tuple[str, int, int] | None = None  # key, slice, id(series) drawn
        self._graphics: dict[int, MeasurementGraphic] = {}
        self._handles: list[PointHandle] = []
        self._draft_points: list[Point] = []
        self._draft: MeasurementGraphic | None = None
        view.graphics.scene().sigMouseMoved.connect(self._pointer_moved)

    # --- what is shown -------------------------------------------------------------------

    @property
    def measurements(self) -> list[Measurement]:
        """The measurements drawn now (those of the current slice)."""
        if self.store is None or self.view.series is None:
            return []
        return self.store.on_slice(self.view.series_key, self.view.index)

    def sync(self) -> None:
        """Redraw if the view moved to another series or slice (called as the view renders)."""
        series = self.view.series
        shown = (self.view.series_key, self.view.index, id(series)) if series else None
        if shown != self._shown:
            self._shown = shown
            self.cancel_draft()
            self.redraw()
            self.redrawn.emit()

    def redraw(self) -> None:
        """Rebuild the items of the current slice from the store."""
        self._clear_items()
        for measurement in self.measurements:
            graphic = MeasurementGraphic(measurement.kind, measurement.id)
            graphic.clickable = self.tool is None
            graphic.clicked.connect(self._clicked)
            self.view.viewbox.addItem(graphic)
            self._graphics[measurement.id] = graphic
            self._draw(graphic, measurement)
        self._show_handles()

    def _clear_items(self) -> None:
        for item in [*self._graphics.values(), *self._handles]:
            self.view.viewbox.removeItem(item)
        self._graphics.clear()
        self._handles.clear()

    def _draw(self, graphic: MeasurementGraphic, measurement: Measurement) -> None:
        graphic.set_points(self._scene_points(measurement.points), self._label(measurement))
        graphic.set_selected(measurement.id == self.selected_id)

    def _label(self, measurement: Measurement) -> str:
        assert self.store is not None
        return self.store.value(self.view.series_key, measurement).label

    def _spacing(self) -> tuple[float, float] | None:
        return self.view.series.pixel_spacing if self.view.series is not None else None

    def _scene_points(self, points: Sequence[Point]) -> list[QPointF]:
        spacing = self._spacing()
        return [QPointF(*scene_from_point(point, spacing)) for point in points]

    # --- selection and handles -----------------------------------------------------------

    def select(self, measurement_id: int | None) -> None:
        self.selected_id = measurement_id
        for shown_id, graphic in self._graphics.items():
            graphic.set_selected(shown_id == measurement_id)
        self._show_handles()

    def _clicked(self, measurement_id: int) -> None:
        self.select(measurement_id)
        self.selected.emit(measurement_id)

    def _show_handles(self) -> None:
        """Drag handles on the selected measurement's points."""
        for handle in self._handles:
            self.view.viewbox.removeItem(handle)
        self._handles.clear()
        measurement = next((m for m in self.measurements if m.id == self.selected_id), None)
        if measurement is None:
            return
        for which, position in enumerate(self._scene_points(measurement.points)):
            handle = PointHandle(position, measurement.id, which)
            handle.sigPositionChanged.connect(self._handle_moved)
            self.view.viewbox.addItem(handle)
            self._handles.append(handle)

    def _handle_moved(self, handle: PointHandle) -> None:
        """A handle was dragged: move the point (kept on the image), redraw, report."""
        series = self.view.series
        if self.store is None or series is None:
            return
        position = handle.pos()
        point = point_from_scene(position.x(), position.y(), series.pixel_spacing)
        point = clamp_to_image(point, series.shape[1:])
        measurement = self.store.move_point(handle.measurement_id, handle.which, point)
        if measurement is None:
            return
        graphic = self._graphics.get(handle.measurement_id)
        if graphic is not None:
            self._draw(graphic, measurement)
        clamped = self._scene_points([point])[0]
        if clamped != position:
            handle.blockSignals(True)
            handle.setPos(clamped)
            handle.blockSignals(False)
        self.changed.emit()

    # --- placing new measurements --------------------------------------------------------

    def set_tool(self, tool: MeasurementKind | None) -> None:
        self.cancel_draft()
        self.tool = tool
        for graphic in self._graphics.values():
            graphic.clickable = tool is None
        cursor = Qt.CursorShape.CrossCursor if tool else Qt.CursorShape.ArrowCursor
        self.view.graphics.viewport().setCursor(cursor)

    @property
    def drafting(self) -> bool:
        return bool(self._draft_points)

    def cancel_draft(self) -> bool:
        """Drop a half-drawn measurement; whether there was one."""
        had = bool(self._draft_points)
        self._draft_points.clear()
        if self._draft is not None:
            self.view.viewbox.removeItem(self._draft)
            self._draft = None
        return had

    def click(self, scene_position: QPointF) -> None:
        """A left click on the view: a point of the measurement being drawn, or (no tool)
        a click beside every measurement, which clears the selection."""
        series = self.view.series
        if self.tool is None:
            if self.selected_id is not None:
                self.select(None)
                self.selected.emit(0)
            return
        if series is None or self.store is None:
            return
        position = self.view.viewbox.mapSceneToView(scene_position)
        point = point_from_scene(position.x(), position.y(), series.pixel_spacing)
        if not inside_image(point, series.shape[1:]):
            return
        self._draft_points.append(point)
        if len(self._draft_points) < self.tool.point_count:
            self._show_draft([*self._draft_points, point])
            return
        measurement = self.store.add(
            self.view.series_key, series, self.tool, self.view.index, self._draft_points
        )
        self.cancel_draft()
        self.selected_id = measurement.id
        self.redraw()
        self.changed.emit()
        self.selected.emit(measurement.id)

    def _pointer_moved(self, scene_position: QPointF) -> None:
        series = self.view.series
        if not self._draft_points or series is None:
            return
        position = self.view.viewbox.mapSceneToView(scene_position)
        point = clamp_to_image(
            point_from_scene(position.x(), position.y(), series.pixel_spacing), series.shape[1:]
        )
        self._show_draft([*self._draft_points, point])

    def _show_draft(self, points: list[Point]) -> None:
        assert self.tool is not None
        if self._draft is None:
            self._draft = MeasurementGraphic(self.tool)
            self.view.viewbox.addItem(self._draft)
        text = ""
        if len(points) == self.tool.point_count:
            draft = Measurement(0, self.tool, self.view.index, tuple(points))
            text = measured_value(draft, self._spacing()).label
        self._draft.set_points(self._scene_points(points), text)

"""The region a grading model read, outlined on the slice it was read from."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import QRectF
from PySide6.QtGui import QColor, QPen
from PySide6.QtWidgets import QGraphicsRectItem

OUTLINE_COLOUR = QColor(64, 208, 255)
"""Cyan: apart from the yellow level labels and cross-reference line and from the heatmap."""
OUTLINE_Z = 14  # above the image, heatmap and cross-reference line, under the level labels


class CropOutline:
    """One rectangle over the image (with a dark edge so it reads on bright tissue)."""

    def __init__(self, viewbox: pg.ViewBox) -> None:
        self.box: tuple[float, float, float, float] | None = None
        """The outlined box in pixels (x0, y0, x1, y1); None when nothing is outlined."""
        self.items = (QGraphicsRectItem(), QGraphicsRectItem())
        for z, (item, colour, width) in enumerate(
            zip(self.items, (QColor(0, 0, 0, 200), OUTLINE_COLOUR), (4, 2), strict=True)
        ):
            pen = QPen(colour, width)
            pen.setCosmetic(True)  # as wide at any zoom
            item.setPen(pen)
            item.setZValue(OUTLINE_Z + z * 0.5)
            item.setVisible(False)
            viewbox.addItem(item)

    def show(self, box: tuple[float, float, float, float], spacing: tuple[float, float]) -> None:
        """Outline `box` (pixels) on an image of (row, column) `spacing` mm: scene units are
        millimetres, pixel (x, y) spans x..x+1 columns and y..y+1 rows."""
        row_spacing, column_spacing = spacing
        x0, y0, x1, y1 = box
        rect = QRectF(
            x0 * column_spacing,
            y0 * row_spacing,
            (x1 - x0) * column_spacing,
            (y1 - y0) * row_spacing,
        ).normalized()
        self.box = box
        for item in self.items:
            item.setRect(rect)
            item.setVisible(True)

    def clear(self) -> None:
        self.box = None
        for item in self.items:
            item.setVisible(False)

    @property
    def scene_rect(self) -> QRectF | None:
        """Where the outline is, in scene millimetres (None when hidden)."""
        return None if self.box is None else self.items[1].rect()

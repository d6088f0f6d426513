"""The colour bar shown beside a heatmap overlay: its colours and what they mean."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPixmap
from PySide6.QtWidgets import QLabel, QWidget

from spineview.core.heatmap import SCALE_TEXT, colour_bar

BAR_HEIGHT = 120
BAR_WIDTH = 10
_TEXT_COLOUR = QColor(230, 230, 230)


class HeatScale(QLabel):
    """A small legend: the heat colours from "none" (bottom) to "strongest" (top)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.setStyleSheet("QLabel { background: rgba(0, 0, 0, 150); border-radius: 3px; }")
        self.setToolTip(SCALE_TEXT)
        self.setPixmap(self._render())
        self.adjustSize()
        self.hide()

    def _render(self) -> QPixmap:
        bar = colour_bar(BAR_HEIGHT, BAR_WIDTH).copy()
        image = QImage(bar.data, BAR_WIDTH, BAR_HEIGHT, 3 * BAR_WIDTH, QImage.Format.Format_RGB888)
        font = QFont(self.font())
        font.setPointSizeF(max(font.pointSizeF() * 0.8, 6.0))
        text_width = 62
        pixmap = QPixmap(BAR_WIDTH + text_width + 12, BAR_HEIGHT + 8)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        try:
            painter.drawImage(4, 4, image)
            painter.setFont(font)
            painter.setPen(_TEXT_COLOUR)
            left = BAR_WIDTH + 8
            align = Qt.AlignmentFlag.AlignLeft
            painter.drawText(
                left, 2, text_width, 16, align | Qt.AlignmentFlag.AlignTop, "strongest"
            )
            painter.drawText(
                left, BAR_HEIGHT - 10, text_width, 16, align | Qt.AlignmentFlag.AlignTop, "none"
            )
        finally:
            painter.end()
        return pixmap

"""Disc level labels over a sagittal (or coronal) slice: per disc a short tick in front of the
spine and the level's name beyond it, light on a dark box so they read on any grey level.
Where each goes is worked out in `core.level_display`; this only draws it. A study with graded
findings adds the worst grade at a level after its name ("L4/L5 ● Severe", `LevelMark`)."""

from __future__ import annotations

import html
from collections.abc import Mapping

import pyqtgraph as pg
from PySide6.QtCore import QLineF
from PySide6.QtGui import QColor, QFont, QPen
from PySide6.QtWidgets import QGraphicsLineItem

from spineview.core.level_display import ShownLabel
from spineview.core.levels import LEVELS
from spineview.models.findings_display import LevelMark

LABEL_COLOUR = QColor(255, 226, 110)
UNSURE_COLOUR = QColor(255, 150, 90)
FADED_OPACITY = 0.35
LABELS_Z = 15  # above the image, the heatmap and the cross-reference line


class LevelLabels:
    """One label per lumbar level, made once and moved, shown or hidden per slice."""

    def __init__(self, viewbox: pg.ViewBox) -> None:
        self.shown: list[ShownLabel] = []
        """The labels drawn now (tests; empty when hidden)."""
        self.texts: list[pg.TextItem] = []
        self._ticks: list[tuple[QGraphicsLineItem, QGraphicsLineItem]] = []
        font = QFont()
        font.setBold(True)
        font.setPointSize(9)
        for _ in LEVELS:
            text = pg.TextItem(color=LABEL_COLOUR, fill=pg.mkBrush(0, 0, 0, 170))
            text.setFont(font)
            shadow, tick = QGraphicsLineItem(), QGraphicsLineItem()
            shadow.setPen(_cosmetic_pen(QColor(0, 0, 0, 200), 4))
            tick.setPen(_cosmetic_pen(LABEL_COLOUR, 2))
            for z, item in enumerate((shadow, tick, text)):
                item.setZValue(LABELS_Z + z)
                item.setVisible(False)
                viewbox.addItem(item)
            self.texts.append(text)
            self._ticks.append((shadow, tick))

    def show(self, labels: list[ShownLabel], marks: Mapping[str, LevelMark] | None = None) -> None:
        """Draw `labels` (at most one per level), each with its level's grade mark if
        `marks` has one; the other slots are hidden."""
        self.shown = labels[: len(self.texts)]
        for slot, text in enumerate(self.texts):
            shadow, tick = self._ticks[slot]
            if slot >= len(self.shown):
                for item in (shadow, tick, text):
                    item.setVisible(False)
                continue
            label = self.shown[slot]
            (x0, y0), (x1, y1) = label.tick
            colour = UNSURE_COLOUR if label.unsure else LABEL_COLOUR
            mark = (marks or {}).get(label.level)
            if mark is None:
                text.setText(label.text, color=colour)
                text.setToolTip(label.tooltip)
            else:
                text.setHtml(_marked_html(label.text, colour, mark))
                text.setToolTip(f"{label.tooltip}\n{mark.tooltip}")
            text.setAnchor((1.0, 0.5) if label.text_leftwards else (0.0, 0.5))
            text.setPos(*label.text_at)
            tick.setPen(_cosmetic_pen(colour, 2))
            opacity = FADED_OPACITY if label.faded else 1.0
            for line in (shadow, tick):
                line.setLine(QLineF(x0, y0, x1, y1))
            for item in (shadow, tick, text):
                item.setOpacity(opacity)
                item.setVisible(True)

    def clear(self) -> None:
        self.show([])


def _marked_html(name: str, colour: QColor, mark: LevelMark) -> str:
    """The level's name in its colour, then the grade mark in the grade's."""
    return (
        f'<span style="color:{colour.name()}">{html.escape(name)}</span>'
        f'&nbsp;&nbsp;<span style="color:{mark.colour}">{html.escape(mark.text)}</span>'
    )


def _cosmetic_pen(colour: QColor, width: int) -> QPen:
    """A pen as wide in screen pixels at any zoom."""
    pen = QPen(colour, width)
    pen.setCosmetic(True)
    return pen

"""A viewport frame (the slice view, a slice slider under it, the active-viewport border) and
the pair of them the main window shows."""

from __future__ import annotations

from functools import partial

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QSlider, QVBoxLayout, QWidget

from spineview.ui.slice_view import SliceView

_ACTIVE_STYLE = "Viewport { border: 2px solid #2f8cff; }"
_INACTIVE_STYLE = "Viewport { border: 2px solid #303030; }"


class Viewport(QFrame):
    def __init__(self, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName(name)
        self.view = SliceView(self)
        self.slider = QSlider(Qt.Orientation.Horizontal, self)
        self.slider.setToolTip("Slice (wheel, arrow keys, Page Up/Down)")
        self.slider.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.setSpacing(2)
        layout.addWidget(self.view, stretch=1)
        layout.addWidget(self.slider)
        self.slider.valueChanged.connect(self.view.set_slice)
        self.view.slice_changed.connect(self._slice_changed)
        self.set_active(False)
        self.sync_slider()

    def sync_slider(self) -> None:
        """Match the slider to the view's series (call after the series changes)."""
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(self.view.n_slices - 1, 0))
        self.slider.setValue(self.view.index)
        self.slider.setEnabled(self.view.n_slices > 1)
        self.slider.blockSignals(False)

    def set_active(self, active: bool) -> None:
        self.setStyleSheet(_ACTIVE_STYLE if active else _INACTIVE_STYLE)

    def _slice_changed(self, index: int) -> None:
        self.slider.blockSignals(True)
        self.slider.setValue(index)
        self.slider.blockSignals(False)


class ViewportPair(QWidget):
    """The two viewports side by side (layout "1x1" shows only the first), which one is
    active, and the cross-reference line each draws where the other's slice cuts it."""

    active_changed = Signal(object)  # the Viewport now active
    slice_changed = Signal(object)  # the SliceView whose slice changed
    window_changed = Signal(object)  # the SliceView whose window changed

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.viewports = [Viewport("viewport-1", self), Viewport("viewport-2", self)]
        self.active = self.viewports[0]
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        for viewport in self.viewports:
            layout.addWidget(viewport)
            view = viewport.view
            view.activated.connect(partial(self._activated, viewport))
            view.slice_changed.connect(partial(self._slice_changed, view))
            view.window_changed.connect(partial(self._window_changed, view))
        self.viewports[0].set_active(True)

    @property
    def views(self) -> list[SliceView]:
        return [viewport.view for viewport in self.viewports]

    def set_layout(self, name: str) -> None:
        two = name == "1x2"
        self.viewports[1].setVisible(two)
        if not two and self.active is self.viewports[1]:
            self.set_active(self.viewports[0])
        self.update_cross_reference()

    def next_viewport(self) -> None:
        visible = [v for v in self.viewports if v.isVisible()]
        if len(visible) > 1:
            self.set_active(visible[(visible.index(self.active) + 1) % len(visible)])

    def set_active(self, viewport: Viewport) -> None:
        self.active = viewport
        for other in self.viewports:
            other.set_active(other is viewport)
        self.active_changed.emit(viewport)

    def update_cross_reference(self) -> None:
        """Each visible view shows the line where the other view's current slice cuts it."""
        first, second = self.views
        if not self.viewports[1].isVisible():
            first.set_reference_plane(None)
            second.set_reference_plane(None)
            return
        first.set_reference_plane(_current_plane(second))
        second.set_reference_plane(_current_plane(first))

    def _activated(self, viewport: Viewport) -> None:
        if viewport is not self.active:
            self.set_active(viewport)

    def _slice_changed(self, view: SliceView, _index: int) -> None:
        self.update_cross_reference()
        self.slice_changed.emit(view)

    def _window_changed(self, view: SliceView, *_: float) -> None:
        self.window_changed.emit(view)


def _current_plane(view: SliceView) -> object:
    series = view.series
    if series is None or not view.isVisible():
        return None
    return series.plane(view.index)

"""A viewport frame: the slice view, a slice slider under it, and the active-viewport border."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QSlider, QVBoxLayout, QWidget

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

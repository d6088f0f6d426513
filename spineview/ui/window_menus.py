"""The main window's menus, their actions and the Model toolbar (one place, so the shortcuts
dialog, the menus and the key bindings agree: names and keys come from `ui.shortcuts`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QLabel, QMenu, QPushButton, QToolBar

from spineview.core.heatmap import HeatmapMethod
from spineview.core.measurements import MeasurementKind
from spineview.ui.model_picker import ModelPicker
from spineview.ui.shortcuts import BY_ACTION

if TYPE_CHECKING:
    from spineview.ui.main_window import MainWindow


def _action(
    window: MainWindow,
    name: str,
    text: str,
    slot: Callable[..., object],
    *,
    checkable: bool = False,
) -> QAction:
    action = QAction(text, window)
    shortcut = BY_ACTION.get(name)
    if shortcut is not None:
        action.setShortcuts([QKeySequence(key) for key in shortcut.keys])
        action.setToolTip(f"{shortcut.description} ({' / '.join(shortcut.keys)})")
    action.setCheckable(checkable)
    action.triggered.connect(slot)
    window.addAction(action)  # shortcuts work even when the menu bar is hidden
    window.actions_by_name[name] = action
    return action


def build_menus(window: MainWindow) -> None:
    """The menu bar, every action registered by name (`window.actions_by_name`) and added
    to the window so its shortcut works with the menu bar hidden."""
    menu = window.menuBar()
    file_menu = menu.addMenu("&File")
    file_menu.addAction(_action(window, "open", "&Open folder…", window.choose_folder))
    file_menu.addAction(_action(window, "open_files", "Open &files…", window.choose_files))
    file_menu.addMenu(window.recent.menu)
    file_menu.addSeparator()
    file_menu.addAction(_action(window, "export", "&Export view as PNG…", window.export_view))
    file_menu.addSeparator()
    file_menu.addAction(_action(window, "quit", "&Quit", window.close))

    view_menu = menu.addMenu("&View")
    for name, text in (("layout_1x1", "Layout 1×1"), ("layout_1x2", "Layout 1×2")):
        layout_name = name.removeprefix("layout_")
        view_menu.addAction(
            _action(window, name, text, lambda _=False, n=layout_name: window.set_layout(n))
        )
    view_menu.addAction(_action(window, "next_viewport", "Next viewport", window.next_viewport))
    view_menu.addSeparator()
    for name, text, method in (
        ("fit", "&Fit to window", "fit"),
        ("actual_size", "&1:1 pixels", "actual_size"),
        ("invert", "&Invert", "toggle_invert"),
        ("reset", "&Reset view", "reset"),
    ):
        view_menu.addAction(_action(window, name, text, _on_active(window, method)))
    view_menu.addAction(
        _action(window, "zoom_in", "Zoom in", lambda: window.active.view.zoom_by(1.25))
    )
    view_menu.addAction(
        _action(window, "zoom_out", "Zoom out", lambda: window.active.view.zoom_by(0.8))
    )
    view_menu.addSeparator()
    patient = _action(
        window,
        "patient_data",
        "Show &patient data",
        window.set_patient_data_visible,
        checkable=True,
    )
    patient.setChecked(not window.config.hide_patient_data)
    view_menu.addAction(patient)
    overlays = _action(
        window,
        "dicom_overlays",
        "Show DICOM &overlays",
        lambda visible: _set_dicom_overlays(window, visible),
        checkable=True,
    )
    overlays.setChecked(True)  # drawn wherever a series has overlay planes
    view_menu.addAction(overlays)
    levels = _action(
        window,
        "level_labels",
        "Show disc &level labels",
        window.set_level_labels_visible,
        checkable=True,
    )
    levels.setChecked(window.level_labels_visible)
    view_menu.addAction(levels)

    window_menu = menu.addMenu("&Window")
    for number in range(1, 8):
        name = f"preset_{number}"
        window_menu.addAction(
            _action(
                window,
                name,
                BY_ACTION[name].description.removeprefix("Window: "),
                lambda _=False, n=number: window.active.view.apply_preset_number(n),
            )
        )

    _build_model_menu(window, menu.addMenu("&Model"))
    tools_menu = menu.addMenu("&Tools")
    tools_menu.addAction(_action(window, "train", "&Train model…", window.show_training))
    _build_measure_menu(window, menu.addMenu("M&easure"))

    slices_menu = menu.addMenu("&Slices")
    slices_menu.addAction(
        _action(window, "cine_menu", "Cine play / pause (Space)", _on_active(window, "toggle_cine"))
    )

    panels = menu.addMenu("&Panels")
    for name, dock in window.docks.items():
        toggle = dock.toggleViewAction()
        if name in BY_ACTION:
            toggle.setShortcuts([QKeySequence(k) for k in BY_ACTION[name].keys])
            window.addAction(toggle)
        panels.addAction(toggle)

    help_menu = menu.addMenu("&Help")
    help_menu.addAction(_action(window, "shortcuts", "&Keyboard shortcuts", window.show_shortcuts))


def _build_model_menu(window: MainWindow, model_menu: QMenu) -> None:
    model_menu.addAction(_action(window, "classify", "&Classify series", window.classify_active))
    on_open = _action(
        window, "classify_on_open", "Classify on &open", window.set_classify_on_open, checkable=True
    )
    on_open.setChecked(window.config.classify_on_open)
    model_menu.addAction(on_open)
    model_menu.addSeparator()
    heatmap = _action(
        window,
        "heatmap",
        "Show &heatmap",
        window.classification.set_heatmap_enabled,
        checkable=True,
    )
    window.results.overlay_toggled.connect(heatmap.setChecked)
    model_menu.addAction(heatmap)
    methods = model_menu.addMenu("Heatmap &method")
    for method in HeatmapMethod:
        choice = methods.addAction(method.label)
        choice.triggered.connect(lambda _=False, m=method: window.choose_heatmap_method(m))
    model_menu.addSeparator()
    model_menu.addAction(
        _action(window, "model_details", "Model &details…", window.model_picker.show_details)
    )
    model_menu.addAction(
        _action(window, "refresh_models", "&Refresh model list", window.model_picker.refresh)
    )


def _build_measure_menu(window: MainWindow, measure_menu: QMenu) -> None:
    """The two tools (checkable, one at a time), cancel and delete."""
    controller = window.measurements
    for name, text, kind in (
        ("measure_distance", "&Distance", MeasurementKind.DISTANCE),
        ("measure_angle", "&Angle", MeasurementKind.ANGLE),
    ):
        tool = _action(
            window,
            name,
            text,
            lambda checked, k=kind: controller.set_tool(k if checked else None),
            checkable=True,
        )
        controller.tool_changed.connect(lambda now, a=tool, k=kind: a.setChecked(now is k))
        measure_menu.addAction(tool)
    measure_menu.addSeparator()
    measure_menu.addAction(_action(window, "measure_cancel", "&Cancel", controller.cancel))
    measure_menu.addAction(
        _action(window, "measure_delete", "De&lete selected", controller.delete_selected)
    )


def _set_dicom_overlays(window: MainWindow, visible: bool) -> None:
    for view in window.pair.views:
        view.set_dicom_overlays_visible(visible)


def _on_active(window: MainWindow, method: str) -> Callable[..., None]:
    def call(*_: object) -> None:
        getattr(window.active.view, method)()

    return call


def build_model_bar(window: MainWindow) -> tuple[ModelPicker, QPushButton]:
    """The Model toolbar: the model picker and the Classify button."""
    picker = ModelPicker()
    picker.setMaximumWidth(520)
    classify = QPushButton("Classify")
    classify.setToolTip("Classify every slice of the active series with the chosen model (C)")
    classify.clicked.connect(window.classify_active)
    bar = QToolBar("Model", window)
    bar.setObjectName("toolbar-model")
    bar.setMovable(False)
    bar.addWidget(QLabel(" Model "))
    bar.addWidget(picker)
    bar.addWidget(classify)
    window.addToolBar(Qt.ToolBarArea.TopToolBarArea, bar)
    return picker, classify

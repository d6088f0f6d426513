"""Every keyboard shortcut and mouse gesture of the viewer, in one place.

The main window builds its actions from `SHORTCUTS`, the viewport reads its navigation keys
from here, and Help → Keyboard shortcuts lists this table, so the three cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Shortcut:
    action: str  # identifier used in code
    keys: tuple[str, ...]  # QKeySequence portable text, e.g. "Ctrl+O", "PgDown"
    description: str
    group: str


@dataclass(frozen=True)
class MouseGesture:
    gesture: str
    description: str


SHORTCUTS: tuple[Shortcut, ...] = (
    Shortcut("open", ("Ctrl+O",), "Open a folder", "File"),
    Shortcut("open_files", ("Ctrl+Shift+O",), "Open files", "File"),
    Shortcut("export", ("Ctrl+E",), "Export the active view as PNG", "File"),
    Shortcut("quit", ("Ctrl+Q",), "Quit", "File"),
    Shortcut("next_slice", ("Down", "Right"), "Next slice", "Slices"),
    Shortcut("previous_slice", ("Up", "Left"), "Previous slice", "Slices"),
    Shortcut("page_forward", ("PgDown",), "10 slices forward", "Slices"),
    Shortcut("page_back", ("PgUp",), "10 slices back", "Slices"),
    Shortcut("first_slice", ("Home",), "First slice", "Slices"),
    Shortcut("last_slice", ("End",), "Last slice", "Slices"),
    Shortcut("cine", ("Space",), "Cine play / pause", "Slices"),
    Shortcut("zoom_in", ("+", "="), "Zoom in", "View"),
    Shortcut("zoom_out", ("-",), "Zoom out", "View"),
    Shortcut("fit", ("F",), "Fit the image to the view", "View"),
    Shortcut("actual_size", ("A",), "1:1 (one image pixel per screen pixel)", "View"),
    Shortcut("invert", ("I",), "Invert grey levels", "View"),
    Shortcut("reset", ("R",), "Reset zoom, pan, window and inversion", "View"),
    Shortcut("patient_data", ("P",), "Show / hide all patient data on screen", "View"),
    Shortcut("dicom_overlays", ("O",), "Show / hide DICOM overlay planes", "View"),
    Shortcut("level_labels", ("L",), "Show / hide disc level labels", "View"),
    Shortcut("layout_1x1", ("Ctrl+1",), "One viewport", "Layout"),
    Shortcut("layout_1x2", ("Ctrl+2",), "Two viewports side by side", "Layout"),
    Shortcut("next_viewport", ("Tab",), "Make the other viewport active", "Layout"),
    Shortcut("preset_1", ("1",), "Window: Auto (0.5–99.5 percentile)", "Window"),
    Shortcut("preset_2", ("2",), "Window: Full range", "Window"),
    Shortcut("preset_3", ("3",), "Window: Soft tissue (2–99.9 percentile)", "Window"),
    Shortcut("preset_4", ("4",), "Window: High contrast (15–95 percentile)", "Window"),
    Shortcut("preset_5", ("5",), "Window: first preset from the DICOM header", "Window"),
    Shortcut("preset_6", ("6",), "Window: second preset from the DICOM header", "Window"),
    Shortcut("preset_7", ("7",), "Window: third preset from the DICOM header", "Window"),
    Shortcut("classify", ("C",), "Classify the active series with the chosen model", "Model"),
    Shortcut("heatmap", ("G",), "Show / hide the Grad-CAM heatmap of the slice", "Model"),
    Shortcut("train", ("Ctrl+Shift+T",), "Train a model on your own data", "Tools"),
    Shortcut("measure_distance", ("M",), "Measure a distance: click both ends", "Measure"),
    Shortcut("measure_angle", ("Shift+M",), "Measure an angle: end, vertex, end", "Measure"),
    Shortcut("measure_cancel", ("Esc",), "Cancel a half-drawn measurement, or the tool", "Measure"),
    Shortcut("measure_delete", ("Del",), "Delete the selected measurement", "Measure"),
    Shortcut("tags", ("Ctrl+T",), "Show / hide the tag browser", "Panels"),
    Shortcut("results", ("Ctrl+R",), "Show / hide the classification results", "Panels"),
    Shortcut("problems", ("Ctrl+Shift+P",), "Show / hide the problems panel", "Panels"),
    Shortcut("measurements", ("Ctrl+M",), "Show / hide the measurements", "Panels"),
    Shortcut("findings", ("Ctrl+Shift+F",), "Show / hide the graded findings", "Panels"),
    Shortcut("shortcuts", ("F1",), "This list of shortcuts", "Help"),
)

MOUSE_GESTURES: tuple[MouseGesture, ...] = (
    MouseGesture("Wheel", "Next / previous slice"),
    MouseGesture("Ctrl + wheel", "Zoom around the pointer"),
    MouseGesture("Left or middle drag", "Pan"),
    MouseGesture("Right drag", "Window/level: horizontal = width, vertical = level"),
    MouseGesture("Click a viewport", "Make it active (the series list opens into it)"),
    MouseGesture("Click a measurement", "Select it; drag its square handles to adjust it"),
    MouseGesture("Drop files or folders", "Open them"),
)

BY_ACTION: dict[str, Shortcut] = {shortcut.action: shortcut for shortcut in SHORTCUTS}

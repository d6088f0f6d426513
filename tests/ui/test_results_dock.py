"""The Results dock stays compact, so the viewports keep most of the window."""

from __future__ import annotations

import numpy as np
import pytest
from pytestqt.qtbot import QtBot

from spineview.models.manifest import DEMO_NOTICE
from spineview.models.predictions import SlicePredictions
from spineview.models.verdict import series_verdict
from spineview.ui.main_window import MainWindow
from spineview.ui.results_panel import PREFERRED_HEIGHT

pytestmark = pytest.mark.gui


def test_results_dock_is_compact_and_its_text_scrolls(window: MainWindow, qtbot: QtBot) -> None:
    window.resize(1600, 1000)
    window.set_layout("1x2")
    probabilities = np.array([0.03, 0.1, 0.6, 0.95, 0.97, 0.9, 0.4, 0.05])
    window.docks["results"].show()
    window.results.set_result(
        "cnn-demo",
        DEMO_NOTICE,
        SlicePredictions(probabilities, probabilities, 0.5),
        series_verdict(probabilities, 0.5),
        "degenerative",
        ["a long warning that needs a line of its own in the text column"] * 3,
        negative_class_name="healthy",
    )
    qtbot.waitUntil(lambda: window.docks["results"].height() > 0)
    qtbot.wait(50)  # the dock layout settles after the new text
    dock = window.docks["results"]
    assert dock.height() <= PREFERRED_HEIGHT + 10, "the text scrolls instead of growing the dock"
    assert window.results.findChild(object, "resultsDetails") is not None
    pair = window.pair
    assert pair.height() / window.height() >= 0.7  # was 0.68 with a 216 px dock
    assert pair.width() / window.width() >= 0.75

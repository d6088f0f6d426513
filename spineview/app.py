"""Start the GUI: QApplication, pyqtgraph options, the main window, then open what was asked.

TensorFlow is not imported here: the viewer must open fast and never wait for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QTimer

from spineview.config import load_config
from spineview.ui.application import create_application
from spineview.ui.main_window import MainWindow


def run_gui(paths: Sequence[Path], *, demo: bool = False) -> int:
    application = create_application()
    window = MainWindow(load_config())
    window.show()
    to_open = list(paths)
    if demo:
        QTimer.singleShot(0, window.open_demo)
    elif to_open:
        QTimer.singleShot(0, lambda: window.open_paths(to_open))
    return application.exec()

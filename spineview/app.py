"""Start the GUI: QApplication, pyqtgraph options, the main window, then open what was asked.

TensorFlow is not imported here: the viewer must open fast and never wait for it.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QTimer

from spineview.config import load_config
from spineview.dicom.write import write_demo_study
from spineview.ui.application import create_application
from spineview.ui.main_window import MainWindow


def write_demo_folder() -> Path:
    """A synthetic lumbar study in a fresh temporary folder (removed by the OS's temp cleanup)."""
    folder = Path(tempfile.mkdtemp(prefix="spineview-demo-"))
    write_demo_study(folder)
    return folder


def run_gui(paths: Sequence[Path], *, demo: bool = False) -> int:
    application = create_application()
    window = MainWindow(load_config())
    window.show()
    to_open = list(paths)
    if demo:
        window.set_layout("1x2")
        to_open.append(write_demo_folder())
    if to_open:
        QTimer.singleShot(0, lambda: window.open_paths(to_open))
    return application.exec()

"""The QApplication with spineview's settings (shared by the app, the benchmarks and tests)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import pyqtgraph as pg
from PySide6.QtWidgets import QApplication

from spineview import __version__
from spineview.ui.garbage_collection import GuiGarbageCollector
from spineview.workers import tensorflow_loading


def create_application(argv: Sequence[str] | None = None) -> QApplication:
    """The running QApplication, or a new one; pyqtgraph set to row-major images, and the
    cyclic garbage collector pinned to this (the GUI) thread."""
    existing = QApplication.instance()
    if isinstance(existing, QApplication):
        application = existing
    else:
        application = QApplication(list(argv or sys.argv[:1]))
    application.setApplicationName("spineview")
    application.setApplicationVersion(__version__)
    application.setOrganizationName("spineview")
    pg.setConfigOptions(imageAxisOrder="row-major", antialias=True)
    GuiGarbageCollector.install(application, bulk_loading=tensorflow_loading.is_set)
    return application

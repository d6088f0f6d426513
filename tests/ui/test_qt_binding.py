"""Guards against Qt-binding bugs that only show after hours of use."""

from __future__ import annotations

import sys

import pytest
from PySide6.QtCore import QObject, Signal


class _Emitter(QObject):
    plain = Signal()
    with_value = Signal(object)


@pytest.mark.gui
def test_emitting_signals_keeps_python_reference_counts() -> None:
    """PySide6 6.12.0 dropped a reference to True on every emit until the interpreter crashed
    ("bool_dealloc: deallocating True or False"); the viewer emits thousands of signals."""
    emitter = _Emitter()
    emitter.with_value.connect(lambda value: None)
    before = sys.getrefcount(True), sys.getrefcount(False)
    for _ in range(500):
        emitter.plain.emit()
        emitter.with_value.emit(1)
    after = sys.getrefcount(True), sys.getrefcount(False)
    assert after[0] >= before[0] - 5 and after[1] >= before[1] - 5

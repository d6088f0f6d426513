"""Python's cyclic garbage collector, pinned to the GUI thread.

CPython runs an automatic collection in whichever thread happens to cross the allocation
threshold. When that is a worker (TensorFlow training, DICOM decoding) and the garbage holds Qt
objects caught in reference cycles, their C++ destructors run on the worker while the GUI
thread destroys related objects: each waits for the other (seen here: shiboken's
`GilState::acquire` on the training thread against a `QBasicMutex` in `~QMenu` on the GUI thread,
and the app hung for good). So the app turns automatic collection off and collects from a timer
on the GUI thread, generation by generation with the interpreter's own thresholds, as pyqtgraph's
`GarbageCollector` and other Qt applications do.

A full collection scans every tracked object: about 370,000 once TensorFlow is loaded, 190 ms
here, far too long for a GUI stall. When one takes longer than `FREEZE_AFTER_SECONDS`, its
survivors (TensorFlow's modules, the loaded model) are frozen (`gc.freeze`) so later full
collections scan only what was made since; `collect_everything()` unfreezes and collects it
all at moments when a big object was let go (a model replaced, a window closed).

Collections that still start on another thread (a library calling `gc.collect()` itself) are
counted and logged with the thread's name, so a test can fail on them.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import shiboken6
from PySide6.QtCore import QCoreApplication, QObject, QTimer
from PySide6.QtWidgets import QGraphicsView, QWidget

logger = logging.getLogger(__name__)

CHECK_INTERVAL_MS = 200
FULL_COLLECTION_SPACING = 10
"""A full collection every this many times CPython would start one by count alone: CPython
also waits until the long-lived objects grew by a quarter, which a timer cannot see cheaply;
most garbage dies young, and `collect_everything` covers the big releases."""
BURST_OBJECTS = 20_000
"""More new objects than this since the last check, while `bulk_loading()` says a worker is
importing TensorFlow or building a model, is a burst: nearly all of them live on, and scanning
them would stall the GUI thread (a young-generation collection in the middle of TensorFlow's
import took 100-130 ms here). They are frozen instead; `collect_everything` (a model replaced,
a training run ended) reclaims whatever among them dies. Outside such loads, bursts are
collected as usual: a worker's garbage is never left frozen."""
FREEZE_AFTER_SECONDS = 0.03
"""A full collection slower than this freezes its survivors (see the module docstring)."""


@dataclass(frozen=True)
class ForeignCollection:
    """A collection that started outside the GUI thread."""

    thread: str
    generation: int


class GuiGarbageCollector(QObject):
    """Disables automatic collection and collects on the GUI thread (one per process)."""

    _instance: GuiGarbageCollector | None = None

    def __init__(
        self, application: QCoreApplication, bulk_loading: Callable[[], bool] = lambda: False
    ) -> None:
        super().__init__(application)
        self.bulk_loading = bulk_loading
        self.gui_thread = threading.get_ident()
        self.thresholds = gc.get_threshold()
        self.foreign: list[ForeignCollection] = []
        self._reported = 0
        self.longest_seconds = 0.0  # the longest collection of any generation, on any thread
        self.longest_generation = -1
        self.bursts_frozen = 0
        self._collection_started = 0.0
        self.timer = QTimer(self)
        self.timer.setInterval(CHECK_INTERVAL_MS)
        self.timer.timeout.connect(self.collect_due)
        gc.callbacks.append(self._watch)
        gc.disable()
        self.timer.start()
        application.aboutToQuit.connect(self.collect_everything)

    @classmethod
    def install(
        cls, application: QCoreApplication, bulk_loading: Callable[[], bool] = lambda: False
    ) -> GuiGarbageCollector:
        """Pin collection to `application`'s (the calling) thread; idempotent.

        `bulk_loading` tells whether a worker is allocating long-lived objects in bulk (see
        `BURST_OBJECTS`)."""
        if cls._instance is None:
            cls._instance = cls(application, bulk_loading)
            logger.debug("automatic garbage collection pinned to the GUI thread")
        return cls._instance

    @classmethod
    def installed(cls) -> GuiGarbageCollector | None:
        return cls._instance

    def collect_due(self) -> int:
        """Collect the generations whose counts passed the thresholds, as CPython would."""
        self._report_foreign()
        counts = gc.get_count()
        if counts[0] <= self.thresholds[0]:
            return 0
        if counts[0] > BURST_OBJECTS and self.bulk_loading():
            gc.freeze()  # a burst of long-lived objects: see BURST_OBJECTS
            self.bursts_frozen += 1
            return 0
        collected = gc.collect(0)
        if counts[1] > self.thresholds[1]:
            collected += gc.collect(1)
            if counts[2] > self.thresholds[2] * FULL_COLLECTION_SPACING:
                collected += self._collect_full()
        return collected

    def collect_everything(self) -> int:
        """A full collection of every object, frozen ones too (then the survivors re-frozen)."""
        gc.unfreeze()
        return self._collect_full()

    def _collect_full(self) -> int:
        started = time.perf_counter()
        collected = gc.collect(2)
        seconds = time.perf_counter() - started
        if seconds > FREEZE_AFTER_SECONDS:
            gc.freeze()  # survivors only: gen 2 holds nothing unreachable right after
            logger.debug(
                "full collection took %.0f ms; %d survivors frozen",
                seconds * 1000,
                gc.get_freeze_count(),
            )
        return collected

    def _watch(self, phase: str, info: dict[str, Any]) -> None:
        # Runs inside the collector: record only, no logging and no Qt here.
        if phase == "start":
            self._collection_started = time.perf_counter()
        elif self._collection_started:
            seconds = time.perf_counter() - self._collection_started
            if seconds > self.longest_seconds:
                self.longest_seconds = seconds
                self.longest_generation = int(info["generation"])
        if phase == "start" and threading.get_ident() != self.gui_thread:
            self.foreign.append(
                ForeignCollection(threading.current_thread().name, int(info["generation"]))
            )

    def _report_foreign(self) -> None:
        for collection in self.foreign[self._reported :]:
            logger.warning(
                "a garbage collection (generation %d) ran on thread %s, not the GUI thread",
                collection.generation,
                collection.thread,
            )
        self._reported = len(self.foreign)


def collect_everything() -> None:
    """After letting go of something big (a model, a training run): collect frozen objects
    too, on the GUI thread. Does nothing where the collector is not installed."""
    collector = GuiGarbageCollector.installed()
    if collector is not None:
        collector.collect_everything()


def adopt_orphans(owner: QObject, *holders: object, depth: int = 3) -> int:
    """Give `owner` the parentless, Python-owned QObjects that `holders` keep in attributes.

    pyqtgraph creates menus, a colour dialog and widget groups without a Qt parent and keeps
    them in reference cycles (a ViewBox and its menu refer to each other). Such an object dies
    whenever the collector reaches its cycle, on whichever thread that is. Adopted, it belongs to
    `owner` and Qt deletes it with `owner`, on the GUI thread. Returns how many were adopted.
    """
    adopted = 0
    seen: set[int] = set()

    def visit(value: object, level: int) -> None:
        nonlocal adopted
        if id(value) in seen or level > depth:
            return
        seen.add(id(value))
        if isinstance(value, (list, tuple)):
            for item in value:
                visit(item, level)
            return
        if isinstance(value, QObject) and value is not owner and _is_orphan(value):
            _set_parent(value, owner)
            adopted += 1
        if type(value).__module__.startswith("pyqtgraph") or any(value is h for h in holders):
            for attribute in list(getattr(value, "__dict__", {}).values()):
                visit(attribute, level + 1)

    for holder in holders:
        visit(holder, 0)
    return adopted


def adopt_scene_orphans(view: QGraphicsView) -> int:
    """`adopt_orphans` for everything in a pyqtgraph view's scene (menus of its view boxes,
    plots and gradient editors), owned by the view widget."""
    return adopt_orphans(view, *view.scene().items())


def _is_orphan(value: QObject) -> bool:
    return shiboken6.isValid(value) and value.parent() is None and shiboken6.ownedByPython(value)


def _set_parent(value: QObject, owner: QObject) -> None:
    if isinstance(value, QWidget) and isinstance(owner, QWidget):
        value.setParent(owner, value.windowFlags())  # a menu or dialog stays a separate window
    elif not isinstance(value, QWidget):
        value.setParent(owner)

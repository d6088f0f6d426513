"""Qt objects die on the GUI thread: the collector is pinned there, and the window's widgets
leave no live Qt object in reference cycles for a collection on another thread to destroy.

Issue 12: a collection that ran on the training thread destroyed Qt objects there while the
GUI thread destroyed related ones, and both waited for each other forever.
"""

from __future__ import annotations

import gc
import threading
import weakref
from collections.abc import Callable
from pathlib import Path

import pytest
import shiboken6
from PySide6.QtCore import QCoreApplication, QEvent, QObject
from PySide6.QtWidgets import QApplication, QMenu, QWidget
from pytestqt.qtbot import QtBot

from spineview.config import Config
from spineview.ui import garbage_collection
from spineview.ui.garbage_collection import GuiGarbageCollector, adopt_orphans
from spineview.ui.main_window import MainWindow
from spineview.workers import Job, JobRunner
from tests.ui.conftest import open_and_wait


class _Node:
    """A plain object to put in a reference cycle."""

    me: _Node | None = None


def _on_worker(target: Callable[[], None], name: str = "worker") -> None:
    thread = threading.Thread(target=target, name=name)
    thread.start()
    thread.join(timeout=60)
    assert not thread.is_alive()


def _collections_by_thread() -> tuple[list[str], Callable[[str, dict[str, object]], None]]:
    threads: list[str] = []

    def watch(phase: str, info: dict[str, object]) -> None:
        if phase == "start":
            threads.append(threading.current_thread().name)

    return threads, watch


def test_automatic_collection_never_runs_on_a_worker_thread(
    application: QApplication, qtbot: QtBot
) -> None:
    assert GuiGarbageCollector.installed() is not None
    assert not gc.isenabled()
    threads, watch = _collections_by_thread()
    probe: list[weakref.ref[_Node]] = []

    def allocate_cycles() -> None:
        for _ in range(50_000):  # far beyond the first generation's threshold (700)
            cycle: list[object] = []
            cycle.append(cycle)
        node = _Node()
        node.me = node
        probe.append(weakref.ref(node))

    gc.callbacks.append(watch)
    try:
        _on_worker(allocate_cycles, "allocating-worker")
        assert "allocating-worker" not in threads
        assert probe[0]() is not None  # nobody has collected yet
        qtbot.waitUntil(lambda: probe[0]() is None, timeout=5_000)  # the GUI timer did
    finally:
        gc.callbacks.remove(watch)
    assert set(threads) == {threading.current_thread().name}


def test_a_closed_window_leaves_no_live_qt_object_for_another_thread_to_destroy(
    application: QApplication, qtbot: QtBot, demo_folder: Path
) -> None:
    """The hazard itself: the GUI thread drops a used window while a worker forces a
    collection. DEBUG_SAVEALL keeps what that collection would have destroyed, to inspect it
    here instead of destroying it there."""
    window = MainWindow(
        Config(load_model_at_start=False, find_levels_on_open=False, grade_on_levels=False)
    )
    window.show()
    qtbot.waitExposed(window)
    open_and_wait(qtbot, window, demo_folder)
    dialog = window.show_training()
    window.model_picker.show_details()
    dialog.close()
    window.close()
    window.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    qtbot.wait(50)
    del window, dialog

    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        _on_worker(gc.collect, "training-like-worker")
        garbage = list(gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    collector = GuiGarbageCollector.installed()
    assert collector is not None and collector.foreign[-1].thread == "training-like-worker"
    collector.foreign.pop()  # forced here on purpose: not a failure of the suite's watch
    live = sorted(
        type(thing).__qualname__
        for thing in garbage
        if isinstance(thing, QObject)
        and shiboken6.isValid(thing)
        and shiboken6.ownedByPython(thing)
    )
    del garbage
    gc.collect()  # the saved garbage goes here, on the GUI thread
    assert live == [], f"Qt objects a worker's collection would destroy: {live}"


def test_adopted_orphans_belong_to_their_owner(application: QApplication) -> None:
    owner = QObject()
    holder = _Node()
    orphan = QObject()
    holder.me = None
    holder.__dict__["menus"] = [orphan]
    assert adopt_orphans(owner, holder) == 1
    assert orphan.parent() is owner and not shiboken6.ownedByPython(orphan)
    assert adopt_orphans(owner, holder) == 0  # already adopted


def test_an_adopted_menu_still_pops_up_as_its_own_window(
    application: QApplication, qtbot: QtBot
) -> None:
    owner = QWidget()
    qtbot.addWidget(owner)
    holder = _Node()
    menu = QMenu()
    menu.addAction("an entry")
    holder.__dict__["menu"] = menu
    assert adopt_orphans(owner, holder) == 1
    assert menu.parent() is owner
    menu.popup(owner.mapToGlobal(owner.rect().center()))
    qtbot.waitUntil(menu.isVisible, timeout=2_000)
    assert menu.isWindow()  # a popup, not a child drawn inside its owner
    menu.close()


class _Quick(Job):
    def work(self) -> object:
        return 42


def test_a_finished_job_s_signals_are_deleted_on_the_gui_thread(
    application: QApplication, qtbot: QtBot
) -> None:
    runner = JobRunner()
    job = _Quick()
    deleted_on: list[str] = []
    job.signals.destroyed.connect(lambda: deleted_on.append(threading.current_thread().name))
    assert shiboken6.ownedByPython(job.signals)
    with qtbot.waitSignal(job.signals.finished, timeout=5_000):
        runner.start(job)
        assert job.signals.parent() is runner  # a worker dropping the job cannot delete it
    runner.wait()
    qtbot.waitUntil(lambda: not shiboken6.isValid(job.signals), timeout=5_000)
    assert deleted_on == [threading.current_thread().name]


def test_a_slow_full_collection_freezes_its_survivors_and_collect_everything_thaws_them(
    application: QApplication, monkeypatch: pytest.MonkeyPatch
) -> None:
    collector = GuiGarbageCollector.installed()
    assert collector is not None
    node = _Node()
    node.me = node
    probe = weakref.ref(node)
    monkeypatch.setattr(garbage_collection, "FREEZE_AFTER_SECONDS", 0.0)  # every one is slow
    try:
        collector.collect_everything()
        assert gc.get_freeze_count() > 0  # the survivors, `node` among them
        del node  # now garbage, but frozen: out of ordinary collections' sight
        gc.collect()
        assert probe() is not None
        monkeypatch.setattr(garbage_collection, "FREEZE_AFTER_SECONDS", 60.0)
        collector.collect_everything()
        assert probe() is None
    finally:
        monkeypatch.setattr(garbage_collection, "FREEZE_AFTER_SECONDS", 60.0)
        collector.collect_everything()
    assert gc.get_freeze_count() == 0


def test_the_longest_collection_of_any_generation_is_recorded(
    application: QApplication, monkeypatch: pytest.MonkeyPatch
) -> None:
    collector = GuiGarbageCollector.installed()
    assert collector is not None
    monkeypatch.setattr(collector, "longest_seconds", 0.0)
    monkeypatch.setattr(collector, "longest_generation", -1)
    garbage = [_Node() for _ in range(50_000)]
    for node in garbage:
        node.me = node  # cycles, so the young collection has work to do
    del garbage, node
    gc.collect(0)
    assert collector.longest_seconds > 0.0
    assert collector.longest_generation == 0

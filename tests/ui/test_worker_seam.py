"""The worker seam: jobs run on the pool they declare, report the exception itself, end as
cancelled on any `Cancelled`, and slots bound to a job stop once their widget is gone."""

from __future__ import annotations

import threading
from typing import ClassVar

import pytest
from PySide6.QtCore import QCoreApplication, QEvent, QObject
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from spineview.errors import (
    Cancelled,
    DicomLoadError,
    InferenceCancelled,
    LoadCancelled,
    ScanCancelled,
    TrainingCancelled,
    error_text,
)
from spineview.ui.binding import bind_slot
from spineview.workers import (
    ClassifyJob,
    HeatmapJob,
    Job,
    JobRunner,
    ModelLoadJob,
    PoolName,
    TrainJob,
)

pytestmark = pytest.mark.gui


class _ThreadName(Job[str]):
    pool: ClassVar[PoolName] = "training"

    def work(self) -> str:
        return threading.current_thread().name


class _Raises(Job[None]):
    def __init__(self, error: BaseException) -> None:
        super().__init__()
        self.error = error

    def work(self) -> None:
        raise self.error


def test_a_job_runs_on_the_pool_it_declares(application: QApplication, qtbot: QtBot) -> None:
    runner = JobRunner()
    job = _ThreadName()
    with qtbot.waitSignal(job.signals.finished, timeout=5_000) as finished:
        runner.start(job)
    assert finished.args is not None and finished.args[0].startswith("training")
    runner.stop()


def test_tensorflow_jobs_declare_the_tensorflow_threads() -> None:
    assert ModelLoadJob.pool == ClassifyJob.pool == HeatmapJob.pool == "inference"
    assert TrainJob.pool == "training"
    assert Job.pool == "loads"


@pytest.mark.parametrize(
    "error",
    [DicomLoadError("/data/a.dcm", "truncated"), ValueError("boom")],
    ids=["project error", "unexpected error"],
)
def test_a_failed_job_reports_the_exception_itself(
    application: QApplication, qtbot: QtBot, error: BaseException
) -> None:
    runner = JobRunner()
    job = _Raises(error)
    with qtbot.waitSignal(job.signals.failed, timeout=5_000) as failed:
        runner.start(job)
    assert failed.args is not None and failed.args[0] is error
    runner.stop()


@pytest.mark.parametrize(
    "kind", [ScanCancelled, LoadCancelled, InferenceCancelled, TrainingCancelled]
)
def test_every_cancellation_ends_the_job_as_cancelled(
    application: QApplication, qtbot: QtBot, kind: type[Cancelled]
) -> None:
    assert issubclass(kind, Cancelled)
    runner = JobRunner()
    job = _Raises(kind("stopped"))
    with qtbot.waitSignal(job.signals.cancelled, timeout=5_000):
        runner.start(job)
    runner.stop()


def test_failures_read_the_same_everywhere() -> None:
    assert error_text(DicomLoadError("/data/a.dcm", "truncated")) == "/data/a.dcm: truncated"
    assert error_text(KeyError("x")) == "unexpected error: KeyError: 'x'"


def test_a_bound_slot_stops_once_its_object_is_deleted(application: QApplication) -> None:
    class Receiver(QObject):
        def __init__(self) -> None:
            super().__init__()
            self.calls: list[tuple[str, int]] = []

        def record(self, tag: str, value: int) -> None:
            self.calls.append((tag, value))

    receiver = Receiver()
    calls = receiver.calls
    slot = bind_slot(receiver.record, "job")
    slot(1)
    receiver.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    slot(2)  # a queued signal arriving after the widget was deleted: nothing happens
    assert calls == [("job", 1)]

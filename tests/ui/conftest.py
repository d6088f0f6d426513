"""Fixtures for the viewer tests: a main window on a demo study, waited on properly."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication, QVBoxLayout, QWidget
from pytestqt.qtbot import QtBot

from spineview.config import Config
from spineview.data.synth import SynthOptions, synthesize
from spineview.dicom.write import write_demo_study
from spineview.ui.application import create_application
from spineview.ui.main_window import MainWindow
from spineview.ui.slice_view import SliceView
from spineview.ui.training_dialog import LEVELS, TrainingDialog
from spineview.workers import JobRunner


@pytest.fixture
def application(qapp: QApplication) -> QApplication:
    return create_application()


@pytest.fixture(scope="session")
def demo_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("demo-study")
    write_demo_study(folder)
    return folder


@pytest.fixture(scope="session")
def level_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """12 small synthetic studies in the RSNA layout (seed 21), each with its five spinal-canal
    level marks on a sagittal T2/STIR series: enough for a short level training run. Tests
    read it and never write into it."""
    root = tmp_path_factory.mktemp("levels") / "rsna"
    synthesize(root, SynthOptions(studies=12, seed=21, size=64), workers=2)
    return root


def shown_window(qtbot: QtBot, config: Config) -> Iterator[MainWindow]:
    """A main window with `config`, shown; on the way out closed, with no job left running."""
    main = MainWindow(config)
    qtbot.addWidget(main)
    main.resize(1400, 900)
    main.show()
    qtbot.waitExposed(main)
    yield main
    main.close()
    assert main.runner.running() == 0, "a background job outlived the window"
    assert main.runner.loads.activeThreadCount() == 0
    assert main.runner.thumbnails.activeThreadCount() == 0


@pytest.fixture
def window(application: QApplication, qtbot: QtBot) -> Iterator[MainWindow]:
    """The viewer without TensorFlow at start, the level search on open or grading."""
    yield from shown_window(
        qtbot, Config(load_model_at_start=False, find_levels_on_open=False, grade_on_levels=False)
    )


@pytest.fixture
def view(application: QApplication, qtbot: QtBot) -> Iterator[SliceView]:
    """A SliceView in a window of its own (as in the main window, it has a parent: a
    parentless one spins in `adopt_scene_orphans` while it is built)."""
    frame = QWidget()
    qtbot.addWidget(frame)
    widget = SliceView(frame)
    QVBoxLayout(frame).addWidget(widget)
    frame.resize(500, 420)
    frame.show()
    qtbot.waitExposed(frame)
    yield widget  # `frame` stays alive (it owns the view) until the test ends


@pytest.fixture
def runner(qapp: QApplication) -> Iterator[JobRunner]:
    jobs = JobRunner()
    yield jobs
    assert jobs.stop(30_000), "a background job outlived the test"


@pytest.fixture
def dialog(runner: JobRunner, qtbot: QtBot) -> Iterator[TrainingDialog]:
    """The training dialog, confirming every question, on its own job runner."""
    form = TrainingDialog(runner, models_dir=None)
    form.confirm = lambda title, text: True  # type: ignore[method-assign]
    qtbot.addWidget(form)
    form.show()
    qtbot.waitExposed(form)
    yield form
    form.close()  # (pytest-qt may have closed it already)
    qtbot.waitUntil(lambda: runner.running() == 0, timeout=30_000)


def wait_until_loaded(qtbot: QtBot, main: MainWindow, timeout: int = 20_000) -> None:
    """Scan done, every viewport's series fully decoded, thumbnails made."""

    def done() -> None:
        assert main.session.scan_result is not None
        assert not main.is_busy()
        assert main.runner.running() == 0

    qtbot.waitUntil(done, timeout=timeout)


def open_and_wait(qtbot: QtBot, main: MainWindow, folder: Path) -> None:
    main.open_paths([folder])
    wait_until_loaded(qtbot, main)


def start_task_training(
    qtbot: QtBot,
    dialog: TrainingDialog,
    task: str,
    dataset: Path,
    name: str,
    epochs: int,
    batch: int | None = None,
) -> None:
    """Choose `task` and `dataset`, wait for its check, and start a run of `epochs`."""
    dialog.set_task(task)
    dialog.set_dataset(dataset)
    check = "level_check" if task == LEVELS else "grade_check"
    qtbot.waitUntil(lambda: getattr(dialog, check) is not None, timeout=30_000)
    assert getattr(dialog, check).can_train
    dialog.name_edit.setText(name)
    dialog.epochs_spin.setValue(epochs)
    if batch is not None:
        dialog.batch_spin.setValue(batch)
    dialog.start_button.click()
    qtbot.waitUntil(lambda: dialog.is_training, timeout=30_000)

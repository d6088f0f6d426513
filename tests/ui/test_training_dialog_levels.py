"""Tools → Train model… with the task "Disc levels": the slice-only settings off, the dataset
check, a real short level training run and its figures, and a cancel that saves nothing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from spineview.ml.level_training import LevelTrainingConfig
from spineview.models.catalogue import list_models, user_models_dir
from spineview.models.training_plan import TrainConfig
from spineview.ui.training_dialog import GRADES, LEVELS, SLICE_ONLY, SLICES, TrainingDialog
from tests.ui.conftest import start_task_training

pytestmark = [pytest.mark.gui, pytest.mark.tf]

TRAIN_TIMEOUT = 120_000


def test_disc_levels_turns_off_what_only_a_slice_classifier_reads(
    dialog: TrainingDialog,
) -> None:
    slice_tooltips = [widget.toolTip() for widget in dialog.slice_only_settings()]
    slice_epochs = dialog.epochs_spin.value()
    assert slice_epochs == TrainConfig(dataset=Path("."), name="x").epochs
    dialog.set_task(LEVELS)
    for widget in dialog.slice_only_settings():
        assert not widget.isEnabled(), widget
        assert widget.toolTip() == SLICE_ONLY
    assert "level model" in SLICE_ONLY
    for widget in (dialog.name_edit, dialog.epochs_spin, dialog.batch_spin,
                   dialog.learning_rate_spin, dialog.seed_spin):  # fmt: skip
        assert widget.isEnabled()
    defaults = LevelTrainingConfig(Path("."), "x", Path("."))
    assert dialog.epochs_spin.value() == defaults.epochs
    assert dialog.batch_spin.value() == defaults.batch_size
    assert dialog.learning_rate_spin.value() == pytest.approx(defaults.learning_rate)
    assert dialog.recipe_changes.isHidden()
    dialog.set_task(SLICES)
    assert dialog.recipe_combo.isEnabled() and dialog.architecture_combo.isEnabled()
    assert dialog.augmentation_box.isEnabled() and not dialog.freeze_check.isEnabled()
    assert [widget.toolTip() for widget in dialog.slice_only_settings()] == slice_tooltips
    assert dialog.epochs_spin.value() == slice_epochs


@pytest.mark.parametrize(
    ("task", "check_name", "words"),
    [
        (LEVELS, "level_check", "class folders can train a slice classifier only"),
        (GRADES, "grade_check", "a grading model learns"),
    ],
)
def test_class_folders_cannot_train_a_level_or_grading_model(
    dialog: TrainingDialog, qtbot: QtBot, tmp_path: Path, task: str, check_name: str, words: str
) -> None:
    for name in ("healthy", "degenerative"):
        (tmp_path / "classes" / name).mkdir(parents=True)
        (tmp_path / "classes" / name / "1.dcm").write_bytes(b"")
    dialog.set_task(task)
    dialog.set_dataset(tmp_path / "classes")
    qtbot.waitUntil(lambda: getattr(dialog, check_name) is not None, timeout=30_000)
    check = getattr(dialog, check_name)
    assert check is not None and not check.can_train
    summary = dialog.dataset_summary.text()
    assert "✖" in summary and "not in the RSNA 2024 layout" in summary
    assert words in summary and "class folders can train a slice classifier only" in summary
    dialog.start()
    qtbot.waitUntil(lambda: "Not started" in dialog.log.toPlainText(), timeout=30_000)
    assert not dialog.is_training
    assert not (user_models_dir() / dialog.name_edit.text()).exists()


def test_the_check_counts_level_marks_without_tensorflow(level_dataset: Path) -> None:
    code = (
        "import sys; from spineview.models.level_dataset_check import check_level_dataset as c;"
        f"r = c({str(level_dataset)!r}); print(r.marked_studies, r.can_train,"
        " 'tensorflow' in sys.modules, 'keras' in sys.modules)"
    )
    answer = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert answer.stdout.split() == ["12", "True", "False", "False"], answer.stderr


def test_a_short_level_run_shows_its_figures_and_lists_the_model(
    dialog: TrainingDialog, qtbot: QtBot, level_dataset: Path
) -> None:
    changed: list[bool] = []
    dialog.models_changed.connect(lambda: changed.append(True))
    start_task_training(qtbot, dialog, LEVELS, level_dataset, "dialog-levels", 2, batch=8)
    assert "ready to train" in dialog.dataset_summary.text() or "⚠" in dialog.dataset_summary.text()
    for widget in dialog.slice_only_settings():
        assert not widget.isEnabled()
    qtbot.waitUntil(lambda: not dialog.is_training, timeout=TRAIN_TIMEOUT)
    log = dialog.log.toPlainText()
    result = dialog.trained_levels
    assert result is not None, log
    assert "Epoch 1/2" in log and "Epoch 2/2" in log
    folder = user_models_dir() / "dialog-levels"
    assert result.info.path == folder and dialog.trained_folder() == folder
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["task"] == "levels"
    summary = dialog.level_report.summary.text()
    for words in ("mean error", "90th percentile", "within 5 mm", "95 %", "order", "Baseline"):
        assert words in summary, summary
    usability = result.info.manifest.usability
    assert ("✔ usable" if usability.usable else "✖ not usable") in summary
    assert usability.reason.split(" (")[0] in summary
    assert dialog.level_report.cell("all levels", "mean").endswith(" mm")
    assert dialog.level_report.cell("baseline", "within 5 mm (95 % interval)") != ""
    assert dialog.pages.currentWidget() is dialog.level_report
    assert changed and folder in [info.path for info in list_models(task="levels")[0]]
    assert folder not in [info.path for info in list_models(task="slices")[0]]
    # two epochs make a level model the gate calls not usable: it is not offered to the viewer
    assert not usability.usable
    assert not dialog.use_button.isEnabled() and "not usable" in dialog.use_button.toolTip()
    offered: list[object] = []
    dialog.use_model.connect(offered.append)
    dialog.use_button.click()
    assert offered == []


def test_cancelling_a_level_run_saves_nothing(
    dialog: TrainingDialog, qtbot: QtBot, level_dataset: Path
) -> None:
    start_task_training(qtbot, dialog, LEVELS, level_dataset, "cancelled-levels", 30, batch=8)
    qtbot.waitUntil(lambda: "Epoch 1/30" in dialog.log.toPlainText(), timeout=TRAIN_TIMEOUT)
    dialog.cancel_button.click()
    qtbot.waitUntil(lambda: not dialog.is_training, timeout=30_000)
    log = dialog.log.toPlainText()
    assert "Training cancelled" in log and "nothing was saved" in log, log
    assert "Epoch 30/30" not in log
    assert dialog.trained_levels is None and dialog.start_button.isEnabled()
    assert not (user_models_dir() / "cancelled-levels").exists()
    assert not any(user_models_dir().glob("*cancelled-levels*"))  # no temporary folder left

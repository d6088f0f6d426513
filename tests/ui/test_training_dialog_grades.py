"""Tools → Train model… with the task "Findings grades": the slice-only settings off, the
dataset check, a real short grading run and its figures against the prior, and a cancel that
saves nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtWidgets import QLabel
from pytestqt.qtbot import QtBot

from spineview.ml.grade_training import MIN_STUDIES, GradeTrainingConfig
from spineview.models.catalogue import find_model, list_models, user_models_dir
from spineview.models.level_dataset_check import check_grade_dataset
from spineview.ui.main_window import MainWindow
from spineview.ui.training_dialog import GRADES, SLICE_ONLY, SLICES, TrainingDialog
from tests.ui.conftest import start_task_training

pytestmark = [pytest.mark.gui, pytest.mark.tf]

TRAIN_TIMEOUT = 120_000


def _batch_label(dialog: TrainingDialog) -> str:
    label = dialog._model_form.labelForField(dialog.batch_spin)
    assert isinstance(label, QLabel)
    return label.text()


def test_findings_grades_turns_off_what_only_a_slice_classifier_reads(
    dialog: TrainingDialog,
) -> None:
    slice_tooltips = [widget.toolTip() for widget in dialog.slice_only_settings()]
    slice_epochs = dialog.epochs_spin.value()
    dialog.set_task(GRADES)
    for widget in dialog.slice_only_settings():
        assert not widget.isEnabled(), widget
        assert widget.toolTip() == SLICE_ONLY
    assert "grading model" in SLICE_ONLY
    for widget in (dialog.name_edit, dialog.epochs_spin, dialog.batch_spin,
                   dialog.learning_rate_spin, dialog.seed_spin):  # fmt: skip
        assert widget.isEnabled()
    defaults = GradeTrainingConfig(Path("."), "x", Path("."))
    assert dialog.epochs_spin.value() == defaults.epochs
    assert dialog.batch_spin.value() == defaults.studies_per_batch
    assert dialog.learning_rate_spin.value() == pytest.approx(defaults.learning_rate)
    assert _batch_label(dialog) == "Studies per batch"
    dialog.set_task(SLICES)
    assert dialog.recipe_combo.isEnabled() and dialog.augmentation_box.isEnabled()
    assert [widget.toolTip() for widget in dialog.slice_only_settings()] == slice_tooltips
    assert dialog.epochs_spin.value() == slice_epochs
    assert _batch_label(dialog) == "Batch size"


def test_the_check_needs_the_trainers_minimum_of_graded_studies(level_dataset: Path) -> None:
    check = check_grade_dataset(level_dataset, min_studies=MIN_STUDIES)
    assert check.can_train and check.graded_studies == 12
    assert sum(check.grade_counts.values()) > 0
    refused = check_grade_dataset(level_dataset, min_studies=13)
    assert not refused.can_train
    assert "only 12 studies" in refused.errors[0] and "at least 13" in refused.errors[0]


def test_a_short_grading_run_shows_its_figures_and_lists_the_model(
    dialog: TrainingDialog, qtbot: QtBot, level_dataset: Path
) -> None:
    changed: list[bool] = []
    dialog.models_changed.connect(lambda: changed.append(True))
    start_task_training(qtbot, dialog, GRADES, level_dataset, "dialog-grades", 2)
    summary = dialog.dataset_summary.text()
    assert "12 of them with grades" in summary and "⚠" in summary  # few studies: a warning
    qtbot.waitUntil(lambda: not dialog.is_training, timeout=TRAIN_TIMEOUT)
    log = dialog.log.toPlainText()
    result = dialog.trained_grades
    assert result is not None, log
    folder = user_models_dir() / "dialog-grades"
    assert result.info.path == folder and dialog.trained_folder() == folder
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["task"] == "grades"
    test = result.metrics["test"]
    summary = dialog.grade_report.summary.text()
    assert f"{test['score']:.3f}" in summary and f"{test['prior']['score']:.3f}" in summary
    for words in ("constant prior", "Ratio to the prior", "95 % interval", "lower is better"):
        assert words in summary, summary
    usability = result.info.manifest.usability
    assert ("✔ usable" if usability.usable else "✖ not usable") in summary
    assert usability.reason.split(" (")[0].split(":")[0] in summary
    report = dialog.grade_report
    assert report.cell("score", "model") == f"{test['score']:.3f}"
    assert report.cell("spinal", "constant prior") == f"{test['prior']['losses']['spinal']:.3f}"
    assert report.cell("any severe spinal", "model") != ""
    assert dialog.pages.currentWidget() is report
    assert "test score" in dialog.status_label.text()
    assert changed and folder in [info.path for info in list_models(task="grades")[0]]
    assert folder not in [info.path for info in list_models(task="slices")[0]]
    offered: list[object] = []
    dialog.use_model.connect(offered.append)
    dialog.use_button.click()
    assert offered == ([folder] if usability.usable else [])
    assert dialog.use_button.isEnabled() == usability.usable


def test_cancelling_a_grading_run_saves_nothing(
    dialog: TrainingDialog, qtbot: QtBot, level_dataset: Path
) -> None:
    start_task_training(qtbot, dialog, GRADES, level_dataset, "cancelled-grades", 30)
    qtbot.waitUntil(lambda: "Epoch 1/30" in dialog.log.toPlainText(), timeout=TRAIN_TIMEOUT)
    dialog.cancel_button.click()
    qtbot.waitUntil(lambda: not dialog.is_training, timeout=30_000)
    log = dialog.log.toPlainText()
    assert "Training cancelled" in log and "nothing was saved" in log, log
    assert "Epoch 30/30" not in log
    assert dialog.trained_grades is None and dialog.start_button.isEnabled()
    assert not (user_models_dir() / "cancelled-grades").exists()
    assert not any(user_models_dir().glob("*cancelled-grades*"))  # no temporary folder left


def test_use_this_model_makes_a_grading_model_the_viewers(window: MainWindow, qtbot: QtBot) -> None:
    folder = find_model("grades-demo").path
    dialog = window.show_training()
    window._use_trained_model(folder)  # what the dialog's Use this model asks for
    assert window.config.grade_model == str(folder)
    assert window.config.level_model != str(folder)
    assert f"graded with {folder.name}" in window.status_label.text()
    assert f"{folder.name} is now the viewer's model" in dialog.log.toPlainText()
    dialog.close()

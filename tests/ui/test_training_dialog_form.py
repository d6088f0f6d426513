"""The training dialog's form, buttons, curves and report without TensorFlow: recipes, start
from a model, Enter never starts training, fixed Start/Cancel places, a cancel's log line,
small-dataset warnings, curve colours and axes, the misclassified gallery at 100 %.

Training itself is a fake job that reports progress like `train_model` and waits for Cancel;
the real runs are in test_training_dialog.py."""

from __future__ import annotations

import dataclasses
import json
import shutil
import threading
from pathlib import Path
from typing import Any, ClassVar

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QPushButton, QWidget
from pytestqt.qtbot import QtBot

from spineview.data.synth import SynthOptions, synthesize
from spineview.errors import TrainingCancelled
from spineview.models import training_plan
from spineview.models.catalogue import bundled_models_dir, user_models_dir
from spineview.models.training_plan import (
    AUGMENTATIONS,
    MIN_STUDIES,
    MIN_TRAINING_SLICES_PER_CLASS,
    RECIPE_DESCRIPTIONS,
    RECIPES,
    TrainConfig,
    TrainingPlan,
    TrainProgress,
    default_learning_rate,
    recipe_config,
)
from spineview.ui import training_dialog
from spineview.ui.training_dialog import (
    FROM_SCRATCH,
    TrainingDialog,
    cancel_message,
    plan_summary,
)
from spineview.ui.training_views import (
    TRAIN_COLOUR,
    VALIDATION_COLOUR,
    FigureView,
    TrainingCurves,
    TrainingReport,
)
from spineview.workers import Job, JobRunner, TrainSignals

pytestmark = pytest.mark.gui

STEPS = 30  # batches per epoch of the fake training


@pytest.fixture(scope="module")
def tiny_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tiny-form") / "rsna"
    synthesize(root, SynthOptions(studies=14, seed=21, size=64), workers=2)
    return root


class FakeTrainJob(Job):
    """Reports like train_model: one full epoch, then batches of epoch 2 until batch
    `PAUSE_AT`, where it waits for Cancel; on Cancel, Keras-like, it finishes the batch, ends
    the epoch early (with its partial logs) and stops with TrainingCancelled."""

    PAUSE_AT = 6
    made: ClassVar[list[FakeTrainJob]] = []

    def __init__(self, config: TrainConfig, models_dir: Path | None = None) -> None:
        super().__init__()
        self.signals: TrainSignals = TrainSignals()
        self.config = config
        self.paused = threading.Event()
        FakeTrainJob.made.append(self)

    def work(self) -> object:
        emit = self.signals.update.emit
        epochs = self.config.epochs
        emit(TrainProgress("reading", 10, 10, message="decoding slices"))
        for batch in range(1, STEPS + 1):
            emit(TrainProgress("training", batch, STEPS, 1, epochs, {"loss": 0.7}))
        emit(TrainProgress("epoch", 1, epochs, 1, epochs, {"loss": 0.6, "val_loss": 0.65}))
        for batch in range(1, self.PAUSE_AT + 1):
            emit(TrainProgress("training", batch, STEPS, 2, epochs, {"loss": 0.5}))
        self.paused.set()
        if not self.cancel_event.wait(30):
            raise AssertionError("the test never cancelled the fake training")
        emit(TrainProgress("training", self.PAUSE_AT + 1, STEPS, 2, epochs, {"loss": 0.5}))
        emit(TrainProgress("epoch", 2, epochs, 2, epochs, {"loss": 0.5, "val_loss": 0.55}))
        raise TrainingCancelled("training cancelled; no model was saved")


@pytest.fixture
def fake_training(monkeypatch: pytest.MonkeyPatch) -> list[FakeTrainJob]:
    FakeTrainJob.made = []
    monkeypatch.setattr(training_dialog, "TrainJob", FakeTrainJob)
    return FakeTrainJob.made


def _inspect(qtbot: QtBot, dialog: TrainingDialog, dataset: Path) -> TrainingPlan:
    dialog.set_dataset(dataset)
    qtbot.waitUntil(lambda: dialog.plan is not None, timeout=60_000)
    assert dialog.plan is not None
    return dialog.plan


def _start_fake_training(
    qtbot: QtBot, dialog: TrainingDialog, dataset: Path, made: list[FakeTrainJob]
) -> FakeTrainJob:
    dialog.epochs_spin.setValue(5)
    dialog.batch_spin.setValue(8)
    plan = _inspect(qtbot, dialog, dataset)
    assert plan.can_train, plan.errors
    qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.is_training and bool(made), timeout=60_000)
    job = made[-1]
    qtbot.waitUntil(job.paused.is_set, timeout=30_000)
    qtbot.waitUntil(lambda: "step 6/30" in dialog.status_label.text(), timeout=30_000)
    return job


# --- 1. recipes: the dialog reads the shared default -----------------------------------------


def test_the_form_starts_on_the_default_recipe_from_trainconfig(dialog: TrainingDialog) -> None:
    config = dialog.config()
    defaults = TrainConfig(dataset=Path("."), name="x")
    assert dialog.recipe_combo.currentData() == "default" and config.recipe == "default"
    assert config.epochs == defaults.epochs
    assert config.batch_size == defaults.batch_size
    assert config.learning_rate == pytest.approx(defaults.learning_rate)
    assert config.augmentation == defaults.augmentation
    assert config.augmentation_settings is None
    assert config.start_from is None and not config.freeze_features
    assert not hasattr(training_dialog, "DEFAULT_EPOCHS")  # no copy of TrainConfig's values
    assert dialog.recipe_changes.isHidden()


def test_the_form_reads_the_default_recipe_when_it_is_made(
    runner: JobRunner, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tuned values (a recipe or TrainConfig's own defaults) reach the form without a copy."""
    monkeypatch.setitem(
        RECIPES, "default", {"batch_size": 5, "learning_rate": 2e-4, "augmentation": "none"}
    )
    monkeypatch.setattr(TrainConfig.__dataclass_fields__["epochs"], "default", 7)
    form = TrainingDialog(runner)
    qtbot.addWidget(form)
    assert form.epochs_spin.value() == 7
    assert form.batch_spin.value() == 5
    assert TrainConfig.learning_rate != 2e-4  # the tuned value differs from the field default
    assert form.learning_rate_spin.value() == pytest.approx(2e-4)
    assert not form.augmentation_box.isChecked()
    config = form.config()
    assert (config.epochs, config.batch_size, config.augmentation) == (7, 5, "none")


@pytest.mark.parametrize("recipe", list(RECIPES))
def test_each_recipe_fills_the_form_like_recipe_config(
    dialog: TrainingDialog, recipe: str, tmp_path: Path
) -> None:
    index = dialog.recipe_combo.findData(recipe)
    assert index >= 0
    tooltip = dialog.recipe_combo.itemData(index, Qt.ItemDataRole.ToolTipRole)
    assert tooltip == RECIPE_DESCRIPTIONS[recipe]
    dialog.recipe_combo.setCurrentIndex(index)
    dialog.dataset_edit.setText(str(tmp_path))
    expected = recipe_config(recipe, tmp_path, dialog.name_edit.text())
    config = dialog.config()
    assert config == dataclasses.replace(expected, name=config.name)
    assert dialog.recipe_combo.toolTip() == RECIPE_DESCRIPTIONS[recipe]


def test_edits_after_choosing_a_recipe_are_kept(dialog: TrainingDialog) -> None:
    dialog.recipe_combo.setCurrentIndex(dialog.recipe_combo.findData("reference"))
    dialog.epochs_spin.setValue(2)
    dialog.batch_spin.setValue(4)
    dialog.seed_spin.setValue(3)
    dialog.refresh_start_models()
    dialog.inspect()  # no dataset: says so, changes nothing
    config = dialog.config()
    assert (config.epochs, config.batch_size, config.recipe) == (2, 4, "reference")
    assert config.augmentation == "reference"
    assert not dialog.recipe_changes.isHidden()
    assert "epochs" in dialog.recipe_changes.text()
    assert "batch size" in dialog.recipe_changes.text()
    assert recipe_config("default", Path(), "x").augmentation == "none"
    dialog.recipe_combo.setCurrentIndex(dialog.recipe_combo.findData("default"))
    assert dialog.config().epochs == recipe_config("default", Path(), "x").epochs  # refilled
    assert not dialog.augmentation_box.isChecked()
    assert dialog.recipe_changes.isHidden()
    dialog.augmentation_box.setChecked(True)  # ticking it offers the mild preset, values shown
    assert dialog.preset_combo.currentData() == "light"
    assert dialog.augmentation_settings() == AUGMENTATIONS["light"]
    dialog.augmentation_box.setChecked(False)
    dialog.recipe_combo.setCurrentIndex(dialog.recipe_combo.findData("light-augmentation"))
    assert dialog.augmentation_box.isChecked() and dialog.config().augmentation == "light"


# --- 2. start from a model -------------------------------------------------------------------


def _user_model(name: str, architecture: str = "cnn") -> Path:
    """A listable user model: the bundled demo's manifest under another name, empty weights."""
    source = bundled_models_dir() / f"{architecture}-demo"
    folder = user_models_dir() / name
    folder.mkdir(parents=True)
    manifest: dict[str, Any] = json.loads((source / "manifest.json").read_text("utf-8"))
    manifest["name"] = name
    (folder / "manifest.json").write_text(json.dumps(manifest), "utf-8")
    (folder / "model.weights.h5").write_bytes(b"")
    return folder


def test_start_from_lists_bundled_and_user_models(dialog: TrainingDialog, qtbot: QtBot) -> None:
    texts = [dialog.start_from_combo.itemText(i) for i in range(dialog.start_from_combo.count())]
    assert texts[0] == FROM_SCRATCH
    assert "cnn-demo (bundled)" in texts and "resnet50-demo (bundled)" in texts
    folder = _user_model("my-cnn")
    dialog.hide()
    dialog.show()  # lists again when shown
    texts = [dialog.start_from_combo.itemText(i) for i in range(dialog.start_from_combo.count())]
    assert "my-cnn" in texts
    assert dialog.start_from_combo.findData(str(folder)) >= 0


def test_starting_from_a_model_sets_its_architecture_rate_and_freeze(
    dialog: TrainingDialog,
) -> None:
    assert not dialog.freeze_check.isEnabled()
    start = str(bundled_models_dir() / "resnet50-demo")
    dialog.start_from_combo.setCurrentIndex(dialog.start_from_combo.findData(start))
    assert dialog.architecture_combo.currentData() == "resnet50"
    assert not dialog.architecture_combo.isEnabled()
    assert not dialog.imagenet_edit.isEnabled()
    assert dialog.learning_rate_spin.value() == pytest.approx(
        default_learning_rate("default", start)
    )
    assert dialog.freeze_check.isEnabled()
    dialog.freeze_check.setChecked(True)
    config = dialog.config()
    assert config.start_from == start and config.freeze_features
    assert config.architecture == "resnet50"
    assert config.learning_rate == pytest.approx(default_learning_rate("default", start))
    assert training_plan.check_settings(config) == []  # the plan accepts it
    dialog.recipe_combo.setCurrentIndex(dialog.recipe_combo.findData("reference"))
    assert dialog.learning_rate_spin.value() == pytest.approx(
        default_learning_rate("reference", start)
    )

    dialog.start_from_combo.setCurrentIndex(0)
    assert dialog.architecture_combo.isEnabled()
    assert not dialog.freeze_check.isEnabled() and not dialog.freeze_check.isChecked()
    assert dialog.learning_rate_spin.value() == pytest.approx(
        default_learning_rate("reference", None)
    )
    config = dialog.config()
    assert config.start_from is None and not config.freeze_features


# --- a. Enter never starts training ----------------------------------------------------------


def test_enter_in_a_field_never_starts_training(
    dialog: TrainingDialog, qtbot: QtBot, tiny_dataset: Path, fake_training: list[FakeTrainJob]
) -> None:
    for button in dialog.findChildren(QPushButton):
        assert not button.isDefault() and not button.autoDefault(), button.text()
    dialog.dataset_edit.setText(str(tiny_dataset))
    dialog.dataset_edit.setFocus()
    qtbot.keyClick(dialog.dataset_edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: dialog.plan is not None, timeout=60_000)  # Enter re-inspects
    assert dialog.plan is not None and dialog.plan.can_train
    fields: list[QWidget] = [
        dialog.dataset_edit, dialog.name_edit, dialog.epochs_spin, dialog.batch_spin,
        dialog.learning_rate_spin, dialog.seed_spin, dialog.rotation_spin,
    ]  # fmt: skip
    for field in fields:
        field.setFocus()
        qtbot.keyClick(field, Qt.Key.Key_Return)
        qtbot.keyClick(field, Qt.Key.Key_Enter)
    qtbot.waitUntil(lambda: dialog._plan_job is None, timeout=60_000)
    qtbot.wait(100)
    assert fake_training == [] and not dialog.is_training
    assert "Not started" not in dialog.log.toPlainText()
    for button in dialog.findChildren(QPushButton):
        assert not button.isDefault(), button.text()


# --- b. Start and Cancel keep their places -----------------------------------------------------


def _place(button: QPushButton, dialog: TrainingDialog) -> tuple[QPoint, bool]:
    return button.mapTo(dialog, QPoint(0, 0)), button.isVisible()


def test_start_and_cancel_keep_their_places(
    dialog: TrainingDialog, qtbot: QtBot, tiny_dataset: Path, fake_training: list[FakeTrainJob]
) -> None:
    idle = (_place(dialog.start_button, dialog), _place(dialog.cancel_button, dialog))
    assert idle[0][1] and idle[1][1]  # both shown
    assert dialog.start_button.isEnabled() and not dialog.cancel_button.isEnabled()
    _start_fake_training(qtbot, dialog, tiny_dataset, fake_training)
    training = (_place(dialog.start_button, dialog), _place(dialog.cancel_button, dialog))
    assert training == idle
    assert not dialog.start_button.isEnabled() and dialog.cancel_button.isEnabled()
    qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dialog.is_training, timeout=30_000)
    ended = (_place(dialog.start_button, dialog), _place(dialog.cancel_button, dialog))
    assert ended == idle
    assert dialog.start_button.isEnabled() and not dialog.cancel_button.isEnabled()


# --- e. a cancelled epoch is no epoch ------------------------------------------------------------


def test_a_cancelled_partial_epoch_is_logged_as_cancelled_not_as_an_epoch(
    dialog: TrainingDialog, qtbot: QtBot, tiny_dataset: Path, fake_training: list[FakeTrainJob]
) -> None:
    _start_fake_training(qtbot, dialog, tiny_dataset, fake_training)
    assert "epoch 1/5" in dialog.log.toPlainText()
    dialog.cancel_button.click()
    qtbot.waitUntil(lambda: not dialog.is_training, timeout=30_000)
    log = dialog.log.toPlainText()
    assert "cancelled during epoch 2 of 5 (batch 7 of 30); nothing was saved" in log
    assert "epoch 2/5" not in log
    assert dialog.curves.points("loss") == 1 and dialog.curves.points("val_loss") == 1
    assert "cancelled during epoch 2 of 5" in dialog.status_label.text()


def test_cancel_message_says_how_far_the_run_got() -> None:
    def step(stage: str, done: int, total: int, epoch: int = 0) -> TrainProgress:
        return TrainProgress(stage, done, total, epoch, 5, message="evaluating on the test split")

    assert cancel_message(None) == "cancelled before it started; nothing was saved"
    assert "while reading the slices (3 of 40)" in cancel_message(step("reading", 3, 40))
    assert cancel_message(step("training", 7, 30, 2)) == (
        "cancelled during epoch 2 of 5 (batch 7 of 30); nothing was saved"
    )
    assert "after epoch 2 of 5" in cancel_message(step("training", 30, 30, 2))
    assert "after epoch 3 of 5" in cancel_message(step("epoch", 3, 5, 3))
    assert "while evaluating on the test split" in cancel_message(step("evaluating", 0, 1))


# --- f. small datasets -----------------------------------------------------------------------


def _plan(studies: int, train: dict[str, int], **changes: Any) -> TrainingPlan:
    names = tuple(train)
    plan = TrainingPlan(
        source="rsna",
        class_names=names,
        class_counts={name: 2 * count for name, count in train.items()},
        studies=studies,
        series=studies,
        examples=2 * sum(train.values()),
        split_counts={"train": train, "validation": dict(train), "test": dict(train)},
        cache_bytes=2**20,
        available_bytes=None,
        rule_text="",
        problems=[],
        errors=[],
    )
    return dataclasses.replace(plan, **changes)


def test_a_two_study_dataset_is_not_called_ready() -> None:
    plan = _plan(2, {"healthy": 40, "degenerative": 3})
    warnings = plan.warnings
    assert any(f"only 2 studies (fewer than {MIN_STUDIES})" in w for w in warnings)
    assert any(
        f"only 3 degenerative slices (fewer than {MIN_TRAINING_SLICES_PER_CLASS})" in w
        for w in warnings
    )
    summary = plan_summary(plan)
    assert plan.can_train  # a warning, not an error
    assert "ready to train" not in summary and "⚠ training is possible, but" in summary
    assert "fewer than" in summary


def test_a_large_enough_dataset_is_ready_and_split_warnings_show() -> None:
    ample = {"healthy": MIN_TRAINING_SLICES_PER_CLASS, "degenerative": 500}
    plan = _plan(MIN_STUDIES, ample)
    assert plan.warnings == []
    assert "✔ ready to train" in plan_summary(plan)
    warned = dataclasses.replace(plan, split_warnings=["the test split holds no healthy slice"])
    assert "the test split holds no healthy slice" in plan_summary(warned)
    failing = _plan(2, {"healthy": 1, "degenerative": 1}, errors=["the batch size is too big"])
    assert "⚠" not in plan_summary(failing) and "✖" in plan_summary(failing)


def test_the_dialog_shows_the_small_dataset_warning(
    dialog: TrainingDialog, qtbot: QtBot, tiny_dataset: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = _inspect(qtbot, dialog, tiny_dataset)
    assert plan.can_train and "ready to train" in dialog.dataset_summary.text()
    monkeypatch.setattr(training_plan, "MIN_STUDIES", plan.studies + 1)
    dialog.inspect()
    qtbot.waitUntil(lambda: dialog.plan is not None, timeout=60_000)
    text = dialog.dataset_summary.text()
    assert "ready to train" not in text
    assert f"only {plan.studies} studies (fewer than {plan.studies + 1})" in text
    assert dialog.start_button.isEnabled()  # training is still allowed


# --- c, d. the curves ------------------------------------------------------------------------


def _colour(value: object) -> str:
    assert value is not None
    color = value.color()  # type: ignore[attr-defined]  # a QPen or QBrush
    assert isinstance(color, QColor)
    return str(color.name())


def test_validation_curves_and_markers_have_their_own_colour_and_legend(qtbot: QtBot) -> None:
    curves = TrainingCurves()
    qtbot.addWidget(curves)
    for train, validation in (("loss", "val_loss"), ("accuracy", "val_accuracy")):
        train_opts = curves.curves[train].opts
        validation_opts = curves.curves[validation].opts
        assert _colour(train_opts["pen"]) == TRAIN_COLOUR.lower()
        assert _colour(validation_opts["pen"]) == VALIDATION_COLOUR.lower()
        assert _colour(train_opts["symbolBrush"]) == TRAIN_COLOUR.lower()
        assert _colour(validation_opts["symbolBrush"]) == VALIDATION_COLOUR.lower()
        assert _colour(validation_opts["symbolPen"]) == VALIDATION_COLOUR.lower()
        assert train_opts["symbol"] != validation_opts["symbol"]
    for plot in (curves.loss_plot, curves.accuracy_plot):
        labels = curves.legend_labels(plot)
        assert "training" in labels and "validation" in labels


def test_the_curves_axes_never_rescale_with_an_si_prefix(qtbot: QtBot) -> None:
    curves = TrainingCurves()
    qtbot.addWidget(curves)
    curves.resize(800, 300)
    curves.show()
    qtbot.waitExposed(curves)
    for plot in (curves.loss_plot, curves.accuracy_plot):
        for side in ("left", "right", "top"):
            plot.setLabel(side, side)  # only a shown label gets a prefix: show them all
    curves.add_batch(1, 1, 1000, 0.0004)  # epoch 0.001, loss 0.0004
    curves.add_batch(1, 2, 1000, 0.0003)
    for plot in (curves.loss_plot, curves.accuracy_plot):
        plot.setXRange(0, 0.003, padding=0)
        plot.setYRange(0, 0.0005, padding=0)
    qtbot.wait(50)
    for plot in (curves.loss_plot, curves.accuracy_plot):
        for side in ("left", "bottom", "right", "top"):
            axis = plot.getAxis(side)
            assert axis.autoSIPrefixScale == 1.0, side
            assert "(x" not in axis.labelString(), axis.labelString()
    assert curves.loss_plot.getAxis("bottom").labelText == "epoch"


# --- g. the misclassified gallery is readable ------------------------------------------------


def _figure(path: Path, width: int, height: int) -> None:
    image = QImage(width, height, QImage.Format.Format_RGB32)
    image.fill(QColor("white"))
    path.parent.mkdir(parents=True, exist_ok=True)
    assert image.save(str(path))


def test_the_misclassified_gallery_shows_at_100_percent_and_a_click_fits_it(
    qtbot: QtBot, tmp_path: Path
) -> None:
    _figure(tmp_path / "report" / "confusion.png", 900, 700)
    _figure(tmp_path / "report" / "misclassified.png", 1160, 900)
    report = TrainingReport()
    qtbot.addWidget(report)
    report.resize(900, 500)
    report.show()
    report.show_result(tmp_path, {}, "summary")
    qtbot.waitExposed(report)
    titles = [report.figures.tabText(i) for i in range(report.figures.count())]
    confusion = report.figures.widget(titles.index("Confusion matrix"))
    gallery = report.figures.widget(titles.index("Misclassified test slices"))
    assert isinstance(confusion, FigureView) and isinstance(gallery, FigureView)
    assert confusion.fit and confusion.shown_scale() < 1.0  # fitted to the space
    report.figures.setCurrentWidget(gallery)
    qtbot.waitUntil(lambda: gallery.viewport().width() > 100)
    assert not gallery.fit and gallery.shown_scale() == 1.0  # captions at their drawn size
    assert gallery.horizontalScrollBar().maximum() > 0  # wider than the view: it scrolls
    qtbot.mouseClick(gallery.image, Qt.MouseButton.LeftButton)
    assert gallery.fit and gallery.shown_scale() < 1.0
    qtbot.mouseClick(gallery.image, Qt.MouseButton.LeftButton)
    assert not gallery.fit and gallery.shown_scale() == 1.0
    shutil.rmtree(tmp_path / "report")


def test_the_report_shows_each_metric_with_its_bootstrap_interval(
    qtbot: QtBot, tmp_path: Path
) -> None:
    report = TrainingReport()
    qtbot.addWidget(report)
    metrics = {
        "calibrated": {"roc_auc": 0.9, "roc_auc_ci": [0.8, 0.95], "accuracy": 0.7},
        "raw": {"roc_auc": 0.9, "roc_auc_ci": None},
    }
    report.show_result(tmp_path, metrics, "summary")
    assert report.metric_text("ROC AUC") == "0.900 (0.800–0.950)"
    assert report.metric_text("ROC AUC", part="raw") == "0.900"
    assert report.metric_text("Accuracy") == "0.700"  # no interval recorded
    columns = sum(report.table.columnWidth(c) for c in range(report.table.columnCount()))
    assert report.table.minimumWidth() >= columns  # no column hidden behind a scroll bar

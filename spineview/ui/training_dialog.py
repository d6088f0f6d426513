"""Tools → Train model…: retrain a model on the user's own data, from the GUI.

The dialog inspects the dataset in the background (what was found, what cannot work) before
anything trains, runs training in a worker with live curves, progress, time left and a log,
and ends on the test metrics and report figures with buttons to use, open or discard the model.
Nothing is saved until training finishes: Cancel leaves every existing model as it was.
"""

from __future__ import annotations

import html
import math
import time
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QCloseEvent, QDesktopServices
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from spineview.ml.architectures import ARCHITECTURES
from spineview.ml.store import delete_model, user_model_folder
from spineview.ml.training_plan import (
    AUGMENTATIONS,
    TrainConfig,
    TrainingPlan,
    TrainProgress,
    TrainResult,
)
from spineview.ui.garbage_collection import collect_everything
from spineview.ui.training_views import TrainingCurves, TrainingReport, format_metric
from spineview.workers import JobRunner, PlanTrainingJob, TrainJob

# The reference recipe: Adam 1e-3, 10 epochs, batch 32, the reference's augmentation.
DEFAULT_EPOCHS = 10
DEFAULT_BATCH_SIZE = 32
DEFAULT_LEARNING_RATE = 1e-3
DEFAULT_AUGMENTATION = "reference"
_ERROR_STYLE = "color: #c62828;"
_WARNING_STYLE = "color: #b26a00;"
CHANCE_BALANCED_ACCURACY = 0.55
"""At or below this test balanced accuracy the dialog says the model learnt nothing useful."""


class TrainingDialog(QDialog):
    """A non-modal dialog: the viewer stays usable while a model trains."""

    model_saved = Signal(object)  # Path of the new model folder
    models_changed = Signal()  # a model was saved or discarded: refresh the picker
    use_model = Signal(object)  # Path: make this model the viewer's active one

    def __init__(
        self, runner: JobRunner, parent: QWidget | None = None, models_dir: Path | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Train a model")
        self.resize(1180, 820)
        self.runner = runner
        self.models_dir = models_dir
        self.plan: TrainingPlan | None = None
        self.trained: TrainResult | None = None
        self._plan_job: PlanTrainingJob | None = None
        self._start_after_plan = False
        self._train_job: TrainJob | None = None
        self._training_started = 0.0
        self._close_when_stopped = False

        self._build()
        self._set_state("idle")

    # --- building -------------------------------------------------------------------------

    def _build(self) -> None:
        splitter = QSplitter(Qt.Orientation.Horizontal, self)
        splitter.addWidget(self._build_settings())
        splitter.addWidget(self._build_run_area())
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([380, 800])
        buttons = QHBoxLayout()
        self.start_button = QPushButton("Start training")
        self.start_button.setDefault(True)
        self.start_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel training")
        self.cancel_button.clicked.connect(self.cancel_training)
        self.close_button = QPushButton("Close")
        self.close_button.clicked.connect(self.close)
        buttons.addStretch(1)
        for button in (self.start_button, self.cancel_button, self.close_button):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addWidget(splitter, 1)
        layout.addLayout(buttons)

    def _build_settings(self) -> QWidget:
        panel = QWidget()
        column = QVBoxLayout(panel)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self._build_dataset_box())
        column.addWidget(self._build_model_box())
        column.addWidget(self._build_augmentation_box())
        column.addStretch(1)
        self.preset_combo.setCurrentIndex(self.preset_combo.findData(DEFAULT_AUGMENTATION))
        self._preset_changed()
        self._architecture_changed()
        return panel

    def _build_dataset_box(self) -> QGroupBox:
        dataset = QGroupBox("Dataset")
        rows = QVBoxLayout(dataset)
        line = QHBoxLayout()
        self.dataset_edit = QLineEdit()
        self.dataset_edit.setPlaceholderText("RSNA 2024 layout, or one folder per class")
        self.dataset_edit.editingFinished.connect(self.inspect)
        browse = QPushButton("Browse…")
        browse.clicked.connect(self.choose_dataset)
        line.addWidget(self.dataset_edit, 1)
        line.addWidget(browse)
        rows.addLayout(line)
        self.dataset_summary = QLabel("Choose a dataset folder.")
        self.dataset_summary.setWordWrap(True)
        self.dataset_summary.setTextFormat(Qt.TextFormat.RichText)
        self.dataset_summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        rows.addWidget(self.dataset_summary)
        self.problems_view = QPlainTextEdit()
        self.problems_view.setReadOnly(True)
        self.problems_view.setMaximumHeight(90)
        self.problems_view.hide()
        rows.addWidget(self.problems_view)
        return dataset

    def _build_model_box(self) -> QGroupBox:
        model = QGroupBox("Model")
        form = QFormLayout(model)
        self.name_edit = QLineEdit(f"my-model-{datetime.now():%Y%m%d-%H%M}")
        self.name_edit.setToolTip("Letters, digits, '-', '_' and '.'")
        self.architecture_combo = QComboBox()
        for architecture in ARCHITECTURES.values():
            self.architecture_combo.addItem(architecture.id, architecture.id)
            index = self.architecture_combo.count() - 1
            self.architecture_combo.setItemData(
                index, architecture.description, Qt.ItemDataRole.ToolTipRole
            )
        self.architecture_combo.currentIndexChanged.connect(self._architecture_changed)
        self.epochs_spin = _spin(1, 500, DEFAULT_EPOCHS)
        self.batch_spin = _spin(1, 1024, DEFAULT_BATCH_SIZE)
        self.learning_rate_spin = QDoubleSpinBox()
        self.learning_rate_spin.setDecimals(6)
        self.learning_rate_spin.setRange(1e-6, 1.0)
        self.learning_rate_spin.setSingleStep(1e-4)
        self.learning_rate_spin.setValue(DEFAULT_LEARNING_RATE)
        self.seed_spin = _spin(0, 2**31 - 1, 0)
        self.seed_spin.setToolTip("Seed of the train/validation/test split and of training")
        self.imagenet_edit = QLineEdit()
        self.imagenet_edit.setPlaceholderText("optional: local ResNet50 ImageNet .h5")
        form.addRow("Name", self.name_edit)
        form.addRow("Architecture", self.architecture_combo)
        form.addRow("Epochs", self.epochs_spin)
        form.addRow("Batch size", self.batch_spin)
        form.addRow("Learning rate", self.learning_rate_spin)
        form.addRow("Split seed", self.seed_spin)
        form.addRow("ImageNet weights", self.imagenet_edit)
        return model

    def _build_augmentation_box(self) -> QGroupBox:
        augmentation = QGroupBox("Augmentation (training split only)")
        augmentation.setCheckable(True)
        augmentation.setChecked(True)
        self.augmentation_box = augmentation
        grid = QGridLayout(augmentation)
        self.preset_combo = QComboBox()
        for name in ("reference", "light"):
            self.preset_combo.addItem(name, name)
        self.preset_combo.addItem("custom", "custom")
        self.preset_combo.currentIndexChanged.connect(self._preset_changed)
        self.preset_combo.setToolTip(
            "reference: the reference recipe (rotation 30°, shifts, shear and zoom 0.2, flips); "
            "light: milder, often better on small or unbalanced datasets; custom: your values"
        )
        self.rotation_spin = _double(0, 180, 1, " °")
        self.shift_spin = _double(0, 1, 0.05)
        self.shear_spin = _double(0, 1, 0.05)
        self.zoom_spin = _double(0, 1, 0.05)
        self.flip_check = QCheckBox("horizontal flip")
        grid.addWidget(QLabel("Preset"), 0, 0)
        grid.addWidget(self.preset_combo, 0, 1)
        for row, (label, widget) in enumerate(
            (("Rotation", self.rotation_spin), ("Shift", self.shift_spin),
             ("Shear", self.shear_spin), ("Zoom", self.zoom_spin)), start=1
        ):  # fmt: skip
            grid.addWidget(QLabel(label), row, 0)
            grid.addWidget(widget, row, 1)
            widget.valueChanged.connect(self._strength_edited)
        grid.addWidget(self.flip_check, 5, 1)
        self.flip_check.toggled.connect(self._strength_edited)
        return augmentation

    def _build_run_area(self) -> QWidget:
        area = QWidget()
        column = QVBoxLayout(area)
        column.setContentsMargins(0, 0, 0, 0)
        self.status_label = QLabel("Not started")
        self.status_label.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        column.addWidget(self.status_label)
        column.addWidget(self.progress)
        self.pages = QStackedWidget()
        self.curves = TrainingCurves()
        self.report = TrainingReport()
        self.pages.addWidget(self.curves)
        self.pages.addWidget(self.report)
        column.addWidget(self.pages, 3)
        self.trained_buttons = QWidget()
        row = QHBoxLayout(self.trained_buttons)
        row.setContentsMargins(0, 0, 0, 0)
        self.use_button = QPushButton("Use this model")
        self.use_button.clicked.connect(self._use_model)
        self.open_report_button = QPushButton("Open report folder")
        self.open_report_button.clicked.connect(self._open_report)
        self.discard_button = QPushButton("Discard model…")
        self.discard_button.clicked.connect(self.discard_model)
        self.show_curves_button = QPushButton("Show curves")
        self.show_curves_button.setCheckable(True)
        self.show_curves_button.toggled.connect(
            lambda shown: self.pages.setCurrentWidget(self.curves if shown else self.report)
        )
        row.addWidget(self.use_button)
        row.addWidget(self.open_report_button)
        row.addWidget(self.discard_button)
        row.addStretch(1)
        row.addWidget(self.show_curves_button)
        column.addWidget(self.trained_buttons)
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(5000)
        column.addWidget(self.log, 1)
        return area

    # --- settings -------------------------------------------------------------------------

    def _architecture_changed(self) -> None:
        self.imagenet_edit.setEnabled(self.architecture_combo.currentData() == "resnet50")

    def _preset_changed(self) -> None:
        preset = self.preset_combo.currentData()
        if preset == "custom":
            return
        values = AUGMENTATIONS[preset]
        for widget, key in (
            (self.rotation_spin, "rotation"), (self.shift_spin, "shift"),
            (self.shear_spin, "shear"), (self.zoom_spin, "zoom"),
        ):  # fmt: skip
            widget.blockSignals(True)
            widget.setValue(values.get(key, 0.0))
            widget.blockSignals(False)
        self.flip_check.blockSignals(True)
        self.flip_check.setChecked(bool(values.get("flip")))
        self.flip_check.blockSignals(False)

    def _strength_edited(self) -> None:
        self.preset_combo.blockSignals(True)
        self.preset_combo.setCurrentIndex(self.preset_combo.findData("custom"))
        self.preset_combo.blockSignals(False)

    def augmentation_settings(self) -> dict[str, float]:
        if not self.augmentation_box.isChecked():
            return {}
        return {
            "rotation": self.rotation_spin.value(),
            "shift": self.shift_spin.value(),
            "shear": self.shear_spin.value(),
            "zoom": self.zoom_spin.value(),
            "flip": 1.0 if self.flip_check.isChecked() else 0.0,
        }

    def config(self) -> TrainConfig:
        """The training the form describes."""
        imagenet = self.imagenet_edit.text().strip()
        preset = str(self.preset_combo.currentData())
        if not self.augmentation_box.isChecked():
            augmentation, custom = "none", None
        elif preset == "custom":
            augmentation, custom = "light", self.augmentation_settings()  # custom wins
        else:
            augmentation, custom = preset, None
        return TrainConfig(
            dataset=Path(self.dataset_edit.text().strip()).expanduser(),
            name=self.name_edit.text().strip(),
            architecture=str(self.architecture_combo.currentData()),
            epochs=self.epochs_spin.value(),
            batch_size=self.batch_spin.value(),
            learning_rate=self.learning_rate_spin.value(),
            seed=self.seed_spin.value(),
            augmentation=augmentation,  # type: ignore[arg-type]  # one of the preset names
            augmentation_settings=custom,
            imagenet_weights=Path(imagenet).expanduser() if imagenet and self._resnet() else None,
        )

    def _resnet(self) -> bool:
        return self.architecture_combo.currentData() == "resnet50"

    # --- dataset inspection -----------------------------------------------------------------

    def choose_dataset(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose a dataset folder")
        if folder:
            self.set_dataset(Path(folder))

    def set_dataset(self, folder: Path) -> None:
        self.dataset_edit.setText(str(folder))
        self.inspect()

    def inspect(self, *, then_start: bool = False) -> None:
        """Check the dataset and the settings in the background (no TensorFlow needed)."""
        if not self.dataset_edit.text().strip():
            self.dataset_summary.setText("Choose a dataset folder.")
            return
        if self._plan_job is not None:
            self._plan_job.cancel()
        self._start_after_plan = then_start
        self.plan = None  # until the new inspection says otherwise
        job = PlanTrainingJob(self.config())
        job.signals.finished.connect(self._plan_ready)
        job.signals.failed.connect(self._plan_failed)
        self._plan_job = job
        self.dataset_summary.setText("Reading the dataset…")
        self.runner.start(job, self.runner.loads)

    def _plan_ready(self, plan: TrainingPlan) -> None:
        if self._plan_job is None or self._plan_job.signals is not self.sender():
            return
        self._plan_job = None
        self.plan = plan
        self.dataset_summary.setText(plan_summary(plan))
        self.problems_view.setVisible(bool(plan.problems))
        self.problems_view.setPlainText("\n".join(plan.problems))
        if self._start_after_plan:
            self._start_after_plan = False
            if plan.can_train:
                self._start_training()
            else:
                self._log("Not started: " + " ".join(plan.errors))
                self.status_label.setText("Cannot train with these settings (see the dataset)")

    def _plan_failed(self, message: str) -> None:
        self._plan_job = None
        self._start_after_plan = False
        self.dataset_summary.setText(f"<span style='{_ERROR_STYLE}'>{html.escape(message)}</span>")

    # --- training -------------------------------------------------------------------------

    @property
    def is_training(self) -> bool:
        return self._train_job is not None

    def start(self) -> None:
        """Check everything again with the current settings, then train if it can work."""
        if self.is_training:
            return
        self.inspect(then_start=True)

    def _start_training(self) -> None:
        config = self.config()
        folder = (self.models_dir / config.name) if self.models_dir else None
        folder = folder or user_model_folder(config.name)
        if folder.exists() and not self.confirm(
            "Replace the model?",
            f"A model named {config.name} exists in {folder.parent}. It is replaced only when "
            "the new training finishes. Continue?",
        ):
            return
        self.trained = None
        self.curves.clear()
        self.pages.setCurrentWidget(self.curves)
        self.log.clear()
        self._log(f"Training {config.name} ({config.architecture}) on {config.dataset}")
        job = TrainJob(config, self.models_dir)
        job.signals.update.connect(self._update)
        job.signals.finished.connect(self._finished)
        job.signals.failed.connect(self._failed)
        job.signals.cancelled.connect(self._cancelled)
        self._train_job = job
        self._training_started = 0.0
        self._set_state("training")
        self.runner.start(job, self.runner.training)

    def cancel_training(self) -> None:
        if self._train_job is None:
            return
        self._train_job.cancel()
        self.cancel_button.setEnabled(False)
        self.status_label.setText("Stopping after the current batch…")
        self._log("Cancel requested")

    def _update(self, progress: TrainProgress) -> None:
        if self._train_job is None or self._train_job.signals is not self.sender():
            return
        if progress.stage == "reading":
            self.progress.setRange(0, max(progress.total, 1))
            self.progress.setValue(progress.done)
            self.progress.setFormat("reading slices %v/%m")
            self.status_label.setText("Decoding every slice once into the cache…")
        elif progress.stage == "training":
            self._show_step(progress)
        elif progress.stage == "epoch":
            logs = progress.logs
            self.curves.add_epoch(progress.epoch, logs)
            self._log(f"epoch {progress.epoch}/{progress.epochs}  " + _format_logs(logs))
        else:
            self.progress.setRange(0, 0)
            self.status_label.setText(progress.message or progress.stage)
            self._log(progress.message or progress.stage)

    def _show_step(self, progress: TrainProgress) -> None:
        if not self._training_started:
            self._training_started = time.monotonic()
        steps = max(progress.total, 1)
        total = steps * max(progress.epochs, 1)
        done = (progress.epoch - 1) * steps + progress.done
        self.progress.setRange(0, total)
        self.progress.setValue(done)
        self.progress.setFormat(f"epoch {progress.epoch}/{progress.epochs} · step %v/%m")
        elapsed = time.monotonic() - self._training_started
        left = elapsed / done * (total - done) if done else math.nan
        self.status_label.setText(
            f"Epoch {progress.epoch}/{progress.epochs}, step {progress.done}/{steps} · "
            f"{_duration(elapsed)} elapsed · about {_duration(left)} left at most "
            "(early stopping may end sooner)"
        )
        self.curves.add_batch(progress.epoch, progress.done, steps, progress.logs.get("loss"))

    def _finished(self, result: TrainResult) -> None:
        self._run_ended()
        self.trained = result
        self._set_state("done")
        seconds = _duration(result.seconds)
        self._log(f"Saved {result.model_folder} ({result.examples} slices, {seconds})")
        metrics = result.metrics
        calibrated = metrics.get("calibrated", {})
        summary = (
            f"<b>{html.escape(result.model_folder.name)}</b> saved in "
            f"{html.escape(str(result.model_folder.parent))}<br>"
            f"Test split: {metrics.get('n', '?')} slices · ROC AUC "
            f"{format_metric(calibrated.get('roc_auc'))} · balanced accuracy "
            f"{format_metric(calibrated.get('balanced_accuracy'))} · temperature "
            f"{format_metric(metrics.get('temperature'))}"
        )
        balanced = calibrated.get("balanced_accuracy")
        if isinstance(balanced, (int, float)) and balanced <= CHANCE_BALANCED_ACCURACY:
            summary += (
                f"<br><span style='{_WARNING_STYLE}'>⚠ no better than chance on the test split: "
                "try more epochs, the light augmentation preset, or more data</span>"
            )
        self.report.show_result(result.model_folder, metrics, summary)
        self.pages.setCurrentWidget(self.report)
        self.status_label.setText(f"Done in {seconds}: the model is listed in the model picker")
        self.model_saved.emit(result.model_folder)
        self.models_changed.emit()
        if self._close_when_stopped:
            self.close()

    def _failed(self, message: str) -> None:
        self._run_ended()
        self._set_state("idle")
        self.status_label.setText(f"Training failed: {message}")
        self.status_label.setStyleSheet(_ERROR_STYLE)
        self._log(f"Training failed: {message}")
        if self._close_when_stopped:
            self.close()

    def _cancelled(self) -> None:
        self._run_ended()
        self._set_state("idle")
        self.status_label.setText("Training cancelled; no model was saved")
        self._log("Training cancelled; existing models are unchanged")
        if self._close_when_stopped:
            self.close()

    def _run_ended(self) -> None:
        self._train_job = None
        collect_everything()  # the run's network and cache may sit among frozen objects

    def _set_state(self, state: str) -> None:
        training = state == "training"
        self.start_button.setEnabled(not training)
        self.cancel_button.setEnabled(training)
        self.cancel_button.setVisible(training)
        self.trained_buttons.setVisible(state == "done")
        self.progress.setVisible(state != "idle" or self.progress.value() > 0)
        self.status_label.setStyleSheet("")
        for widget in (self.dataset_edit, self.name_edit, self.architecture_combo,
                       self.epochs_spin, self.batch_spin, self.learning_rate_spin,
                       self.seed_spin, self.augmentation_box):  # fmt: skip
            widget.setEnabled(not training)
        if not training:
            self._architecture_changed()
        else:
            self.imagenet_edit.setEnabled(False)

    # --- after training ---------------------------------------------------------------------

    def _use_model(self) -> None:
        if self.trained is not None:
            self.use_model.emit(self.trained.model_folder)
            self._log(f"{self.trained.model_folder.name} is now the viewer's model")

    def _open_report(self) -> None:
        if self.trained is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.trained.model_folder / "report")))

    def discard_model(self) -> None:
        if self.trained is None:
            return
        folder = self.trained.model_folder
        if not self.confirm("Discard the model?", f"Delete {folder} and its report?"):
            return
        try:
            delete_model(folder)
        except Exception as error:  # a message, never a traceback
            self._log(f"Could not delete {folder}: {error}")
            return
        self._log(f"Deleted {folder}")
        self.trained = None
        self._set_state("idle")
        self.models_changed.emit()

    # --- closing ----------------------------------------------------------------------------

    def confirm(self, title: str, text: str) -> bool:
        """Ask a yes/no question (tests replace this)."""
        answer = QMessageBox.question(self, title, text)
        return answer == QMessageBox.StandardButton.Yes

    def closeEvent(self, event: QCloseEvent) -> None:
        if self._train_job is not None:
            if not self._close_when_stopped and not self.confirm(
                "Stop training?", "A model is training. Stop it and close? Nothing is saved."
            ):
                event.ignore()
                return
            self._close_when_stopped = True
            self.cancel_training()
            event.ignore()  # closes itself once the worker has stopped
            return
        if self._plan_job is not None:
            self._plan_job.cancel()
        super().closeEvent(event)

    def _log(self, text: str) -> None:
        self.log.appendPlainText(f"{datetime.now():%H:%M:%S}  {text}")


def plan_summary(plan: TrainingPlan) -> str:
    """What the dataset holds and whether it can train, as rich text for the dialog."""
    lines = [
        f"<b>{html.escape(plan.source)}</b>: {plan.studies} studies, {plan.series} series, "
        f"{plan.examples} usable slices",
        " · ".join(
            f"{html.escape(name)} {plan.class_counts.get(name, 0)}" for name in plan.class_names
        ),
    ]
    if plan.split_counts:
        parts = []
        for split, counts in plan.split_counts.items():
            parts.append(f"{split} {sum(counts.values())}")
        lines.append("Split by study: " + ", ".join(parts))
    lines.append(f"Cache {plan.cache_bytes / 2**20:.0f} MiB")
    if plan.problems:
        lines.append(f"{len(plan.problems)} problems in the dataset (listed below)")
    if plan.rule_text:
        lines.append(f"<small>{html.escape(plan.rule_text)}</small>")
    for error in plan.errors:
        lines.append(f"<span style='{_ERROR_STYLE}'>✖ {html.escape(error)}</span>")
    if plan.can_train:
        lines.append("<span style='color: #2e7d32;'>✔ ready to train</span>")
    return "<br>".join(lines)


def _spin(low: int, high: int, value: int) -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(low, high)
    spin.setValue(value)
    return spin


def _double(low: float, high: float, step: float, suffix: str = "") -> QDoubleSpinBox:
    spin = QDoubleSpinBox()
    spin.setRange(low, high)
    spin.setSingleStep(step)
    spin.setDecimals(2)
    spin.setSuffix(suffix)
    return spin


def _format_logs(logs: dict[str, float]) -> str:
    return "  ".join(f"{key} {value:.4f}" for key, value in sorted(logs.items()))


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "—"
    minutes, rest = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {rest:02d} s" if minutes else f"{rest} s"

"""Tools → Train model…: retrain a model on the user's own data, from the GUI.

The dialog inspects the dataset in the background (what was found, what cannot work) before
anything trains, runs training in a worker with live curves, progress, time left and a log,
and ends on the test metrics and report figures with buttons to use, open or discard the model.
Nothing is saved until training finishes: Cancel leaves every existing model as it was.
"""

from __future__ import annotations

import dataclasses
import html
import math
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QCloseEvent, QDesktopServices, QShowEvent
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

from spineview.errors import SpineViewError, error_text
from spineview.models.architectures import SLICE_ARCHITECTURES
from spineview.models.catalogue import ModelInfo, delete_model, list_models, user_model_folder
from spineview.models.level_dataset_check import GradeDatasetCheck, LevelDatasetCheck
from spineview.models.model_text import level_figures_text
from spineview.models.quality_gate import judge_usability
from spineview.models.training_plan import (
    AUGMENTATION_RANGES,
    AUGMENTATIONS,
    RECIPE_DESCRIPTIONS,
    RECIPES,
    TrainConfig,
    TrainingPlan,
    TrainingStage,
    TrainProgress,
    TrainResult,
    default_learning_rate,
    recipe_config,
)
from spineview.ui.binding import bind_slot
from spineview.ui.garbage_collection import collect_everything
from spineview.ui.grade_training_view import (
    GradeTrainingReport,
    grade_figures_text,
    grade_result_summary,
)
from spineview.ui.level_training_view import LevelTrainingReport, level_result_summary
from spineview.ui.training_views import TrainingCurves, TrainingReport, format_metric
from spineview.workers import (
    GradeDatasetCheckJob,
    GradeTrainJob,
    JobRunner,
    LevelDatasetCheckJob,
    LevelTrainJob,
    PlanTrainingJob,
    TrainJob,
)

if TYPE_CHECKING:
    from spineview.workers import GradeTrainResult, LevelTrainResult

DEFAULT_RECIPE = "default"
"""The recipe the form starts on; its values come from TrainConfig and RECIPES at run time,
so the dialog and the CLI share one default."""
FROM_SCRATCH = "nothing (train from scratch)"
SLICES, LEVELS, GRADES = "slices", "levels", "grades"
TASKS = {
    SLICES: "Slice classifier (healthy / degenerative)",
    LEVELS: "Disc levels (L1/L2–L5/S1)",
    GRADES: "Findings grades (RSNA 2024)",
}
"""What a model learns (the manifest's task) → the task choice's text."""
SLICE_ONLY = (
    "Only a slice classifier's training reads this: a disc level model and a grading model "
    "each have their own network, trained from scratch with their own augmentation"
)
OWN_NETWORK_TASKS = (LEVELS, GRADES)
"""The tasks whose trainer reads none of the slice-only settings."""
_ERROR_STYLE = "color: #c62828;"
_WARNING_STYLE = "color: #b26a00;"


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
        self.level_check: LevelDatasetCheck | None = None  # the plan of a level model
        self.grade_check: GradeDatasetCheck | None = None  # the plan of a grading model
        self.trained: TrainResult | None = None
        self.trained_levels: LevelTrainResult | None = None
        self.trained_grades: GradeTrainResult | None = None
        self._plan_job: PlanTrainingJob | LevelDatasetCheckJob | GradeDatasetCheckJob | None = None
        self._start_after_plan = False
        self._train_job: TrainJob | LevelTrainJob | GradeTrainJob | None = None
        self._level_status: str | None = None  # a level or grading run's last progress line
        self._slice_tooltips: dict[QWidget, str] = {}  # kept while the task is levels
        self._training_started = 0.0
        self._close_when_stopped = False
        self._last_progress: TrainProgress | None = None  # of the run, for a cancel's message
        self._inspected = ""  # the dataset field's text at the last inspection
        self._start_models: dict[str, ModelInfo] = {}  # model folder (str) → the listed model

        self._build()
        self._no_default_button()
        self._set_state("idle")

    # --- building -------------------------------------------------------------------------

    def _build(self) -> None:
        splitter = QSplitter(Qt.Orientation.Horizontal, self)
        splitter.addWidget(self._build_settings())
        splitter.addWidget(self._build_run_area())
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([380, 800])
        # Start and Cancel always both shown, in the same places (the idle one disabled): a
        # click meant for Cancel can never land on Start.
        buttons = QHBoxLayout()
        self.start_button = QPushButton("Start training")
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

    def _no_default_button(self) -> None:
        """Enter in a field never presses a button (QDialog presses its default button, and
        makes the first auto-default one the default when shown): only a click starts training."""
        for button in self.findChildren(QPushButton):
            button.setAutoDefault(False)
            button.setDefault(False)

    def _build_settings(self) -> QWidget:
        panel = QWidget()
        column = QVBoxLayout(panel)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self._build_dataset_box())
        column.addWidget(self._build_model_box())
        column.addWidget(self._build_augmentation_box())
        column.addStretch(1)
        self.refresh_start_models()
        self.recipe_combo.setCurrentIndex(self.recipe_combo.findData(DEFAULT_RECIPE))
        self.apply_recipe()
        for signal in (
            self.epochs_spin.valueChanged, self.batch_spin.valueChanged,
            self.learning_rate_spin.valueChanged, self.augmentation_box.toggled,
            self.preset_combo.currentIndexChanged,
        ):  # fmt: skip
            signal.connect(self._show_recipe_changes)
        return panel

    def _build_dataset_box(self) -> QGroupBox:
        dataset = QGroupBox("Dataset")
        rows = QVBoxLayout(dataset)
        line = QHBoxLayout()
        self.dataset_edit = QLineEdit()
        self.dataset_edit.setPlaceholderText("RSNA 2024 layout, or one folder per class")
        self.dataset_edit.setToolTip("Enter reads the dataset again")
        self.dataset_edit.returnPressed.connect(self.inspect)
        self.dataset_edit.editingFinished.connect(self._dataset_edited)
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
        self._model_form = form
        self.task_combo = QComboBox()
        for task, text in TASKS.items():
            self.task_combo.addItem(text, task)
        self.task_combo.setToolTip(
            "What the model learns: healthy / degenerative per slice (RSNA layout or one folder "
            "per class), where the lumbar discs lie on a sagittal T2/STIR series (RSNA layout "
            "with spinal-canal level marks), or the 25 findings' grades of a study (RSNA layout "
            "with level marks and train.csv grades)"
        )
        self.task_combo.currentIndexChanged.connect(self._task_changed)
        self.name_edit = QLineEdit(f"my-model-{datetime.now():%Y%m%d-%H%M}")
        self.name_edit.setToolTip("Letters, digits, '-', '_' and '.'")
        self.recipe_combo = QComboBox()
        for recipe in RECIPES:
            self.recipe_combo.addItem(recipe, recipe)
            index = self.recipe_combo.count() - 1
            self.recipe_combo.setItemData(
                index, RECIPE_DESCRIPTIONS.get(recipe, ""), Qt.ItemDataRole.ToolTipRole
            )
        self.recipe_combo.currentIndexChanged.connect(self.apply_recipe)
        self.recipe_combo.activated.connect(self.apply_recipe)  # the same one again: refill
        self.recipe_changes = QLabel()
        self.recipe_changes.setWordWrap(True)
        self.recipe_changes.setStyleSheet("color: palette(placeholder-text);")
        self.start_from_combo = QComboBox()
        self.start_from_combo.setToolTip(
            "Train from scratch, or start from a listed model's weights (fine-tuning: it keeps "
            "the model's architecture and starts at a lower learning rate)"
        )
        self.start_from_combo.currentIndexChanged.connect(self._start_from_changed)
        self.freeze_check = QCheckBox("Freeze the feature layers (train the classifier head only)")
        self.freeze_check.setToolTip(
            "Only with a model to start from: its feature layers keep their weights"
        )
        self.architecture_combo = QComboBox()
        for architecture in SLICE_ARCHITECTURES.values():
            self.architecture_combo.addItem(architecture.id, architecture.id)
            index = self.architecture_combo.count() - 1
            self.architecture_combo.setItemData(
                index, architecture.description, Qt.ItemDataRole.ToolTipRole
            )
        self.architecture_combo.currentIndexChanged.connect(self._architecture_changed)
        self.epochs_spin = _spin(1, 500, 1)  # the values come from the recipe
        self.batch_spin = _spin(1, 1024, 1)
        self.learning_rate_spin = QDoubleSpinBox()
        self.learning_rate_spin.setDecimals(6)
        self.learning_rate_spin.setRange(1e-6, 1.0)
        self.learning_rate_spin.setSingleStep(1e-4)
        self.seed_spin = _spin(0, 2**31 - 1, int(recipe_values(DEFAULT_RECIPE)["seed"]))
        self.seed_spin.setToolTip("Seed of the train/validation/test split and of training")
        self.imagenet_edit = QLineEdit()
        self.imagenet_edit.setPlaceholderText("optional: local ResNet50 ImageNet .h5")
        form.addRow("Task", self.task_combo)
        form.addRow("Name", self.name_edit)
        form.addRow("Recipe", self.recipe_combo)
        form.addRow("", self.recipe_changes)
        form.addRow("Start from", self.start_from_combo)
        form.addRow("", self.freeze_check)
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
        for name, values in AUGMENTATIONS.items():
            if not values:
                continue  # "none": the group's check box
            self.preset_combo.addItem(name, name)
            self.preset_combo.setItemData(
                self.preset_combo.count() - 1, _describe_augmentation(values),
                Qt.ItemDataRole.ToolTipRole,
            )  # fmt: skip
        self.preset_combo.addItem("custom", "custom")
        self.preset_combo.setItemData(
            self.preset_combo.count() - 1, "your values", Qt.ItemDataRole.ToolTipRole
        )
        self.preset_combo.currentIndexChanged.connect(self._preset_changed)
        self.rotation_spin = _double(*AUGMENTATION_RANGES["rotation"], 1, " °")
        self.shift_spin = _double(*AUGMENTATION_RANGES["shift"], 0.05)
        self.shear_spin = _double(*AUGMENTATION_RANGES["shear"], 0.05)
        self.zoom_spin = _double(*AUGMENTATION_RANGES["zoom"], 0.05)
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
        self.level_report = LevelTrainingReport()
        self.grade_report = GradeTrainingReport()
        self.pages.addWidget(self.curves)
        self.pages.addWidget(self.report)
        self.pages.addWidget(self.level_report)
        self.pages.addWidget(self.grade_report)
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
        self._update_enabled()

    def task(self) -> str:
        """The model's task: "slices", "levels" or "grades"."""
        return str(self.task_combo.currentData())

    def set_task(self, task: str) -> None:
        self.task_combo.setCurrentIndex(self.task_combo.findData(task))

    def _task_changed(self) -> None:
        """Fill epochs, batch size and learning rate with the task's defaults (a level or
        grading model's from its trainer, a classifier's from the recipe) and check the
        dataset again."""
        task = self.task()
        if task in OWN_NETWORK_TASKS:
            defaults = (LevelTrainJob if task == LEVELS else GradeTrainJob).defaults()
            self.epochs_spin.setValue(int(defaults["epochs"]))
            batch = defaults["batch_size"] if task == LEVELS else defaults["studies_per_batch"]
            self.batch_spin.setValue(int(batch))
            self.learning_rate_spin.setValue(float(defaults["learning_rate"]))
        else:
            self.apply_recipe()
        batch_label = self._model_form.labelForField(self.batch_spin)
        if isinstance(batch_label, QLabel):  # a grading model's batches are whole studies
            batch_label.setText("Studies per batch" if task == GRADES else "Batch size")
        self._show_recipe_changes()
        self._update_enabled()
        self.plan, self.level_check, self.grade_check = None, None, None
        if self.dataset_edit.text().strip():
            self.inspect()

    def apply_recipe(self) -> None:
        """Fill the form with the chosen recipe's values (edits made afterwards are kept)."""
        recipe = self.recipe()
        values = recipe_values(recipe)
        self.recipe_combo.setToolTip(RECIPE_DESCRIPTIONS.get(recipe, ""))
        self.epochs_spin.setValue(int(values["epochs"]))
        self.batch_spin.setValue(int(values["batch_size"]))
        self.learning_rate_spin.setValue(default_learning_rate(recipe, self.start_from()))
        if "architecture" in RECIPES[recipe] and self.start_from() is None:
            self.architecture_combo.setCurrentIndex(
                self.architecture_combo.findData(values["architecture"])
            )
        augmentation = str(values["augmentation"])
        self.augmentation_box.setChecked(augmentation != "none")
        # with augmentation off, the mild preset waits behind the check box, its values shown
        preset = augmentation if augmentation != "none" else "light"
        self.preset_combo.setCurrentIndex(self.preset_combo.findData(preset))
        self._preset_changed()
        self._show_recipe_changes()

    def recipe(self) -> str:
        return str(self.recipe_combo.currentData())

    def recipe_changes_from_form(self) -> list[str]:
        """The form's fields whose values differ from the recipe's (the user's edits)."""
        recipe = self.recipe()
        values = recipe_values(recipe)
        changed = []
        if self.epochs_spin.value() != values["epochs"]:
            changed.append("epochs")
        if self.batch_spin.value() != values["batch_size"]:
            changed.append("batch size")
        if not math.isclose(
            self.learning_rate_spin.value(),
            default_learning_rate(recipe, self.start_from()),
            rel_tol=1e-6,
        ):
            changed.append("learning rate")
        augmentation, custom = self._augmentation()
        if augmentation != values["augmentation"] or custom is not None:
            changed.append("augmentation")
        return changed

    def _show_recipe_changes(self) -> None:
        changed = self.recipe_changes_from_form() if self.task() == SLICES else []
        self.recipe_changes.setText(f"changed: {', '.join(changed)}" if changed else "")
        self.recipe_changes.setVisible(bool(changed))

    def refresh_start_models(self) -> None:
        """List the models training can start from; the choice is kept while it is listed."""
        chosen = self.start_from()
        models, _problems = list_models(task="slices")
        self._start_models = {str(info.path): info for info in models}
        self.start_from_combo.blockSignals(True)
        self.start_from_combo.clear()
        self.start_from_combo.addItem(FROM_SCRATCH, None)
        for folder, info in self._start_models.items():
            text = info.manifest.name + (" (bundled)" if info.bundled else "")
            self.start_from_combo.addItem(text, folder)
            self.start_from_combo.setItemData(
                self.start_from_combo.count() - 1,
                f"{info.manifest.architecture} · {folder}",
                Qt.ItemDataRole.ToolTipRole,
            )
        index = self.start_from_combo.findData(chosen) if chosen is not None else 0
        self.start_from_combo.setCurrentIndex(max(index, 0))
        self.start_from_combo.blockSignals(False)
        if self.start_from() != chosen:
            self._start_from_changed()

    def start_from(self) -> str | None:
        """The folder of the model training starts from, or None (from scratch)."""
        data = self.start_from_combo.currentData()
        return str(data) if data else None

    def _start_from_changed(self) -> None:
        start = self.start_from()
        info = self._start_models.get(start) if start is not None else None
        if info is not None:
            index = self.architecture_combo.findData(info.manifest.architecture)
            if index >= 0:
                self.architecture_combo.setCurrentIndex(index)
        if start is None:
            self.freeze_check.setChecked(False)
        self.learning_rate_spin.setValue(default_learning_rate(self.recipe(), start))
        self._update_enabled()

    def _update_enabled(self) -> None:
        """Which settings can be edited now (nothing while training)."""
        idle = not self.is_training
        from_model = self.start_from() is not None
        for widget in (self.dataset_edit, self.name_edit, self.recipe_combo,
                       self.start_from_combo, self.epochs_spin, self.batch_spin,
                       self.learning_rate_spin, self.seed_spin, self.augmentation_box):  # fmt: skip
            widget.setEnabled(idle)
        self.architecture_combo.setEnabled(idle and not from_model)
        self.freeze_check.setEnabled(idle and from_model)
        self.imagenet_edit.setEnabled(idle and self._resnet() and not from_model)
        self.task_combo.setEnabled(idle)
        self._disable_slice_only_settings()

    def slice_only_settings(self) -> tuple[QWidget, ...]:
        """The settings only a slice classifier's training reads."""
        return (self.recipe_combo, self.start_from_combo, self.freeze_check,
                self.architecture_combo, self.imagenet_edit, self.augmentation_box)  # fmt: skip

    def _disable_slice_only_settings(self) -> None:
        """With the level or grading task: the slice-only settings disabled, their tooltips
        saying why (their own come back with the slice task)."""
        levels = self.task() in OWN_NETWORK_TASKS
        for widget in self.slice_only_settings():
            if levels:
                self._slice_tooltips.setdefault(widget, widget.toolTip())
                widget.setToolTip(SLICE_ONLY)
                widget.setEnabled(False)
            elif widget in self._slice_tooltips:
                widget.setToolTip(self._slice_tooltips.pop(widget))

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

    def _augmentation(self) -> tuple[str, dict[str, float] | None]:
        """The preset name and the custom strengths (None unless custom) the form describes."""
        preset = str(self.preset_combo.currentData())
        if not self.augmentation_box.isChecked():
            return "none", None
        if preset == "custom":
            return "light", self.augmentation_settings()  # the custom values replace the preset
        return preset, None

    def config(self) -> TrainConfig:
        """The training the form describes: the recipe, with the form's values over it."""
        imagenet = self.imagenet_edit.text().strip()
        augmentation, custom = self._augmentation()
        start = self.start_from()
        use_imagenet = bool(imagenet) and self._resnet() and start is None
        return recipe_config(
            self.recipe(),
            Path(self.dataset_edit.text().strip()).expanduser(),
            self.name_edit.text().strip(),
            architecture=str(self.architecture_combo.currentData()),
            epochs=self.epochs_spin.value(),
            batch_size=self.batch_spin.value(),
            learning_rate=self.learning_rate_spin.value(),
            seed=self.seed_spin.value(),
            augmentation=augmentation,
            augmentation_settings=custom,
            imagenet_weights=Path(imagenet).expanduser() if use_imagenet else None,
            start_from=start,
            freeze_features=start is not None and self.freeze_check.isChecked(),
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

    def _dataset_edited(self) -> None:
        """Leaving the dataset field reads the dataset when its text changed (Enter always)."""
        if self.dataset_edit.text() != self._inspected:
            self.inspect()

    def inspect(self, *, then_start: bool = False) -> None:
        """Check the dataset and the settings in the background (no TensorFlow needed)."""
        self._inspected = self.dataset_edit.text()
        if not self.dataset_edit.text().strip():
            self.dataset_summary.setText("Choose a dataset folder.")
            return
        if self._plan_job is not None:
            self._plan_job.cancel()
        self._start_after_plan = then_start
        self.plan = None  # until the new inspection says otherwise
        self.level_check = self.grade_check = None
        job: PlanTrainingJob | LevelDatasetCheckJob | GradeDatasetCheckJob
        if self.task() == LEVELS:
            job = LevelDatasetCheckJob(Path(self.dataset_edit.text().strip()).expanduser())
            job.signals.finished.connect(bind_slot(self._level_check_ready, job))
        elif self.task() == GRADES:
            job = GradeDatasetCheckJob(Path(self.dataset_edit.text().strip()).expanduser())
            job.signals.finished.connect(bind_slot(self._grade_check_ready, job))
        else:
            job = PlanTrainingJob(self.config())
            job.signals.finished.connect(bind_slot(self._plan_ready, job))
        job.signals.failed.connect(bind_slot(self._plan_failed, job))
        job.signals.cancelled.connect(bind_slot(self._plan_cancelled, job))
        self._plan_job = job
        self.dataset_summary.setText("Reading the dataset…")
        self.runner.start(job)

    def _plan_ready(self, job: PlanTrainingJob, plan: TrainingPlan) -> None:
        if job is not self._plan_job:
            return
        self.plan = plan
        self._dataset_checked(
            plan_summary(plan), plan.problems, plan.can_train, plan.errors,
            self._start_training, "Cannot train with these settings (see the dataset)",
        )  # fmt: skip

    def _level_check_ready(self, job: LevelDatasetCheckJob, check: LevelDatasetCheck) -> None:
        if job is not self._plan_job:
            return
        self.level_check = check
        self._dataset_checked(
            level_check_summary(check), check.problems, check.can_train, check.errors,
            self._start_level_training, "Cannot train a level model on this dataset",
        )  # fmt: skip

    def _grade_check_ready(self, job: GradeDatasetCheckJob, check: GradeDatasetCheck) -> None:
        if job is not self._plan_job:
            return
        self.grade_check = check
        self._dataset_checked(
            grade_check_summary(check), check.marks.problems, check.can_train, check.errors,
            self._start_level_training, "Cannot train a grading model on this dataset",
        )  # fmt: skip

    def _dataset_checked(
        self,
        summary: str,
        problems: Sequence[str],
        can_train: bool,
        errors: Sequence[str],
        start: Callable[[], None],
        cannot: str,
    ) -> None:
        """Show a finished dataset check of any task; start training if Start was pressed
        while it ran and the dataset allows it (else say why not)."""
        self._plan_job = None
        self.dataset_summary.setText(summary)
        self.problems_view.setVisible(bool(problems))
        self.problems_view.setPlainText("\n".join(problems))
        if self._start_after_plan:
            self._start_after_plan = False
            if can_train:
                start()
            else:
                self._log("Not started: " + " ".join(errors))
                self.status_label.setText(cannot)

    def _plan_cancelled(
        self, job: PlanTrainingJob | LevelDatasetCheckJob | GradeDatasetCheckJob
    ) -> None:
        if job is self._plan_job:
            self._plan_job = None
            self._start_after_plan = False

    def _plan_failed(
        self,
        job: PlanTrainingJob | LevelDatasetCheckJob | GradeDatasetCheckJob,
        error: BaseException,
    ) -> None:
        if job is not self._plan_job:
            return
        message = error_text(error)
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
        self.trained = self.trained_levels = self.trained_grades = None
        self.curves.clear()
        self.pages.setCurrentWidget(self.curves)
        self.log.clear()
        self._log(f"Training {config.name} ({config.architecture}) on {config.dataset}")
        job = TrainJob(config, self.models_dir)
        job.signals.update.connect(bind_slot(self._update, job))
        job.signals.finished.connect(self._finished)
        job.signals.failed.connect(self._failed)
        job.signals.cancelled.connect(self._cancelled)
        self._train_job = job
        self._training_started = 0.0
        self._last_progress = None
        self._set_state("training")
        self.runner.start(job)

    def _start_level_training(self) -> None:
        """Train a disc level or grading model (the task's), each with its own trainer."""
        name = self.name_edit.text().strip()
        try:
            folder = user_model_folder(name)  # checks the name
        except SpineViewError as error:
            self.status_label.setText(f"Not started: {error_text(error)}")
            self.status_label.setStyleSheet(_ERROR_STYLE)
            self._log(f"Not started: {error_text(error)}")
            return
        if self.models_dir is not None:
            folder = self.models_dir / name
        if folder.exists() and not self.confirm(
            "Replace the model?",
            f"A model named {name} exists in {folder.parent}. It is replaced only when "
            "the new training finishes. Continue?",
        ):
            return
        self.trained = self.trained_levels = self.trained_grades = None
        self.log.clear()
        dataset = Path(self.dataset_edit.text().strip()).expanduser()
        job: LevelTrainJob | GradeTrainJob
        if self.task() == GRADES:
            self.grade_report.show_running()
            self.pages.setCurrentWidget(self.grade_report)
            self._log(f"Training the grading model {name} on {dataset}")
            job = GradeTrainJob(
                dataset, name, folder, epochs=self.epochs_spin.value(),
                studies_per_batch=self.batch_spin.value(),
                learning_rate=self.learning_rate_spin.value(), seed=self.seed_spin.value(),
            )  # fmt: skip
            job.signals.finished.connect(self._grades_finished)
        else:
            self.level_report.show_running()
            self.pages.setCurrentWidget(self.level_report)
            self._log(f"Training the disc level model {name} on {dataset}")
            job = LevelTrainJob(
                dataset, name, folder, epochs=self.epochs_spin.value(),
                batch_size=self.batch_spin.value(), learning_rate=self.learning_rate_spin.value(),
                seed=self.seed_spin.value(),
            )  # fmt: skip
            job.signals.finished.connect(self._level_finished)
        job.signals.update.connect(bind_slot(self._level_update, job))
        job.signals.failed.connect(self._failed)
        job.signals.cancelled.connect(self._cancelled)
        self._train_job = job
        self._training_started = time.monotonic()
        self._last_progress = None
        self._level_status = None
        self._set_state("training")
        self.runner.start(job)

    def _level_update(self, job: LevelTrainJob | GradeTrainJob, text: str, fraction: float) -> None:
        if job is not self._train_job:
            return
        self.progress.setRange(0, 1000)
        self.progress.setValue(round(1000 * fraction))
        what = "findings grades" if isinstance(job, GradeTrainJob) else "disc levels"
        self.progress.setFormat(f"{what}: %p %")
        elapsed = time.monotonic() - self._training_started
        self.status_label.setText(f"{text} · {_duration(elapsed)} elapsed")
        self._log(text)
        self._level_status = text

    def _level_finished(self, result: LevelTrainResult) -> None:
        self._run_ended()
        self.trained_levels = result
        self._set_state("done")
        folder = result.info.path
        test = result.metrics.get("test", {})
        seconds = _duration(time.monotonic() - self._training_started)
        self._log(f"Saved {folder} ({seconds}); {level_figures_text(test)}")
        for problem in result.problems:
            self._log(f"note: {problem}")
        summary = level_result_summary(folder, test, result.info.manifest.usability)
        self.level_report.show_result(test, summary)
        self.pages.setCurrentWidget(self.level_report)
        self.status_label.setText(f"Done in {seconds}: {level_figures_text(test)}")
        self.model_saved.emit(folder)
        self.refresh_start_models()
        self.models_changed.emit()
        if self._close_when_stopped:
            self.close()

    def _grades_finished(self, result: GradeTrainResult) -> None:
        self._run_ended()
        self.trained_grades = result
        self._set_state("done")
        folder = result.info.path
        test = result.metrics.get("test", {})
        seconds = _duration(time.monotonic() - self._training_started)
        self._log(f"Saved {folder} ({seconds}); {grade_figures_text(test)}")
        for problem in result.problems:
            self._log(f"note: {problem}")
        summary = grade_result_summary(folder, test, result.info.manifest.usability)
        self.grade_report.show_result(test, summary)
        self.pages.setCurrentWidget(self.grade_report)
        self.status_label.setText(f"Done in {seconds}: {grade_figures_text(test)}")
        self.model_saved.emit(folder)
        self.refresh_start_models()
        self.models_changed.emit()
        if self._close_when_stopped:
            self.close()

    def cancel_training(self) -> None:
        if self._train_job is None:
            return
        self._train_job.cancel()
        self.cancel_button.setEnabled(False)
        self.status_label.setText("Stopping after the current batch…")
        self._log("Cancel requested")

    def _update(self, job: TrainJob, progress: TrainProgress) -> None:
        if job is not self._train_job:
            return
        if progress.stage == TrainingStage.READING:
            self.progress.setRange(0, max(progress.total, 1))
            self.progress.setValue(progress.done)
            self.progress.setFormat("reading slices %v/%m")
            self.status_label.setText("Decoding every slice once into the cache…")
        elif progress.stage == TrainingStage.TRAINING:
            self._show_step(progress)
        elif progress.stage == TrainingStage.EPOCH:
            if self._cancel_requested() and _epoch_cut_short(self._last_progress, progress):
                return  # Keras ends a cancelled epoch early: not an epoch; _cancelled says so
            logs = progress.logs
            self.curves.add_epoch(progress.epoch, logs)
            self._log(f"epoch {progress.epoch}/{progress.epochs}  " + _format_logs(logs))
        else:
            self.progress.setRange(0, 0)
            self.status_label.setText(progress.message or progress.stage.value)
            self._log(progress.message or progress.stage.value)
        self._last_progress = progress

    def _cancel_requested(self) -> bool:
        return self._train_job is not None and self._train_job.cancel_event.is_set()

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
        usability = judge_usability(metrics)  # the same rule as the picker and the CLI
        if not usability.usable:
            summary += (
                f"<br><span style='{_ERROR_STYLE}'>✖ not usable: {html.escape(usability.reason)}"
                " — try more epochs, another recipe, or more data</span>"
            )
        self.report.show_result(result.model_folder, metrics, summary)
        self.pages.setCurrentWidget(self.report)
        self.status_label.setText(f"Done in {seconds}: the model is listed in the model picker")
        self.model_saved.emit(result.model_folder)
        self.refresh_start_models()
        self.models_changed.emit()
        if self._close_when_stopped:
            self.close()

    def _failed(self, error: BaseException) -> None:
        message = error_text(error)
        self._run_ended()
        self._set_state("idle")
        self.status_label.setText(f"Training failed: {message}")
        self.status_label.setStyleSheet(_ERROR_STYLE)
        self._log(f"Training failed: {message}")
        if self._close_when_stopped:
            self.close()

    def _cancelled(self) -> None:
        if isinstance(self._train_job, LevelTrainJob | GradeTrainJob):
            message = "Training " + level_cancel_message(self._level_status)
        else:
            message = "Training " + cancel_message(self._last_progress)
        self._run_ended()
        self._set_state("idle")
        self.status_label.setText(message)
        self._log(message + "; existing models are unchanged")
        if self._close_when_stopped:
            self.close()

    def _run_ended(self) -> None:
        self._train_job = None
        collect_everything()  # the run's network and cache may sit among frozen objects

    def _set_state(self, state: str) -> None:
        training = state == "training"
        self.start_button.setEnabled(not training)  # both stay shown, in their places
        self.cancel_button.setEnabled(training)
        self.trained_buttons.setVisible(state == "done")
        own = self.trained_levels or self.trained_grades  # a level or grading model
        levels = own is not None
        usable = own is not None and own.info.manifest.usability.usable
        self.use_button.setEnabled(not levels or usable)
        kind = "grading" if self.trained_grades is not None else "level"
        if not levels:
            tooltip = "Make this model the viewer's slice classifier"
        elif usable and self.trained_grades is not None:
            tooltip = (
                "Make this model the viewer's grading model (it grades the findings of every "
                "study whose disc levels are found; it is never a slice classifier)"
            )
        elif usable:
            tooltip = (
                "Make this model the viewer's level model (it finds the disc levels of every "
                "study opened; it is never a slice classifier)"
            )
        else:
            tooltip = f"This {kind} model is not usable (see its quality gate): not offered"
        self.use_button.setToolTip(tooltip)
        self.open_report_button.setText("Open model folder" if levels else "Open report folder")
        self.show_curves_button.setVisible(not levels)
        self.progress.setVisible(state != "idle" or self.progress.value() > 0)
        self.status_label.setStyleSheet("")
        self._update_enabled()

    # --- after training ---------------------------------------------------------------------

    def _use_model(self) -> None:
        folder = self.trained_folder()
        if folder is not None:
            self.use_model.emit(folder)

    def model_use_answered(self, folder: Path, used: bool) -> None:
        """The viewer's answer to `use_model`: put to use, or declined (the user said no to a
        model the quality gate marks not usable)."""
        if used:
            self._log(f"{folder.name} is now the viewer's model")
        else:
            self._log(f"{folder.name} was not put to use; the viewer keeps its model")

    def _open_report(self) -> None:
        if self.trained is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.trained.model_folder / "report")))
        elif (folder := self.trained_folder()) is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))

    def trained_folder(self) -> Path | None:
        """The folder of the model the last run saved (any task), None without one."""
        if self.trained is not None:
            return self.trained.model_folder
        own = self.trained_levels or self.trained_grades
        return own.info.path if own is not None else None

    def discard_model(self) -> None:
        folder = self.trained_folder()
        if folder is None:
            return
        if not self.confirm("Discard the model?", f"Delete {folder} and its report?"):
            return
        try:
            delete_model(folder)
        except Exception as error:  # a message, never a traceback
            self._log(f"Could not delete {folder}: {error}")
            return
        self._log(f"Deleted {folder}")
        self.trained = self.trained_levels = self.trained_grades = None
        self._set_state("idle")
        self.refresh_start_models()
        self.models_changed.emit()

    # --- closing ----------------------------------------------------------------------------

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self.is_training:
            self.refresh_start_models()  # models saved, imported or deleted meanwhile

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
        warnings = plan.warnings
        if warnings:
            lines.append(
                f"<span style='{_WARNING_STYLE}'>⚠ training is possible, but "
                + "; ".join(html.escape(warning) for warning in warnings)
                + "</span>"
            )
        else:
            lines.append("<span style='color: #2e7d32;'>✔ ready to train</span>")
    return "<br>".join(lines)


def recipe_values(recipe: str) -> dict[str, Any]:
    """A recipe's TrainConfig values: the field defaults, with RECIPES[recipe] over them."""
    defaults = {
        field.name: field.default
        for field in dataclasses.fields(TrainConfig)
        if field.default is not dataclasses.MISSING
    }
    return {**defaults, **RECIPES[recipe]}


def cancel_message(last: TrainProgress | None) -> str:
    """How far a cancelled run got, from the last progress it reported, as the end of a
    sentence starting "Training ": never an epoch line for an epoch cut short."""
    if last is None:
        where = "before it started"
    elif last.stage == TrainingStage.READING:
        where = f"while reading the slices ({last.done} of {last.total})"
    elif last.stage == TrainingStage.TRAINING and last.done < last.total:
        where = f"during epoch {last.epoch} of {last.epochs} (batch {last.done} of {last.total})"
    elif last.stage in (TrainingStage.TRAINING, TrainingStage.EPOCH):
        where = f"after epoch {last.epoch} of {last.epochs}"
    else:
        where = f"while {last.message or last.stage.value}"
    return f"cancelled {where}; nothing was saved"


def level_cancel_message(last: str | None) -> str:
    """A cancelled level run's end of the sentence "Training ", from its last progress line."""
    where = "before it started" if last is None else f"at “{last}”"
    return f"cancelled {where}; nothing was saved"


def level_check_summary(check: LevelDatasetCheck) -> str:
    """What a folder holds for a disc level model and whether it can train, as rich text."""
    lines = []
    if check.studies:
        lines.append(
            f"<b>RSNA layout</b>: {check.studies} studies, {check.marked_studies} with "
            f"spinal-canal level marks on {check.marked_series} sagittal T2/STIR series"
        )
        lines.append(
            "Marked: "
            + " · ".join(f"{html.escape(level)} {n}" for level, n in check.level_counts.items())
        )
    if check.problems:
        lines.append(f"{len(check.problems)} problems in the dataset (listed below)")
    return "<br>".join(lines + readiness_lines(check.errors, check.warnings))


def readiness_lines(errors: list[str], warnings: list[str]) -> list[str]:
    """A dataset check's verdict as rich-text lines: each error, else the warnings or ready."""
    if errors:
        return [f"<span style='{_ERROR_STYLE}'>✖ {html.escape(error)}</span>" for error in errors]
    if warnings:
        return [
            f"<span style='{_WARNING_STYLE}'>⚠ training is possible, but "
            + "; ".join(html.escape(warning) for warning in warnings)
            + "</span>"
        ]
    return ["<span style='color: #2e7d32;'>✔ ready to train</span>"]


def grade_check_summary(check: GradeDatasetCheck) -> str:
    """What a folder holds for a grading model and whether it can train, as rich text."""
    marks = check.marks
    lines = []
    if marks.studies:
        lines.append(
            f"<b>RSNA layout</b>: {marks.studies} studies, {marks.marked_studies} with "
            f"spinal-canal level marks, {check.graded_studies} of them with grades in train.csv"
        )
        lines.append(
            "Grades: "
            + " · ".join(f"{html.escape(name)} {n}" for name, n in check.grade_counts.items())
        )
    if marks.problems:
        lines.append(f"{len(marks.problems)} problems in the dataset (listed below)")
    return "<br>".join(lines + readiness_lines(check.errors, check.warnings))


def _epoch_cut_short(last: TrainProgress | None, epoch_end: TrainProgress) -> bool:
    """Whether an epoch's end came before its last batch (a cancel stops Keras mid-epoch)."""
    return (
        last is not None
        and last.stage == TrainingStage.TRAINING
        and last.epoch == epoch_end.epoch
        and last.done < last.total
    )


def _describe_augmentation(values: dict[str, float]) -> str:
    parts = []
    for key, value in values.items():
        if key == "flip":
            parts.append("horizontal flips" if value else "no flips")
        elif value:
            parts.append(f"{key} {value:g}{'°' if key == 'rotation' else ''}")
    return ", ".join(parts)


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

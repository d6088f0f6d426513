"""The main window: open, browse, view (1×1 or 1×2 with cross-reference), tags, problems."""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
)
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QMainWindow,
)

from spineview import paths
from spineview.config import Config, save_config
from spineview.core.heatmap import HeatmapMethod
from spineview.core.level_display import no_levels_text
from spineview.dicom.index import SeriesInfo
from spineview.errors import error_text
from spineview.models.catalogue import read_manifest
from spineview.models.grade_result import StudyGrades
from spineview.models.level_result import StudyLevels
from spineview.session import Session
from spineview.ui.classification import ClassificationController, ViewerHooks
from spineview.ui.export_location import default_export_folder
from spineview.ui.findings_grid import FindingsController, FindingsHooks
from spineview.ui.grades_controller import GradesController
from spineview.ui.levels_controller import LevelsController
from spineview.ui.measurements_controller import MeasureHooks, MeasurementsController
from spineview.ui.problems_panel import ProblemItem
from spineview.ui.recent_folders import RecentFolders
from spineview.ui.series_loader import LoadHooks, SeriesLoader
from spineview.ui.shortcuts_dialog import ShortcutsDialog
from spineview.ui.slice_view import SliceView
from spineview.ui.study_scanner import ScanHooks, StudyScanner
from spineview.ui.training_dialog import TrainingDialog
from spineview.ui.viewport import Viewport, ViewportPair
from spineview.ui.window_menus import build_menus, build_model_bar
from spineview.ui.window_parts import StatusLine, WindowDocks
from spineview.workers import (
    DemoStudyJob,
    JobRunner,
    prepare_tensorflow_import,
)

logger = logging.getLogger(__name__)


class MainWindow(QMainWindow):
    def __init__(self, config: Config | None = None) -> None:
        super().__init__()
        self.config = config or Config()
        if self.config.load_model_at_start:
            prepare_tensorflow_import()  # TensorFlow follows: see the docstring
        self.setWindowTitle("spineview")
        self.setAcceptDrops(True)
        self.resize(1400, 900)
        self.runner = JobRunner(self)
        self.settings = QSettings(
            str(paths.user_config_dir() / "window.ini"), QSettings.Format.IniFormat, self
        )
        self.session = Session()
        self.recent = RecentFolders(
            self.settings,
            self.config.max_recent_folders,
            lambda folder: self.open_paths([folder]),
            self,
        )
        self.actions_by_name: dict[str, QAction] = {}
        self._temporary_folders: list[Path] = []
        self.training_dialog: TrainingDialog | None = None
        self.level_labels_visible = True

        self._build_status_bar()
        self._build_viewports()
        self._build_docks()
        self.model_picker, self.classify_button = build_model_bar(self)
        self.scanner = StudyScanner(
            self.runner,
            self.session,
            self.browser,
            self.problems,
            self.docks["problems"].show,
            ScanHooks(
                active=lambda: self.active,
                busy=self.status.set_busy,
                progress=self.status.show_progress,
                status=self.status_label.setText,
                failed=lambda error: self.show_error("", error, reveal=True),
                found=self._show_initial_series,
                found_nothing=self._show_nothing_found,
                showing=lambda: {view.series_key for view in self.pair.views},
            ),
            self,
        )
        self.loader = SeriesLoader(
            self.runner,
            self.session,
            self.problems,
            LoadHooks(
                shown=self._series_shown,
                slice_arrived=self._slice_arrived,
                complete=self._series_complete,
                failed=lambda error: self.show_error("", error, reveal=True, kind="series"),
                thumbnail=self.browser.set_thumbnail,
            ),
            self,
        )
        self.classification = ClassificationController(
            self,
            self.runner,
            self.config,
            self.model_picker,
            self.results,
            self.model_indicator,
            ViewerHooks(
                active_view=lambda: self.active.view,
                views=lambda: self.pair.views,
                is_loading=self.loader.is_loading,
                status=self.status_label.setText,
                show_error=self.show_error,
                # built below, after the controller: looked up when called
                series_results=lambda results: self.browser.set_results(results),  # noqa: PLW0108
            ),
        )
        self.level_finder = LevelsController(
            self.runner, self.show_levels, lambda: self.config.level_model, self
        )
        self.grader = GradesController(
            self.runner, self.show_grades, lambda: self.config.grade_model, self
        )
        self.measurements = MeasurementsController(
            self.session.measurements,
            self.panels.measurements,
            MeasureHooks(
                active_view=lambda: self.active.view,
                views=lambda: self.pair.views,
                status=self.status_label.setText,
                show_dock=self.docks["measurements"].show,
            ),
            self,
        )
        self.findings = FindingsController(
            self.session,
            self.panels.findings,
            FindingsHooks(
                viewports=lambda: [v for v in self.viewports if not v.isHidden()],
                active=lambda: self.active,
                load=self.loader.show,
                summary=self.results.set_findings,
                show_dock=self.docks["findings"].show,
                status=self.status_label.setText,
            ),
            self,
        )
        build_menus(self)
        self.set_layout(self.config.default_layout)
        self._set_active(self.viewports[0])
        self._restore_geometry()
        # TensorFlow loads once the window is on screen (an event-loop turn later).
        QTimer.singleShot(0, self.classification.start)

    # --- construction --------------------------------------------------------------------

    def _build_viewports(self) -> None:
        self.pair = ViewportPair(self)
        self.viewports = self.pair.viewports
        for view in self.pair.views:
            view.cine_frames_per_second = self.config.cine_frames_per_second
            view.cursor_text_changed.connect(self.status.show_cursor)
            view.set_patient_data_visible(not self.config.hide_patient_data)
        self.pair.active_changed.connect(self._active_changed)
        self.pair.slice_changed.connect(self._view_slice_changed)
        self.pair.window_changed.connect(self._view_window_changed)
        self.setCentralWidget(self.pair)

    @property
    def active(self) -> Viewport:
        return self.pair.active

    def _build_docks(self) -> None:
        self.panels = WindowDocks(self)
        self.browser, self.tags = self.panels.browser, self.panels.tags
        self.problems, self.results = self.panels.problems, self.panels.results
        self.histogram, self.docks = self.panels.histogram, self.panels.docks
        self.browser.series_selected.connect(self.show_series)
        self.histogram.item.sigLevelsChanged.connect(self._histogram_levels_changed)

    def _build_status_bar(self) -> None:
        self.status = StatusLine(self.statusBar())
        self.status_label, self.cancel_button = self.status.label, self.status.cancel_button
        self.model_indicator = self.status.model_indicator
        self.cancel_button.clicked.connect(self.cancel_loading)

    # --- opening -------------------------------------------------------------------------

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a DICOM folder", self.recent.last())
        if folder:
            self.open_paths([Path(folder)])

    def choose_files(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, "Open DICOM files", self.recent.last())
        if files:
            self.open_paths([Path(f) for f in files])

    def open_paths(self, paths_to_open: Sequence[Path]) -> None:
        """Scan files/folders in the background; the first image shows as soon as it decodes."""
        self.cancel_loading()
        self.session.clear()
        self.findings.clear()
        self.classification.forget_series()
        self.browser.set_studies([])
        self.problems.clear()
        self.tags.clear()
        for viewport in self.viewports:
            viewport.view.set_series(None)
            viewport.view.series_key = ""
            viewport.sync_slider()
        folders = [p if p.is_dir() else p.parent for p in paths_to_open]
        if folders:
            self.recent.remember(folders[0])
        shown = ", ".join(p.name or str(p) for p in paths_to_open)
        self.setWindowTitle(f"spineview — {shown}")
        self.measurements.study_opened(folders)
        self.scanner.scan(paths_to_open, shown)

    def open_demo(self) -> None:
        """Generate a synthetic lumbar study in a temporary folder, then open it."""
        folder = Path(tempfile.mkdtemp(prefix="spineview-demo-")) / "study"
        self._temporary_folders.append(folder.parent)
        job = DemoStudyJob(folder)
        job.signals.finished.connect(self._demo_ready)
        job.signals.failed.connect(self._open_failed)
        self.status.set_busy(True, "Generating a synthetic lumbar study…")
        self.runner.start(job)

    def _demo_ready(self, images: Path) -> None:
        self.status.set_busy(False)
        self.set_layout("1x2")
        self.open_paths([images])

    def cancel_loading(self) -> None:
        self.classification.cancel()
        self.level_finder.cancel()
        self.grader.cancel()
        self.scanner.cancel()
        self.loader.cancel()

    def _show_initial_series(self, all_series: list[SeriesInfo]) -> None:
        """First series in the active view; in 1×2 a sagittal on the left, an axial on the right."""
        if self.viewports[1].isVisible():
            sagittal = next((s for s in all_series if s.plane == "sagittal"), all_series[0])
            axial = next((s for s in all_series if s.plane == "axial"), None)
            self._set_active(self.viewports[0])
            self.show_series(sagittal.key)
            if axial is not None:
                self._set_active(self.viewports[1])
                self.show_series(axial.key)
                self._set_active(self.viewports[0])
        else:
            self.show_series(all_series[0].key)
        self.browser.blockSignals(True)
        self.browser.select(self.active.view.series_key)
        self.browser.blockSignals(False)
        if self.session.scan_result is not None and self.config.find_levels_on_open:
            self.level_finder.find(self.session.scan_result.studies)

    def _show_nothing_found(self, message: str) -> None:
        for viewport in self.viewports:
            viewport.view.set_series(None)
            viewport.view.show_message(message)
            viewport.sync_slider()

    def _open_failed(self, error: BaseException) -> None:
        self.status.set_busy(False)
        self.show_error("", error, reveal=True)

    def show_error(
        self, what: str, error: BaseException, *, reveal: bool = False, kind: str = "error"
    ) -> None:
        """Every failure the window reports goes through here: in words
        (`errors.error_text`, after `what` failed) on the status bar and listed in the Problems
        dock as `kind` (the dock is shown with `reveal`)."""
        message = error_text(error)
        text = f"{what}: {message}" if what else message
        self.status_label.setText(text)
        self.problems.add_problems([ProblemItem("", text, kind)])
        if reveal:
            self.docks["problems"].show()

    # --- series --------------------------------------------------------------------------

    def show_series(self, key: str) -> None:
        """Show a series in the active viewport (from the cache, or load it in the background)."""
        self.loader.show(self.active, key)

    def _series_shown(self, viewport: Viewport, complete: bool) -> None:
        viewport.sync_slider()
        self._show_view_levels(viewport.view)
        self.findings.refresh()
        self._update_tags()
        self.pair.update_cross_reference()
        self._update_histogram()
        self.classification.series_shown()
        if complete:  # from the cache
            self.classification.series_loaded(viewport.view)
            self.findings.series_arrived(viewport)

    def _slice_arrived(self, viewport: Viewport, index: int, done: int) -> None:
        if done == 1:
            self.findings.series_arrived(viewport)
        if done == 1 or viewport.view.index == index:
            self._update_tags()
            self.pair.update_cross_reference()

    def _series_complete(self, viewport: Viewport) -> None:
        self._update_tags()
        self.classification.series_loaded(viewport.view)

    # --- disc levels ---------------------------------------------------------------------

    def show_levels(self, result: StudyLevels) -> None:
        """A study's disc levels, or the reason there are none: the series list names its
        axial series by level and sorts them head to feet, every view of the study shows
        them; without levels the status line and the study's row in the list say why. A
        result for a study no longer open is dropped."""
        if not self.session.set_study_levels(result):
            logger.info("disc levels for a study that is no longer open: dropped")
            return
        found = result.levels is not None
        self.browser.set_levels(
            result.study_uid,
            self.session.series_levels(result.study_uid),
            result.source_series,
            result.reason,
            found,
        )
        for view in self.pair.views:
            self._show_view_levels(view)
        if not found:
            self.status_label.setText(no_levels_text(result.reason))
        study = self.session.study(result.study_uid)
        if study is not None and self.config.grade_on_levels:
            self.grader.grade(result, study)

    # --- graded findings -----------------------------------------------------------------

    def show_grades(self, result: StudyGrades) -> None:
        """A study's graded findings, or the reason there are none: the Findings dock shows
        them as a grid (clicking a cell shows the finding on the views), the sagittal level
        labels the worst grade per level, the Results dock a summary line. A result for a
        study no longer open is dropped."""
        if not self.findings.show(result):
            logger.info("graded findings for a study that is no longer open: dropped")

    def set_level_labels_visible(self, visible: bool) -> None:
        """L: show or hide the disc level labels and the nearest-level line of every view."""
        self.level_labels_visible = visible
        for view in self.pair.views:
            view.set_levels_visible(visible)
        action = self.actions_by_name["level_labels"]
        if action.isChecked() != visible:
            action.setChecked(visible)

    def _show_view_levels(self, view: SliceView) -> None:
        found = self.session.levels_of(view.series_key)
        view.set_levels_visible(self.level_labels_visible)
        view.set_levels(None if found is None else found.levels)

    # --- viewports -----------------------------------------------------------------------

    def set_layout(self, name: str) -> None:
        self.pair.set_layout(name)

    def next_viewport(self) -> None:
        self.pair.next_viewport()

    def _set_active(self, viewport: Viewport) -> None:
        self.pair.set_active(viewport)

    def _active_changed(self, viewport: Viewport) -> None:
        key = viewport.view.series_key
        if key:
            self.browser.blockSignals(True)
            self.browser.select(key)
            self.browser.blockSignals(False)
        self._update_tags()
        self._update_histogram()
        self.classification.series_shown()
        self.measurements.refresh_panel()
        self.findings.refresh()

    def _view_slice_changed(self, view: SliceView) -> None:
        if view is self.active.view:
            self._update_tags()
            self._update_histogram()
        self.classification.slice_changed(view)

    def _view_window_changed(self, view: SliceView) -> None:
        if view is self.active.view:
            self.histogram.show_levels(view)

    def _update_tags(self) -> None:
        view = self.active.view
        decoded = bool(view.loaded.any() and view.loaded[view.index])
        self.tags.show_slice(view.series, view.index, decoded)

    def _update_histogram(self) -> None:
        self.histogram.show_view(self.active.view)

    def _histogram_levels_changed(self) -> None:
        self.active.view.set_levels_from_histogram(*self.histogram.levels())

    # --- patient data, export, help ------------------------------------------------------

    def set_patient_data_visible(self, visible: bool) -> None:
        for viewport in self.viewports:
            viewport.view.set_patient_data_visible(visible)
        action = self.actions_by_name["patient_data"]
        if action.isChecked() != visible:
            action.setChecked(visible)

    def export_view(self) -> None:
        view = self.active.view
        if view.series is None:
            self.status_label.setText("Nothing to export: open a series first")
            return
        name = f"spineview-series{view.series.series_number or ''}-slice{view.index + 1}.png"
        target, _ = QFileDialog.getSaveFileName(
            self, "Export view as PNG", str(self.export_folder() / name), "PNG (*.png)"
        )
        if target:
            self.export_view_to(Path(target))
            self.config.export_folder = str(Path(target).parent)

    def export_folder(self) -> Path:
        """Where the export dialog starts: never a folder opened as a study (see
        `default_export_folder`)."""
        return default_export_folder(self.config.export_folder, self.recent.folders())

    def export_view_to(self, path: Path) -> None:
        try:
            self.active.view.export_png(
                path, hide_patient_data=self.config.export_hides_patient_data
            )
        except OSError as error:
            self.status_label.setText(f"Export failed: {error}")
            return
        hidden = " (patient data hidden)" if self.config.export_hides_patient_data else ""
        self.status_label.setText(f"Saved {path}{hidden}")

    def show_shortcuts(self) -> None:
        _show_modal(ShortcutsDialog(self))

    # --- classification ------------------------------------------------------------------

    def classify_active(self) -> None:
        self.docks["results"].show()
        self.classification.classify_active()

    def set_classify_on_open(self, enabled: bool) -> None:
        self.config.classify_on_open = enabled
        if enabled:
            self.classification.series_loaded(self.active.view)

    def choose_heatmap_method(self, method: HeatmapMethod) -> None:
        self.classification.set_heatmap_method(method)

    def show_training(self) -> TrainingDialog:
        """Tools → Train model…: one non-modal dialog, kept while the window lives."""
        if self.training_dialog is None:
            dialog = TrainingDialog(self.runner, self)
            dialog.models_changed.connect(self.model_picker.refresh)
            dialog.use_model.connect(self._use_trained_model)
            self.training_dialog = dialog
        self.training_dialog.show()
        self.training_dialog.raise_()
        return self.training_dialog

    def _use_trained_model(self, folder: Path) -> None:
        task = read_manifest(folder).task
        if task == "levels":
            self._use_level_model(folder)
            return
        if task == "grades":  # the dialog offers only usable ones
            self.config.grade_model = str(folder)
            self.status_label.setText(f"Findings are now graded with {folder.name}")
            if self.training_dialog is not None:
                self.training_dialog.model_use_answered(folder, True)
            return
        self.model_picker.refresh()
        used = self.model_picker.select_model(folder)  # asks first for a model not usable
        if used:
            self.classification.load_selected_model()
        if self.training_dialog is not None:
            self.training_dialog.model_use_answered(folder, used)

    def _use_level_model(self, folder: Path) -> None:
        """Find disc levels with the level model `folder` from now on (the dialog offers only
        usable ones), the open studies' levels again at once."""
        self.config.level_model = str(folder)
        if self.session.scan_result is not None and self.config.find_levels_on_open:
            self.level_finder.find(self.session.scan_result.studies)
        self.status_label.setText(f"Disc levels are now found with {folder.name}")
        if self.training_dialog is not None:
            self.training_dialog.model_use_answered(folder, True)

    # --- recent folders and window state -------------------------------------------------

    def _restore_geometry(self) -> None:
        geometry = self.settings.value("geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        state = self.settings.value("state")
        if state is not None:
            self.restoreState(state)

    def closeEvent(self, event: QCloseEvent) -> None:
        dialog = self.training_dialog
        if dialog is not None and dialog.is_training:
            if not dialog.confirm(
                "Stop training?", "A model is training. Stop it and quit? Nothing is saved."
            ):
                event.ignore()
                return
            dialog.cancel_training()  # runner.stop below lets the batch in progress finish
        try:
            save_config(self.config)
        except OSError as error:
            logger.warning("preferences not saved: %s", error)
        self.settings.setValue("geometry", self.saveGeometry())
        self.settings.setValue("state", self.saveState())
        self.settings.sync()
        if not self.runner.stop(10_000):
            logger.warning("background jobs still running at close")
        for folder in self._temporary_folders:
            shutil.rmtree(folder, ignore_errors=True)
        super().closeEvent(event)

    # --- drag and drop -------------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if any(url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        dropped = [Path(url.toLocalFile()) for url in event.mimeData().urls() if url.isLocalFile()]
        if dropped:
            event.acceptProposedAction()
            QTimer.singleShot(0, lambda: self.open_paths(dropped))

    # --- status --------------------------------------------------------------------------

    def is_busy(self) -> bool:
        return self.scanner.busy or self.loader.busy


def _show_modal(dialog: QDialog) -> None:
    """Run a modal dialog, then delete it (a dialog parented to the window would otherwise
    stay alive, hidden, for as long as the window)."""
    try:
        dialog.exec()
    finally:
        dialog.deleteLater()

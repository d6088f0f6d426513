"""The viewer's classification: model loading, classify, results and Grad-CAM overlays.

The main window owns the widgets (model picker, results panel, status indicator); this
controller owns the state behind them: which model is loaded, the results per (series, model),
and a small cache of heatmaps. All TensorFlow work runs in jobs on the runner's single-thread
inference pool, so the window never waits for the network.

A model is identified by its folder and its weights' checksum, so a model retrained in place is
never confused with the one it replaced; results are dropped whenever another folder is opened
(a series UID can come back with other pixels). Results of a model the quality gate marks not
usable carry that warning: a second caption line on the image, a red line in the Results panel
and "NOT USABLE" in the model indicator.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
from PySide6.QtCore import QObject
from PySide6.QtWidgets import QLabel, QMessageBox, QWidget

from spineview.config import Config
from spineview.core.heatmap import HeatmapMethod
from spineview.core.text import format_probability
from spineview.errors import error_text
from spineview.models.catalogue import ModelInfo
from spineview.models.series_check import header_findings, series_label
from spineview.models.series_decision import HeaderFinding
from spineview.ui.binding import bind_slot
from spineview.ui.garbage_collection import collect_everything
from spineview.ui.model_picker import ModelPicker
from spineview.ui.results_panel import ResultsPanel
from spineview.ui.slice_view import SliceClassification, SliceView
from spineview.workers import (
    ClassifyJob,
    HeatmapJob,
    HeatmapRequest,
    HeatmapResult,
    JobRunner,
    LoadedModel,
    ModelIdentity,
    ModelLoadJob,
    SeriesClassification,
)

logger = logging.getLogger(__name__)

HEATMAP_CACHE_SIZE = 256
HEALTHY_NOT_MAPPED = "no map: decided healthy (tick Healthy map to see its evidence)"
"""The caption's heatmap line on a slice decided healthy while healthy-class maps are off."""
NOT_USABLE_CAPTION = "\u26a0 model NOT USABLE"
"""The caption's second line under every slice classified by a model that is not usable (short:
it must fit a narrow viewport; the Results panel gives the reason)."""


DECISION_CAPTIONS = {
    "flagged": "\u26a0 flagged: see Results",
    "declined (shown on request)": "\u26a0 declined, shown on request",
}
"""The caption's line under a verdict the decision doubts (the Results dock says why)."""


@dataclass(frozen=True)
class FlaggedSliceClassification(SliceClassification):
    """A caption with a warning line under it (for a model the quality gate rejects)."""

    warning: str = NOT_USABLE_CAPTION

    def caption(self, index: int) -> str:
        text = super().caption(index)
        return f"{text}\n{self.warning}" if text and self.warning else text


def series_list_text(result: SeriesClassification) -> tuple[str, str]:
    """A classified series in the series list: ("healthy 12 %", "⚠ degenerative 71 %" when
    flagged or forced, "declined"...) and a tooltip with the model, the decision and its
    reasons."""
    decision = result.decision
    verdict = result.verdict
    if not decision.shows_verdict:
        text = "declined"
    elif verdict.slices == 0:
        text = "no result"
    else:
        text = f"{result.class_names[int(verdict.positive)]} {format_probability(verdict.score)}"
        if decision.status != "accepted":
            text = f"\u26a0 {text}"
    tooltip = "\n".join([f"{result.model_name}: {decision.label}", *decision.reasons])
    return text, tooltip


@dataclass(frozen=True)
class ViewerHooks:
    """What the controller needs from the main window, as callables."""

    active_view: Callable[[], SliceView]
    views: Callable[[], list[SliceView]]
    is_loading: Callable[[SliceView], bool]
    """True while the view's series is still being decoded."""
    status: Callable[[str], None]
    """A line for the status bar."""
    show_error: Callable[[str, BaseException], None] = lambda what, error: None
    """Report a failure (what failed, the error) where the window lists failures."""
    series_results: Callable[[dict[str, tuple[str, str]]], None] = lambda results: None
    """The series list's Result column: (text, tooltip) per series key."""


def model_identity(info: ModelInfo) -> ModelIdentity:
    return (info.path, info.manifest.weights_sha256)


class ClassificationController(QObject):
    def __init__(
        self,
        window: QWidget,
        runner: JobRunner,
        config: Config,
        picker: ModelPicker,
        panel: ResultsPanel,
        indicator: QLabel,
        hooks: ViewerHooks,
    ) -> None:
        super().__init__(window)
        self.window = window
        self.runner = runner
        self.config = config
        self.picker = picker
        self.panel = panel
        self.indicator = indicator
        self.hooks = hooks
        self.model: LoadedModel | None = None
        self.results: dict[tuple[str, ModelIdentity], SeriesClassification] = {}
        self.error_dialog: QMessageBox | None = None
        self.warning_dialog: QMessageBox | None = None
        self._wanted: ModelIdentity | None = None
        self._model_jobs: dict[ModelLoadJob, ModelIdentity] = {}
        self._classify_jobs: dict[SliceView, ClassifyJob] = {}
        self._pending: dict[SliceView, bool] = {}
        """Views to classify once the model is ready, with whether the user may be asked."""
        self._notes: dict[SliceView, tuple[str, bool]] = {}
        """A message per view (not classified automatically, cancelled, failed) and whether it
        is an error; the panel shows the active view's."""
        self._heatmaps: OrderedDict[HeatmapRequest, tuple[np.ndarray, str]] = OrderedDict()
        self._heat_job: HeatmapJob | None = None
        self._heatmap_broken: set[tuple[ModelIdentity, str]] = set()

        picker.refresh()  # listing reads manifests only: no TensorFlow yet
        if config.model:
            # The model chosen in an earlier session: not asked again (the picker shows the
            # warning of a model that is not usable, and so does every result).
            picker.select_model(config.model, ask=False)
        picker.model_changed.connect(self._model_chosen)
        panel.slice_requested.connect(lambda index: self.hooks.active_view().set_slice(index))
        panel.overlay_toggled.connect(self.set_heatmap_enabled)
        panel.cancel_requested.connect(self.cancel_active)
        panel.force_requested.connect(self.force_active)
        panel.method_changed.connect(self.set_heatmap_method)
        panel.healthy_maps_toggled.connect(self.set_healthy_maps)
        panel.set_healthy_maps(config.heatmap_healthy_class)
        panel.opacity_changed.connect(self._opacity_changed)
        panel.set_method(config.heatmap_method)
        panel.set_opacity(config.heatmap_opacity)
        for view in hooks.views():
            view.set_heatmap_opacity(config.heatmap_opacity)
        self._set_indicator("Model: not loaded")

    # --- the model ----------------------------------------------------------------------

    def start(self) -> None:
        """Load the chosen model now when the config says so (TensorFlow loads with it)."""
        if self.config.load_model_at_start:
            self.load_selected_model()

    def load_selected_model(self) -> None:
        info = self.picker.current_model()
        if info is None:
            self._set_indicator("Model: none available")
            return
        self._load(info)

    @property
    def model_ready(self) -> bool:
        return self.model is not None and self.model.identity == self._wanted

    @property
    def busy(self) -> bool:
        return bool(self._model_jobs) or bool(self._classify_jobs)

    def _model_chosen(self, info: ModelInfo | None) -> None:
        if info is None:
            return
        # Bundled models by name (they move with the install), the user's by folder.
        self.config.model = info.manifest.name if info.bundled else str(info.path)
        if self.model is not None or self._model_jobs or self.config.load_model_at_start:
            self._load(info)

    def _load(self, info: ModelInfo) -> None:
        identity = model_identity(info)
        if self._wanted == identity and (self.model_ready or identity in self._model_jobs.values()):
            return
        self._wanted = identity
        self._set_indicator(f"Model: loading {info.manifest.name}…")
        job = ModelLoadJob(info.path)
        job.signals.finished.connect(bind_slot(self._model_loaded, job))
        job.signals.failed.connect(bind_slot(self._model_failed, job))
        self._model_jobs[job] = identity
        self.runner.start(job)

    def _model_loaded(self, job: ModelLoadJob, loaded: LoadedModel) -> None:
        self._model_jobs.pop(job, None)
        if loaded.identity != self._wanted:
            return  # the user chose another model meanwhile (or it changed on disk)
        replaced, self.model = self.model, loaded
        if replaced is not None:
            del replaced
            collect_everything()  # the old network may sit among frozen objects
        classifier = loaded.classifier
        precision = "bfloat16" if "bfloat16" in classifier.precision else "float32"
        demo = " — demo, synthetic data, not for clinical use" if classifier.manifest.demo else ""
        usability = classifier.manifest.usability
        flag = "" if usability.usable else " — NOT USABLE"
        self._set_indicator(f"Model: {classifier.name} ready ({precision}){flag}{demo}")
        if not usability.usable:
            self.indicator.setToolTip(f"{self.indicator.text()}\n{usability.warning}")
        logger.info("model %s loaded in %.1f s", classifier.name, loaded.seconds)
        self.series_shown()
        pending, self._pending = self._pending, {}
        for view, ask in pending.items():
            self.classify(view, ask=ask)

    def _model_failed(self, job: ModelLoadJob, error: BaseException) -> None:
        identity = self._model_jobs.pop(job, None)
        message = error_text(error)
        if identity != self._wanted:
            logger.warning("a model the user no longer wants failed to load: %s", message)
            return
        self.hooks.show_error("The model could not be loaded", error)
        self._pending = {}
        self.model = None
        self._set_indicator("Model: failed to load")
        self._note(self.hooks.active_view(), "The model could not be loaded", error=True)
        self.error_dialog = QMessageBox(
            QMessageBox.Icon.Critical,
            "Model could not be loaded",
            message,
            QMessageBox.StandardButton.Close,
            self.window,
        )
        self.error_dialog.open()

    def _set_indicator(self, text: str) -> None:
        self.indicator.setText(text)
        self.indicator.setToolTip(text)

    # --- classifying --------------------------------------------------------------------

    def classify_active(self) -> None:
        self.classify(self.hooks.active_view(), ask=True)

    def classify(self, view: SliceView, *, ask: bool = True) -> None:
        """Classify the series `view` shows; series the model was not trained on only after
        the user confirms the warning (`ask`), or not at all when nobody can be asked."""
        series = view.series
        if series is None or view.loaded.size == 0:
            self._note(view, "Open a series first")
            return
        if self.hooks.is_loading(view):
            self._note(view, "The series is still loading; classify when it is complete")
            return
        if not self.model_ready:
            self._pending[view] = ask or self._pending.get(view, False)
            self._note(view, "Loading the model; the series is classified when it is ready")
            if not self._model_jobs:
                self.load_selected_model()
            return
        assert self.model is not None
        findings = header_findings(
            self.model.classifier.manifest,
            modality=series.modality,
            series_type=series.series_type,
            series_label=series_label(series.series_number, series.description),
            body_part=series.body_part,
        )
        warnings = [finding.text for finding in findings]
        if warnings and not ask:
            self._note(
                view,
                "Not classified automatically: " + " ".join(warnings) + " Press Classify to "
                "run it anyway.",
            )
            return
        if warnings:
            self._confirm(view, findings)
            return
        self._start(view, findings)

    def _confirm(self, view: SliceView, findings: list[HeaderFinding]) -> None:
        dialog = QMessageBox(
            QMessageBox.Icon.Warning,
            "Classify this series?",
            "\n\n".join(finding.text for finding in findings),
            QMessageBox.StandardButton.NoButton,
            self.window,
        )
        dialog.addButton("Classify anyway", QMessageBox.ButtonRole.AcceptRole)
        dialog.addButton(QMessageBox.StandardButton.Cancel)
        key = view.series_key
        dialog.accepted.connect(lambda: self._start(view, findings, expected_key=key))
        self.warning_dialog = dialog
        dialog.open()

    def _start(
        self, view: SliceView, findings: list[HeaderFinding], expected_key: str = ""
    ) -> None:
        if self.model is None or view.series is None:
            return
        if expected_key and view.series_key != expected_key:
            return  # the view shows another series since the question was asked
        previous = self._classify_jobs.pop(view, None)
        if previous is not None:
            previous.cancel()
        self._notes.pop(view, None)
        job = ClassifyJob(self.model.classifier, view.series, view.series_key, findings)
        job.signals.progress.connect(bind_slot(self._progress, job))
        job.signals.finished.connect(bind_slot(self._classified, job))
        job.signals.failed.connect(bind_slot(self._classify_failed, job))
        job.signals.cancelled.connect(bind_slot(self._classify_cancelled, job))
        self._classify_jobs[view] = job
        if view is self.hooks.active_view():
            self.panel.show_progress(0, view.series.n_slices)
        self.runner.start(job)

    def force_active(self) -> None:
        """The Results dock's "Show verdict anyway": the active view's declined series gets its
        verdict, marked as shown on request."""
        view = self.hooks.active_view()
        result = self.result_for(view)
        if result is None or result.decision.shows_verdict:
            return
        self.results[(result.series_key, result.model_identity)] = replace(
            result, decision=result.decision.forcing()
        )
        self.series_shown()

    def cancel_active(self) -> None:
        """The Results dock's Cancel: this view's classification, queued or running."""
        view = self.hooks.active_view()
        self._pending.pop(view, None)
        job = self._classify_jobs.get(view)
        if job is not None:
            job.cancel()

    def cancel(self) -> None:
        """Stop every classification, queued or running (the status bar's Cancel)."""
        self._pending = {}
        for job in self._classify_jobs.values():
            job.cancel()

    def _progress(self, job: ClassifyJob, done: int, total: int) -> None:
        if self._classify_jobs.get(self.hooks.active_view()) is job:
            self.panel.show_progress(done, total)

    def _job_ended(self, job: ClassifyJob) -> SliceView | None:
        """Forget the classify job `job`; its view (None when it was replaced)."""
        for view, running in list(self._classify_jobs.items()):
            if running is job:
                del self._classify_jobs[view]
                return view
        return None

    def _classified(self, job: ClassifyJob, result: SeriesClassification) -> None:
        self._job_ended(job)
        self.results[(result.series_key, result.model_identity)] = result
        self.series_shown()

    def _classify_failed(self, job: ClassifyJob, error: BaseException) -> None:
        view = self._job_ended(job)
        self.hooks.show_error("Classification failed", error)
        if view is not None:
            self._note(view, f"Classification failed: {error_text(error)}", error=True)

    def _classify_cancelled(self, job: ClassifyJob) -> None:
        view = self._job_ended(job)
        if view is not None:
            self._note(view, "Classification cancelled")

    def _note(self, view: SliceView, text: str, *, error: bool = False) -> None:
        self._notes[view] = (text, error)
        if view is self.hooks.active_view():
            self.panel.show_message(text, error=error)

    # --- showing results ----------------------------------------------------------------

    def forget_series(self) -> None:
        """Another folder is being opened: its series keys may repeat with other pixels."""
        self.cancel()
        self.results.clear()
        self._heatmaps.clear()
        self._notes.clear()
        for view in self.hooks.views():
            view.set_classification(None)
            view.clear_heatmap()
        self.panel.clear("No series")

    def result_for(self, view: SliceView) -> SeriesClassification | None:
        if self.model is None or view.series is None:
            return None
        result = self.results.get((view.series_key, self.model.identity))
        if result is None or len(result.predictions) != view.series.n_slices:
            return None
        return result

    def series_shown(self) -> None:
        """Refresh captions, the panel and the series list after a series, the active view or
        the model changed."""
        self.hooks.series_results(self._series_list_results())
        for view in self.hooks.views():
            view.set_classification(self._caption_data(self.result_for(view)))
            view.clear_heatmap()
        active = self.hooks.active_view()
        result = self.result_for(active)
        if active in self._classify_jobs:
            pass  # the panel shows the progress
        elif result is not None and self.model is not None:
            manifest = self.model.classifier.manifest
            self.panel.set_result(
                result.model_name,
                manifest.demo_notice,
                result.predictions,
                result.verdict,
                manifest.class_names[1],
                result.warnings,
                negative_class_name=manifest.class_names[0],
                usability_warning=manifest.usability.warning,
                decision=result.decision,
                agreement=result.agreement,
            )
            self.panel.set_current_slice(active.index)
        elif active in self._notes:
            text, error = self._notes[active]
            self.panel.show_message(text, error=error)
        else:
            self.panel.clear("Not classified" if active.series is not None else "No series")
        for view in self.hooks.views():
            self.request_heatmap(view)

    def _series_list_results(self) -> dict[str, tuple[str, str]]:
        """What the series list says about each series the current model classified."""
        if self.model is None:
            return {}
        shown = {}
        for (key, identity), result in self.results.items():
            if identity == self.model.identity:
                shown[key] = series_list_text(result)
        return shown

    def _caption_data(self, result: SeriesClassification | None) -> SliceClassification | None:
        if result is None or self.model is None:
            return None
        manifest = self.model.classifier.manifest
        names = (manifest.class_names[0], manifest.class_names[1])
        kind = SliceClassification if manifest.usability.usable else FlaggedSliceClassification
        decision = result.decision
        return kind(
            result.model_name,
            result.predictions.calibrated,
            result.predictions.threshold,
            names,
            manifest.demo,
            spreads=result.predictions.spread,
            withheld="" if decision.shows_verdict else "declined, no verdict",
            note=DECISION_CAPTIONS.get(decision.label, ""),
        )

    def series_loaded(self, view: SliceView) -> None:
        """A series finished decoding in `view`: classify it when the preference says so."""
        self._notes.pop(view, None)
        if self.config.classify_on_open and self.result_for(view) is None:
            self.classify(view, ask=False)

    def slice_changed(self, view: SliceView) -> None:
        if view is self.hooks.active_view():
            self.panel.set_current_slice(view.index)
        self.request_heatmap(view)

    # --- heatmaps -----------------------------------------------------------------------

    def set_heatmap_enabled(self, enabled: bool) -> None:
        self.panel.set_overlay_enabled(enabled)
        for view in self.hooks.views():
            view.set_heatmap_enabled(enabled)
            if enabled:
                self.request_heatmap(view)

    def set_healthy_maps(self, enabled: bool) -> None:
        self.config.heatmap_healthy_class = enabled
        for view in self.hooks.views():
            view.clear_heatmap()
            self.request_heatmap(view)

    def set_heatmap_method(self, method: HeatmapMethod | str) -> None:
        """Show and remember `method` (a HeatmapMethod or its id; ValueError for neither)."""
        self.panel.set_method(method)
        self.config.heatmap_method = HeatmapMethod(method)
        for view in self.hooks.views():
            view.clear_heatmap()
            self.request_heatmap(view)

    def _opacity_changed(self, opacity: float) -> None:
        self.config.heatmap_opacity = opacity
        for view in self.hooks.views():
            view.set_heatmap_opacity(opacity)

    def _heatmap_request(self, view: SliceView) -> HeatmapRequest | None:
        result = self.result_for(view)
        if not view.heatmap_enabled or result is None or self.model is None:
            return None
        values = view.current_values()
        if values is None or not np.isfinite(values).any():
            return None
        method = self.config.heatmap_method
        if (self.model.identity, method) in self._heatmap_broken:
            return None
        if not result.decision.shows_verdict:
            return None  # a declined series has no verdict to explain
        # Explain the class the caption shows (the classifier's decision for this slice); a
        # slice decided healthy only when the user asks for healthy-class maps.
        positive = bool(result.predictions.positive[view.index])
        if not positive and not self.config.heatmap_healthy_class:
            view.set_heatmap_absent(view.index, HEALTHY_NOT_MAPPED)
            return None
        target = "positive" if positive else "negative"
        return HeatmapRequest(view.series_key, self.model.identity, view.index, method, target)

    def request_heatmap(self, view: SliceView) -> None:
        """Show the heatmap of the view's slice: from the cache, or computed in the background
        (one job at a time; while scrolling only the slice shown when it ends is computed)."""
        request = self._heatmap_request(view)
        if request is None:
            return
        cached = self._heatmaps.get(request)
        if cached is not None:
            self._heatmaps.move_to_end(request)
            view.set_heatmap(request.index, *cached)
            return
        values = view.current_values()
        if self._heat_job is not None or self.model is None or values is None:
            return  # `_heatmap_ended` asks again for whatever is shown then
        job = HeatmapJob(self.model.explainer, values.copy(), request)
        job.signals.finished.connect(self._heatmap_ready)
        job.signals.failed.connect(self._heatmap_failed)
        job.signals.cancelled.connect(self._heatmap_ended)
        self._heat_job = job
        self.runner.start(job)

    def _heatmap_ready(self, result: HeatmapResult) -> None:
        heat = result.heatmap
        note = f"{heat.method.label}: {heat.class_name}"
        if heat.flat:
            note += " — no positive evidence on this slice (flat map)"
        self._heatmaps[result.request] = (heat.values, note)
        while len(self._heatmaps) > HEATMAP_CACHE_SIZE:
            self._heatmaps.popitem(last=False)
        self._heatmap_ended()

    def _heatmap_failed(self, error: BaseException) -> None:
        job = self._heat_job
        if job is not None:
            self._heatmap_broken.add((job.request.model_identity, job.request.method))
        self.hooks.show_error("Heatmap not available", error)
        self._heatmap_ended()

    def _heatmap_ended(self) -> None:
        self._heat_job = None
        for view in self.hooks.views():
            self.request_heatmap(view)

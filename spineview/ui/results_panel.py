"""The results panel: a series' verdict and its per-slice probability curve, under the viewports.

Left, a column of text: the verdict ("Series: DEGENERATIVE  score 0.87"), how many slices reach
the threshold and the current slice's probability, the aggregation rule, the model (with its demo
notice, and the quality gate's warning when the model is not usable) and guard-rail warnings; at
its foot the Grad-CAM overlay controls. Right, the calibrated
P(class) of every slice (x = slice number from 1, NaN slices left as gaps) with the threshold
(dashed), the run of neighbouring slices that gave the score (shaded) and the current slice (a
vertical line). Clicking the plot, or dragging the line, asks for a slice through
`slice_requested` (0-based); the main window moves the viewport and calls `set_current_slice`.

The panel computes nothing: the verdict comes from `models.verdict`, the probabilities from the
classifier, both through the worker that ran it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QSignalBlocker, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from spineview.core.heatmap import HeatmapMethod
from spineview.core.text import format_probability, format_spread
from spineview.ui.garbage_collection import adopt_scene_orphans
from spineview.ui.model_picker import is_dark, status_colours

if TYPE_CHECKING:
    from spineview.models.predictions import SlicePredictions
    from spineview.models.series_decision import SeriesDecision
    from spineview.models.verdict import SeriesVerdict

DEFAULT_OPACITY = 0.5
NOT_CLASSIFIED = "Not classified"
INFO_COLUMN_WIDTH = 380
PREFERRED_HEIGHT = 170
"""The Results dock's starting height: verdict, two lines, the controls and the curve; the
rest of the text scrolls (the viewports get the room)."""
CURVE_COLOUR = QColor("#4f8fd6")
Y_PADDING = 0.08
"""Room above 1 and below 0, so the end tick labels and points on 0 or 1 stay whole."""
_MAX_TICK_LABELS = 20


@dataclass(frozen=True)
class _Result:
    model_name: str
    demo_notice: str | None
    probabilities: np.ndarray
    verdict: SeriesVerdict
    class_name: str
    negative_class_name: str | None
    warnings: tuple[str, ...]
    usability_warning: str | None = None
    decision: SeriesDecision | None = None
    agreement: float = math.nan
    spreads: np.ndarray | None = None
    uncertainty_method: str = ""

    @property
    def withheld(self) -> bool:
        return self.decision is not None and not self.decision.shows_verdict


def verdict_text(verdict: SeriesVerdict, class_name: str, negative_class_name: str | None) -> str:
    """ "Series: DEGENERATIVE  score 87 %", "Series: healthy  score 12 %" or "not classified";
    the score never reads 100 % (`format_probability`)."""
    if verdict.slices == 0 or not math.isfinite(verdict.score):
        return "Series: not classified"
    score = format_probability(verdict.score)
    if verdict.positive:
        return f"Series: {class_name.upper()}  score {score}"
    negative = negative_class_name or f"not {class_name}"
    return f"Series: {negative}  score {score}"


DECLINED_TEXT = "Series: declined — no verdict"


def slice_ticks(count: int) -> list[list[tuple[float, str]]]:
    """Bottom-axis ticks for slices 1..count: labels at 1 and at multiples of a round step (at
    most about 20 labels), a minor tick at every slice while there are not too many."""
    if count <= 0:
        return [[], []]
    step = next(
        (s for s in (1, 2, 5, 10, 20, 50, 100, 200, 500) if count / s <= _MAX_TICK_LABELS), 1000
    )
    numbers = sorted({1, *range(step, count + 1, step)})
    major = [(float(n), str(n)) for n in numbers]
    minor = [(float(n), "") for n in range(1, count + 1)] if step > 1 and count <= 200 else []
    return [major, minor]


def nearest_slice(x: float, count: int) -> int:
    """The 0-based index of the slice nearest the plot position `x` (slice numbers from 1)."""
    if count <= 0:
        raise ValueError("no slices")
    if not math.isfinite(x):
        return 0
    return int(min(max(round(x) - 1, 0), count - 1))


class ResultsPanel(QWidget):
    """The classification of the shown series: verdict, per-slice curve, heatmap controls."""

    slice_requested = Signal(int)
    """0-based slice index the user clicked on the plot or dragged the slice line to."""
    overlay_toggled = Signal(bool)
    method_changed = Signal(str)
    """The id of a `core.heatmap.HeatmapMethod` ("hirescam", ...)."""
    opacity_changed = Signal(float)
    """Heatmap opacity from 0 to 1."""
    cancel_requested = Signal()
    """The Cancel button beside a running classification's progress."""
    healthy_maps_toggled = Signal(bool)
    """"Healthy map": map slices decided healthy too (their class's evidence)."""
    force_requested = Signal()
    """"Show verdict anyway" under a declined series."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._result: _Result | None = None
        self._current = 0
        self._count = 0
        self._built = False

        self._build_text_column()
        self._build_controls()
        self._build_plot()

        column = QVBoxLayout()
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(2)
        header = QHBoxLayout()
        header.setSpacing(8)
        header.addWidget(self.verdict_label, 1)
        header.addWidget(self.slice_label)
        header.addWidget(self.cancel_button)
        column.addLayout(header)
        column.addWidget(self.progress)
        column.addWidget(self._scrolling_details(), 1)  # the dock stays compact: text scrolls
        column.addLayout(self._controls)
        column.addWidget(self.healthy_check)  # its own row: the controls' row is full
        left = QWidget(self)
        left.setLayout(column)
        left.setFixedWidth(INFO_COLUMN_WIDTH)

        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(8)
        layout.addWidget(left)
        layout.addWidget(self.plot, 1)

        self._built = True
        self._apply_palette()
        self.clear()

    # --- building ------------------------------------------------------------------------

    def _build_text_column(self) -> None:
        self.verdict_label = self._text_label("resultsVerdict", wrap=False)
        font = QFont(self.font())
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.15)
        self.verdict_label.setFont(font)
        self.progress = QProgressBar(self)
        self.progress.setObjectName("resultsProgress")
        self.progress.setTextVisible(False)
        self.progress.setFixedHeight(6)
        self.progress.hide()
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setToolTip("Stop classifying this series")
        self.cancel_button.clicked.connect(self.cancel_requested)
        self.cancel_button.hide()
        self.slice_label = self._text_label("resultsSliceReading", wrap=False)
        self.slice_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.summary_label = self._text_label("resultsSummary")
        self.rule_label = self._text_label("resultsRule")
        small = QFont(self.font())
        small.setPointSizeF(small.pointSizeF() * 0.85)
        self.rule_label.setFont(small)
        self.model_label = self._text_label("resultsModel")
        self.demo_label = self._text_label("resultsDemoNotice")
        self.usability_label = self._text_label("resultsModelNotUsable")
        self.warnings_label = self._text_label("resultsWarnings")
        self.decision_label = self._text_label("resultsDecision")
        self.findings_label = self._text_label("resultsFindings")
        self.findings_label.hide()
        self.force_button = QPushButton("Show verdict anyway", self)
        self.force_button.setObjectName("resultsForce")
        self.force_button.setToolTip(
            "Show the model's answer for this declined series, marked as shown on request"
        )
        self.force_button.clicked.connect(self.force_requested)
        self.force_button.hide()

    def _scrolling_details(self) -> QScrollArea:
        """The lines under the verdict (summary, rule, model, warnings, decision, then the
        studies' graded findings) in a scroll area: they may need more height than the dock
        is given, the verdict line and the heatmap controls stay in view."""
        details = QWidget(self)
        lines = QVBoxLayout(details)
        lines.setContentsMargins(0, 0, 0, 0)
        lines.setSpacing(2)
        for widget in (self.summary_label, self.rule_label, self.model_label,
                       self.usability_label, self.demo_label, self.warnings_label,
                       self.decision_label, self.force_button,
                       self.findings_label):  # fmt: skip
            lines.addWidget(widget)
        lines.addStretch(1)
        scroll = QScrollArea(self)
        scroll.setObjectName("resultsDetails")
        scroll.setWidget(details)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumHeight(40)
        return scroll

    def _text_label(self, name: str, *, wrap: bool = True) -> QLabel:
        label = QLabel(self)
        label.setObjectName(name)
        label.setWordWrap(wrap)
        label.setTextFormat(Qt.TextFormat.PlainText)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        return label

    def _build_controls(self) -> None:
        self.overlay_check = QCheckBox("Heatmap", self)
        self.overlay_check.setObjectName("overlayCheck")
        self.overlay_check.setToolTip("Show where the model looked (class activation map)")
        self.method_combo = QComboBox(self)
        self.method_combo.setObjectName("overlayMethod")
        for choice in HeatmapMethod:
            self.method_combo.addItem(choice.label, choice.value)
        self.opacity_slider = QSlider(Qt.Orientation.Horizontal, self)
        self.opacity_slider.setObjectName("overlayOpacity")
        self.opacity_slider.setRange(0, 100)
        self.opacity_slider.setSingleStep(5)
        self.opacity_slider.setPageStep(10)
        self.opacity_slider.setValue(round(DEFAULT_OPACITY * 100))
        self.opacity_slider.setToolTip("Heatmap opacity")
        self.opacity_label = QLabel(self)
        self.opacity_label.setObjectName("overlayOpacityLabel")
        self.opacity_label.setMinimumWidth(self.fontMetrics().horizontalAdvance("100 %") + 4)
        self.opacity_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self._show_opacity(self.opacity_slider.value())

        self.healthy_check = QCheckBox("Healthy map", self)
        self.healthy_check.setObjectName("overlayHealthy")
        self.healthy_check.setToolTip(
            "Also show the map on slices decided healthy (what speaks for healthy); off: only "
            "slices decided degenerative are mapped"
        )
        self.healthy_check.toggled.connect(self.healthy_maps_toggled)
        self.overlay_check.toggled.connect(self.overlay_toggled)
        self.method_combo.currentIndexChanged.connect(self._method_index_changed)
        self.opacity_slider.valueChanged.connect(self._opacity_slider_moved)

        self._controls = QHBoxLayout()
        self._controls.setSpacing(6)
        self._controls.addWidget(self.overlay_check)
        self._controls.addWidget(self.method_combo)
        self._controls.addWidget(self.opacity_slider, 1)
        self._controls.addWidget(self.opacity_label)

    def _build_plot(self) -> None:
        self.plot = pg.PlotWidget(self)
        self.plot.setObjectName("resultsPlot")
        self.plot.setMinimumHeight(120)
        self.plot.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        item = self.plot.getPlotItem()
        item.hideButtons()
        item.setContentsMargins(0, 2, 10, 0)  # room for the last slice number
        item.setMenuEnabled(False)
        item.getViewBox().setMouseEnabled(x=False, y=False)
        item.showGrid(x=False, y=True, alpha=0.15)
        item.setLabel("bottom", "slice")
        item.setLabel("left", "P(positive)")
        item.getAxis("left").setTicks(
            [[(0.0, "0"), (0.5, "0.5"), (1.0, "1")], [(0.25, ""), (0.75, "")]]
        )
        item.getAxis("left").setWidth(44)
        for name in ("left", "bottom"):
            # Keep "0", "1" and the first slice number: at this height they touch the axis ends.
            item.getAxis(name).setStyle(hideOverlappingLabels=False)
        self.viewbox = item.getViewBox()
        self.viewbox.setYRange(0.0, 1.0, padding=Y_PADDING)

        self.run_region = pg.LinearRegionItem(
            orientation="vertical", movable=False, pen=pg.mkPen(None)
        )
        self.run_region.setZValue(-10)
        self.plot.addItem(self.run_region)
        self.threshold_line = pg.InfiniteLine(
            pos=0.5,
            angle=0,
            movable=False,
            label="threshold {value:.2f}",
            labelOpts={"position": 0.99, "anchors": [(1, 1), (1, 1)]},
        )
        self.plot.addItem(self.threshold_line)
        self.curve = pg.PlotDataItem(
            [], [], connect="finite", symbol="o", symbolSize=7, name="probability"
        )
        self.curve.setZValue(5)
        self.plot.addItem(self.curve)
        self.run_markers = pg.ScatterPlotItem(size=13, brush=pg.mkBrush(None))
        self.run_markers.setZValue(6)
        self.plot.addItem(self.run_markers)
        self.current_line = pg.InfiniteLine(pos=1, angle=90, movable=True)
        self.current_line.setZValue(10)
        self.current_line.setToolTip("Current slice: drag to move through the series")
        self.plot.addItem(self.current_line)

        adopt_scene_orphans(self.plot)
        self.current_line.sigDragged.connect(self._line_dragged)
        self.current_line.sigPositionChangeFinished.connect(self._line_released)
        self.plot.scene().sigMouseClicked.connect(self._plot_clicked)

    def sizeHint(self) -> QSize:
        return QSize(900, PREFERRED_HEIGHT)

    def minimumSizeHint(self) -> QSize:
        return QSize(INFO_COLUMN_WIDTH + 200, 130)

    # --- results -------------------------------------------------------------------------

    def set_result(
        self,
        model_name: str,
        demo_notice: str | None,
        predictions: SlicePredictions,
        verdict: SeriesVerdict,
        class_name: str,
        warnings: Sequence[str] = (),
        *,
        negative_class_name: str | None = None,
        usability_warning: str | None = None,
        decision: SeriesDecision | None = None,
        agreement: float = math.nan,
    ) -> None:
        """Show a classified series: `predictions.calibrated` as the curve, `verdict` as the
        text, the shaded run and the threshold. `class_name` is the positive class (the y axis
        reads P(class_name)); `negative_class_name` names a negative verdict ("not <class>"
        without it); `usability_warning` is the quality gate's warning for a model that is not
        usable (shown in bold red under the model's name); `decision` (accepted, flagged or
        declined, with reasons) is shown under the warnings, and a declined series shows no
        curve or verdict until "Show verdict anyway"; `agreement` is the share of uncertainty
        samples (`predictions.uncertainty_method`) giving the same verdict."""
        probabilities = np.asarray(predictions.calibrated, dtype=np.float64).ravel()
        self._result = _Result(
            model_name,
            demo_notice,
            probabilities,
            verdict,
            class_name,
            negative_class_name,
            tuple(warnings),
            usability_warning,
            decision,
            agreement,
            predictions.spread,
            predictions.uncertainty_method,
        )
        self._count = len(probabilities)
        self._current = min(max(self._current, 0), max(self._count - 1, 0))
        self.progress.hide()
        self.cancel_button.hide()
        self._render()

    def clear(self, message: str = NOT_CLASSIFIED) -> None:
        """No result: empty plot, `message` as the verdict line."""
        self.show_message(message)

    def show_progress(self, done: int, total: int) -> None:
        """A classification is running: "Classifying… done/total" over a thin progress bar
        (any previous result is cleared: it belonged to another series or model)."""
        if self._result is not None or self._count:
            self._clear_result()
        self.progress.setRange(0, max(total, 0))
        self.progress.setValue(min(max(done, 0), max(total, 0)))
        self.progress.show()
        self.cancel_button.show()
        self._set_verdict_line(f"Classifying… {done}/{total}", self._colours.muted)

    def show_message(self, text: str, *, error: bool = False) -> None:
        """An idle or error state: `text` in place of the verdict (red-ish when `error`)."""
        self._clear_result()
        self.progress.hide()
        self.cancel_button.hide()
        colour = self._colours.positive if error else self._colours.muted
        self._set_verdict_line(text, colour)

    def set_current_slice(self, index: int) -> None:
        """Move the slice line to `index` (0-based) without emitting `slice_requested`."""
        self._current = int(index)
        if self._count:
            self._current = min(max(self._current, 0), self._count - 1)
            self.current_line.setValue(self._current + 1)
        self._update_summary()

    def set_findings(self, text: str) -> None:
        """The graded findings of the open studies, a line or two each ("" hides them); kept
        while series are classified (they belong to the studies, not to a series)."""
        self.findings_label.setText(text)
        self.findings_label.setVisible(bool(text))

    def findings_text(self) -> str:
        return self.findings_label.text() if self.findings_label.isVisibleTo(self) else ""

    # --- overlay controls ----------------------------------------------------------------

    @property
    def overlay_enabled(self) -> bool:
        return self.overlay_check.isChecked()

    @property
    def method(self) -> HeatmapMethod:
        return HeatmapMethod(self.method_combo.currentData())

    @property
    def opacity(self) -> float:
        return self.opacity_slider.value() / 100.0

    def set_overlay_enabled(self, enabled: bool) -> None:
        with QSignalBlocker(self.overlay_check):
            self.overlay_check.setChecked(enabled)

    def set_healthy_maps(self, enabled: bool) -> None:
        """Tick or untick "Healthy map" without emitting `healthy_maps_toggled`."""
        with QSignalBlocker(self.healthy_check):
            self.healthy_check.setChecked(enabled)

    def set_method(self, method: HeatmapMethod | str) -> None:
        """Select a `core.heatmap.HeatmapMethod` or its id (ValueError otherwise), without
        emitting."""
        try:
            chosen = HeatmapMethod(method)
        except ValueError:
            values = ", ".join(choice.value for choice in HeatmapMethod)
            raise ValueError(f"unknown heatmap method {method!r}; use {values}") from None
        index = self.method_combo.findData(chosen.value)
        with QSignalBlocker(self.method_combo):
            self.method_combo.setCurrentIndex(index)

    def set_opacity(self, opacity: float) -> None:
        """Set the slider to `opacity` (clamped to 0..1), without emitting."""
        value = round(min(max(float(opacity), 0.0), 1.0) * 100)
        with QSignalBlocker(self.opacity_slider):
            self.opacity_slider.setValue(value)
        self._show_opacity(value)

    # --- reading back (tests, the main window's status line) ------------------------------

    @property
    def current_slice(self) -> int:
        return self._current

    def verdict_text(self) -> str:
        return self.verdict_label.text()

    def has_result(self) -> bool:
        return self._result is not None

    def usability_warning(self) -> str:
        """The not-usable warning shown with the result ("" when there is none)."""
        return self.usability_label.text() if self.usability_label.isVisibleTo(self) else ""

    # --- internals -----------------------------------------------------------------------

    def _render(self) -> None:
        result = self._result
        if result is None:
            return
        colours = self._colours
        verdict = result.verdict
        count = self._count
        text = verdict_text(verdict, result.class_name, result.negative_class_name)
        self.force_button.setVisible(result.withheld)
        if result.withheld:
            self._set_verdict_line(DECLINED_TEXT, colours.positive)
            self._render_labels(result)
            self._hide_plot_items()
            self._update_summary()
            return
        if verdict.slices == 0 or not math.isfinite(verdict.score):
            colour = colours.muted
        else:
            colour = colours.positive if verdict.positive else colours.negative
        self._set_verdict_line(text, colour)
        self._render_labels(result)

        item = self.plot.getPlotItem()
        item.setLabel("left", f"P({result.class_name})")
        item.getAxis("bottom").setTicks(slice_ticks(count))
        self.viewbox.setXRange(0.5, count + 0.5, padding=0)
        self.viewbox.setYRange(0.0, 1.0, padding=Y_PADDING)

        x = np.arange(1, count + 1, dtype=np.float64)
        y = result.probabilities
        with np.errstate(invalid="ignore"):
            above = y >= verdict.threshold
        brushes = [
            pg.mkBrush(colours.positive if flag else colours.negative) for flag in above.tolist()
        ]
        self.curve.setData(
            x,
            y,
            connect="finite",
            pen=pg.mkPen(CURVE_COLOUR, width=2),
            symbol="o",
            symbolSize=7,
            symbolPen=pg.mkPen(None),
            symbolBrush=brushes,
        )
        self.threshold_line.setValue(verdict.threshold)
        self.threshold_line.show()

        run = self._run_slices()
        if run is None:
            self.run_region.hide()
            self.run_markers.setData([], [])
        else:
            first, last = run
            run_colour = QColor(colours.positive if verdict.positive else colours.muted)
            run_colour.setAlpha(55)
            self.run_region.setBrush(pg.mkBrush(run_colour))
            self.run_region.setRegion((first + 0.5, last + 1.5))
            self.run_region.show()
            indices = [i for i in range(first, last + 1) if math.isfinite(y[i])]
            ring = colours.positive if verdict.positive else colours.muted
            self.run_markers.setData(
                x[indices], y[indices], pen=pg.mkPen(ring, width=2), brush=pg.mkBrush(None)
            )

        self.current_line.setBounds((1, max(count, 1)))
        self.current_line.setValue(self._current + 1)
        self.current_line.setVisible(count > 0)
        self._update_summary()

    def _render_labels(self, result: _Result) -> None:
        """The rule (not for a declined series: no verdict), the model and the notices and
        warnings under the verdict."""
        self.rule_label.setText(f"Rule: {result.verdict.rule}")
        self.rule_label.setVisible(not result.withheld)
        self.model_label.setText(f"Model: {result.model_name}")
        self.model_label.show()
        warning = result.usability_warning
        self.usability_label.setText(f"\u26a0 {warning[0].upper()}{warning[1:]}" if warning else "")
        self.usability_label.setVisible(bool(warning))
        self.demo_label.setText(f"\u26a0 {result.demo_notice}" if result.demo_notice else "")
        self.demo_label.setVisible(bool(result.demo_notice))
        self.warnings_label.setText("\n".join(f"\u26a0 {w}" for w in result.warnings))
        self.warnings_label.setVisible(bool(result.warnings))
        decision = result.decision
        shown = decision is not None and (decision.status != "accepted" or bool(decision.reasons))
        header_doubts = set(result.warnings)
        reasons = [r for r in (decision.reasons if decision else ()) if r not in header_doubts]
        lines = [f"Decision: {decision.label}"] if decision is not None and shown else []
        lines += [f"\u26a0 {reason}" for reason in reasons]
        self.decision_label.setText("\n".join(lines))
        self.decision_label.setVisible(bool(lines))

    def _run_slices(self) -> tuple[int, int] | None:
        """First and last 0-based index of the run that gave the score."""
        verdict = self._result.verdict if self._result is not None else None
        if verdict is None or verdict.run_start is None or not self._count:
            return None
        if verdict.run_slices:  # where positions repeat, the run's slices are not adjacent
            first, last = min(verdict.run_slices), max(verdict.run_slices)
        else:
            first = verdict.run_start
            last = first + max(verdict.neighbours, 1) - 1
        last = min(last, self._count - 1)
        if not 0 <= first < self._count:
            return None
        return first, last

    def _update_summary(self) -> None:
        result = self._result
        if result is None or not self._count:
            for label in (self.summary_label, self.slice_label):
                label.clear()
                label.hide()
            return
        verdict = result.verdict
        if result.withheld:
            self.summary_label.clear()
            self.summary_label.hide()
            self.slice_label.clear()
            self.slice_label.hide()
            return
        threshold = format_probability(verdict.threshold)
        summary = f"{verdict.slices_above} of {verdict.slices} slices reach {threshold}"
        missing = self._count - verdict.slices
        if missing > 0:
            summary += f" · {missing} without a result"
        if math.isfinite(result.agreement):
            summary += (
                f" · {format_probability(result.agreement)} of {result.uncertainty_method} "
                "samples give this verdict"
            )
        self.summary_label.setText(summary)
        self.summary_label.show()
        value = result.probabilities[self._current]
        reading = format_probability(value) if math.isfinite(value) else "no result"
        self.slice_label.setText(f"slice {self._current + 1}: {reading}")
        tooltip = f"P({result.class_name}) of the current slice"
        if result.spreads is not None and math.isfinite(value):
            spread = format_spread(float(result.spreads[self._current]))
            tooltip += f"; {spread} over {result.uncertainty_method} samples"
        self.slice_label.setToolTip(tooltip)
        self.slice_label.show()

    def _hide_plot_items(self) -> None:
        self.curve.setData([], [])
        self.run_markers.setData([], [])
        self.run_region.hide()
        self.threshold_line.hide()
        self.current_line.hide()

    def _clear_result(self) -> None:
        self._result = None
        self._count = 0
        self.force_button.hide()
        self.decision_label.hide()
        self.curve.setData([], [])
        self.run_markers.setData([], [])
        self.run_region.hide()
        self.threshold_line.hide()
        self.current_line.hide()
        self.plot.getPlotItem().getAxis("bottom").setTicks([[], []])
        self.viewbox.setXRange(0.5, 10.5, padding=0)
        self.viewbox.setYRange(0.0, 1.0, padding=Y_PADDING)
        for label in (self.rule_label, self.model_label, self.usability_label, self.demo_label,
                      self.warnings_label):  # fmt: skip
            label.clear()
            label.hide()
        self._update_summary()

    def _set_verdict_line(self, text: str, colour: QColor) -> None:
        self.verdict_label.setText(text)
        self.verdict_label.setStyleSheet(f"QLabel {{ color: {colour.name()}; }}")

    def _plot_clicked(self, event: Any) -> None:
        """A click anywhere on the plot asks for the nearest slice."""
        if event.button() != Qt.MouseButton.LeftButton or not self._count:
            return
        x = self.viewbox.mapSceneToView(event.scenePos()).x()
        self._request(nearest_slice(x, self._count))

    def _line_dragged(self, line: pg.InfiniteLine) -> None:
        index = nearest_slice(line.value(), self._count) if self._count else 0
        if self._count and index != self._current:
            self._request(index, move_line=False)

    def _line_released(self, _line: pg.InfiniteLine) -> None:
        if self._count:
            self.current_line.setValue(self._current + 1)  # snap to the slice

    def _request(self, index: int, *, move_line: bool = True) -> None:
        self._current = index
        if move_line:
            self.current_line.setValue(index + 1)
        self._update_summary()
        self.slice_requested.emit(index)

    def _method_index_changed(self, index: int) -> None:
        self.method_changed.emit(str(self.method_combo.itemData(index)))

    def _opacity_slider_moved(self, value: int) -> None:
        self._show_opacity(value)
        self.opacity_changed.emit(value / 100.0)

    def _show_opacity(self, value: int) -> None:
        self.opacity_label.setText(f"{value} %")

    # --- palette ---------------------------------------------------------------------------

    def _apply_palette(self) -> None:
        """Colours from the widget palette, so the panel reads on light and dark themes."""
        palette = self.palette()
        self._colours = status_colours(palette)
        background = palette.color(QPalette.ColorRole.Base)
        foreground = palette.color(QPalette.ColorRole.Text)
        self.plot.setBackground(background)
        item = self.plot.getPlotItem()
        for name in ("left", "bottom"):
            axis = item.getAxis(name)
            axis.setPen(pg.mkPen(self._colours.muted))
            axis.setTextPen(pg.mkPen(foreground))
        muted = self._colours.muted
        self.threshold_line.setPen(pg.mkPen(muted, width=1, style=Qt.PenStyle.DashLine))
        self.threshold_line.label.setColor(muted)
        current = QColor("#ffd200") if is_dark(palette) else QColor("#c77700")
        self.current_line.setPen(pg.mkPen(current, width=2))
        self.current_line.setHoverPen(pg.mkPen(current, width=4))
        for label in (self.summary_label, self.rule_label, self.slice_label):
            label.setStyleSheet(f"QLabel {{ color: {muted.name()}; }}")
        self.demo_label.setStyleSheet(
            f"QLabel {{ color: {self._colours.warning.name()}; font-weight: bold; }}"
        )
        self.warnings_label.setStyleSheet(f"QLabel {{ color: {self._colours.warning.name()}; }}")
        self.usability_label.setStyleSheet(
            f"QLabel {{ color: {self._colours.positive.name()}; font-weight: bold; }}"
        )
        if self._result is not None:
            self._render()

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if getattr(self, "_built", False) and event.type() == QEvent.Type.PaletteChange:
            self._apply_palette()

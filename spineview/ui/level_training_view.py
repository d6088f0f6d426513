"""The training dialog's page for a disc level model: its test figures and verdict.

The figures are those of `models.level_metrics.level_report` on the test split (errors in
millimetres, the share within 5 mm with its 95 % interval, the share of series in order) beside
the mean-position baseline, a model that learnt nothing; the verdict is the manifest's.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeGuard

from PySide6.QtWidgets import QWidget

from spineview.core.levels import LEVELS
from spineview.models.quality_gate import Usability
from spineview.ui.result_table import ResultTable

ERROR_STYLE = "color: #c62828;"
GOOD_STYLE = "color: #2e7d32;"
COLUMNS = ("levels", "mean", "90th pct.", "within 5 mm (95 % interval)")
BASELINE_ROW = "baseline"
"""The table's last row: each level at its training mean position (a model that learnt nothing)."""


class LevelTrainingReport(ResultTable):
    """A summary (figures, verdict, which level model the viewer uses) and a table of the test
    errors overall, per level and for the baseline."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(["all levels", *LEVELS, BASELINE_ROW], COLUMNS, parent)
        header = self.table.verticalHeaderItem(len(self.rows) - 1)
        if header is not None:
            header.setToolTip(
                "Each level placed at its mean position in the training split: what a model "
                "that learnt nothing would score"
            )
        self.show_running()

    def show_running(self) -> None:
        self.summary.setText(
            "Training a disc level model: each epoch's loss and validation error (mm) are in "
            "the log below. The test figures appear here when it ends."
        )
        self.table.clearContents()

    def show_result(self, test: Mapping[str, Any], summary: str) -> None:
        self.summary.setText(summary)
        per_level = test.get("per_level", {})
        parts = [test, *(per_level.get(level, {}) for level in LEVELS)]
        parts.append(test.get("mean_position_baseline", {}))
        for row, figures in enumerate(parts):
            cells = (
                str(figures.get("levels", 0)),
                _mm(figures.get("mean_mm")),
                _mm(figures.get("p90_mm")),
                share_text(figures.get("within"), figures.get("within_ci")),
            )
            for column, text in enumerate(cells):
                self.set_cell(row, column, text)
        self.table.resizeColumnsToContents()


def level_result_summary(folder: Path, test: Mapping[str, Any], usability: Usability) -> str:
    """The level run's result as rich text: where it was saved, the test figures against the
    baseline, the quality gate's verdict and reason, and how the viewer may use it."""
    baseline = test.get("mean_position_baseline", {})
    within_mm = test.get("within_mm", 5)
    lines = [
        f"<b>{html.escape(folder.name)}</b> saved in {html.escape(str(folder.parent))}",
        f"Test split: {test.get('series', 0)} series, {test.get('levels', 0)} levels · mean "
        f"error {_mm(test.get('mean_mm'))} · 90th percentile {_mm(test.get('p90_mm'))} · "
        f"within {within_mm:g} mm {share_text(test.get('within'), test.get('within_ci'))} · "
        f"order {share_text(test.get('order_accuracy'), test.get('order_accuracy_ci'))}",
        f"Baseline (each level at its training mean position): within {within_mm:g} mm "
        f"{share_text(baseline.get('within'))} · mean error {_mm(baseline.get('mean_mm'))}",
    ]
    if usability.usable:
        lines.append(f"<span style='{GOOD_STYLE}'>✔ usable: {html.escape(usability.reason)}</span>")
    else:
        lines.append(
            f"<span style='{ERROR_STYLE}'>✖ not usable: {html.escape(usability.reason)} — try "
            "more epochs or more marked studies</span>"
        )
    if usability.usable:
        lines.append(
            "<i>Use this model</i> makes the viewer find the disc levels of every study with "
            "it (a level model is never a slice classifier)."
        )
    return "<br>".join(lines)


def share_text(value: object, interval: object = None) -> str:
    """ "87.5% (79.1–93.0%)" for a share and its [low, high] interval; "—" without a share."""
    if not _finite(value):
        return "—"
    text = f"{value:.1%}"
    if isinstance(interval, list | tuple) and len(interval) == 2:
        low, high = interval
        if _finite(low) and _finite(high):
            text += f" ({low * 100:.1f}–{high:.1%})"
    return text


def _mm(value: object) -> str:
    return f"{value:.1f} mm" if _finite(value) else "—"


def _finite(value: object) -> TypeGuard[float]:
    return isinstance(value, int | float) and math.isfinite(value)

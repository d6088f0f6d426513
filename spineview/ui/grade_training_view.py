"""The training dialog's page for a grading model: its test score against the prior, and verdict.

The figures are those of `models.grade_metrics.score_report` on the test split: the RSNA 2024
score (lower is better), its per-group losses and any_severe_spinal, each beside the constant
prior's (each finding's grade frequencies on the training split: a model that learnt nothing
from the images), the ratio of the scores and the 95 % interval of their difference; the verdict
is the manifest's.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeGuard

from PySide6.QtWidgets import QTableWidgetItem, QWidget

from spineview.models.quality_gate import Usability
from spineview.ui.level_training_view import ERROR_STYLE, GOOD_STYLE
from spineview.ui.result_table import ResultTable

GROUPS = ("spinal", "foraminal", "subarticular")
ROWS = ("score", *GROUPS, "any severe spinal")
COLUMNS = ("model", "constant prior")


class GradeTrainingReport(ResultTable):
    """A summary (figures, verdict, what Use this model does) and a table of the test score and
    its terms for the model and the constant prior."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(ROWS, COLUMNS, parent)
        prior_header = QTableWidgetItem(COLUMNS[1])
        prior_header.setToolTip(
            "Each finding's grade frequencies on the training split, whatever the images: what "
            "a model that learnt nothing from them would score"
        )
        self.table.setHorizontalHeaderItem(1, prior_header)
        self.show_running()

    def show_running(self) -> None:
        self.summary.setText(
            "Training a grading model: each epoch's training loss and validation score are in "
            "the log below. The test score against the constant prior appears here when it ends."
        )
        self.table.clearContents()

    def show_result(self, test: Mapping[str, Any], summary: str) -> None:
        self.summary.setText(summary)
        found = test.get("prior")
        prior: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
        for column, figures in enumerate((test, prior)):
            for row, value in enumerate(_terms(figures)):
                self.set_cell(row, column, _score(value))
        self.table.resizeColumnsToContents()


def grade_result_summary(folder: Path, test: Mapping[str, Any], usability: Usability) -> str:
    """The grading run's result as rich text: where it was saved, the test score against the
    prior with the ratio and the interval of the difference, the verdict and its reason, and
    how the viewer may use it."""
    found = test.get("prior")
    prior: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    lines = [
        f"<b>{html.escape(folder.name)}</b> saved in {html.escape(str(folder.parent))}",
        f"Test split: {test.get('studies', 0)} studies, {test.get('rows_scored', 0)} rows · "
        f"score {_score(test.get('score'))} against the constant prior's "
        f"{_score(prior.get('score'))} (RSNA 2024 score, lower is better)",
        f"Ratio to the prior {_score(test.get('ratio_to_prior'))} · difference (model − prior) "
        f"95 % interval {interval_text(test.get('difference_ci'))}",
    ]
    if usability.usable:
        lines.append(f"<span style='{GOOD_STYLE}'>✔ usable: {html.escape(usability.reason)}</span>")
        lines.append(
            "<i>Use this model</i> makes the viewer grade the findings of every study whose disc "
            "levels are found with it (a grading model is never a slice classifier)."
        )
    else:
        lines.append(
            f"<span style='{ERROR_STYLE}'>✖ not usable: {html.escape(usability.reason)} — try "
            "more epochs or more graded studies</span>"
        )
    return "<br>".join(lines)


def grade_figures_text(test: Mapping[str, Any]) -> str:
    """One line for the status bar: "test score 0.412 (constant prior 0.587)"."""
    found = test.get("prior")
    prior = found.get("score") if isinstance(found, Mapping) else None
    if not _finite(test.get("score")):
        return "no test score"
    return f"test score {_score(test.get('score'))} (constant prior {_score(prior)})"


def interval_text(interval: object) -> str:
    """ "-0.790 to -0.290" for a [low, high] interval; "—" without one (too few studies)."""
    if isinstance(interval, list | tuple) and len(interval) == 2:
        low, high = interval
        if _finite(low) and _finite(high):
            return f"{low:+.3f} to {high:+.3f}"
    return "— (too few test studies)"


def _terms(figures: Mapping[str, Any]) -> list[object]:
    losses = figures.get("losses")
    groups: Mapping[str, Any] = losses if isinstance(losses, Mapping) else {}
    return [
        figures.get("score"),
        *(groups.get(g) for g in GROUPS),
        figures.get("any_severe_spinal"),
    ]


def _score(value: object) -> str:
    return f"{value:.3f}" if _finite(value) else "—"


def _finite(value: object) -> TypeGuard[float]:
    return isinstance(value, int | float) and math.isfinite(value)

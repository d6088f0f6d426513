"""Grading one study's 25 findings with a grading model, from its decoded series and disc levels.

A finding whose crop cannot be taken (its series missing, or not reaching the finding) gets the
model's training prior (each finding's grade frequencies on its training split), the honest
answer without an image, and no evidence; a study without disc levels gets the prior for all 25
and the reason, so a submission still has every row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from spineview.core.levels import LevelMap
from spineview.core.series import Series
from spineview.data.grade_crops import GradeCrop, grade_crops, model_view
from spineview.data.rsna_format import (
    AXIAL_T2,
    LABEL_COLUMNS,
    SAGITTAL_T1,
    SAGITTAL_T2_STIR,
    label_column,
)
from spineview.ml.task_model import TaskModel
from spineview.models.grade_result import Finding, StudyGrades, all_findings_order
from spineview.models.series_decision import decide_series


@dataclass
class Grader(TaskModel):
    """A loaded grading model, ready to grade a study's findings."""

    TASK = "grades"
    _network: Any = None

    @property
    def prior(self) -> np.ndarray:
        """(25, 3): the training split's grade frequencies (uniform for a model without)."""
        stored = self.manifest.training.get("prior")
        if isinstance(stored, list) and np.shape(stored) == (len(LABEL_COLUMNS), 3):
            return np.asarray(stored, dtype=np.float64)
        return np.full((len(LABEL_COLUMNS), 3), 1 / 3)

    def probabilities(self, crops: Sequence[GradeCrop]) -> tuple[np.ndarray, np.ndarray]:
        """(len(crops), 3) calibrated probabilities, each for its crop's own condition, and
        each crop's pooled features (what the distribution check measures)."""
        from spineview.ml.grade_model import with_features

        if not crops:
            return np.zeros((0, 3)), np.zeros((0, 0))
        if self._network is None:
            self._network = with_features(self.model)
        images = np.stack([model_view(crop.pixels) for crop in crops]).astype(np.float32)
        outputs, features = self._network(images, training=False)
        conditions = [column_condition(label_column(c.condition, c.level)) for c in crops]
        logits = np.asarray(outputs, dtype=np.float64)[np.arange(len(crops)), conditions]
        logits /= self.manifest.temperature
        probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
        probabilities /= probabilities.sum(axis=1, keepdims=True)
        return probabilities, np.asarray(features, dtype=np.float64)

    def grade_study(
        self,
        study_uid: str,
        levels: LevelMap | None,
        series: Mapping[str, Sequence[Series]],
        *,
        levels_reason: str = "",
    ) -> tuple[np.ndarray, StudyGrades]:
        """(25, 3) rows in train.csv's column order and the study's findings; `series` by type
        (Sagittal T2/STIR, Sagittal T1, Axial T2)."""
        rows = self.prior.copy()
        if levels is None or not levels.points:
            reason = levels_reason or "no disc levels, so no crop could be placed"
            return rows, StudyGrades(study_uid, (), reason, "declined", self.name)
        crops = grade_crops(
            levels,
            sagittal_t2=_first(series, SAGITTAL_T2_STIR),
            sagittal_t1=_first(series, SAGITTAL_T1),
            axials=list(series.get(AXIAL_T2, [])),
        )
        found: dict[tuple[str, str], Finding] = {}
        numbers = {s.key: s.instance_numbers for group in series.values() for s in group}
        probabilities, features = self.probabilities(crops)
        distances = self.check.distances(features) if self.check is not None and crops else None
        decision = decide_series([], distances, self.check, self.name, unit="crop")
        if decision.status == "declined":
            reason = f"{self.name} declines the study: {'; '.join(decision.reasons)}"
            return self.prior.copy(), StudyGrades(study_uid, (), reason, "declined", self.name)
        for crop, values in zip(crops, probabilities, strict=True):
            rows[LABEL_COLUMNS.index(label_column(crop.condition, crop.level))] = values
            known = numbers.get(crop.series_key) or []
            number = known[crop.slice_index] if crop.slice_index < len(known) else None
            found[(crop.condition, crop.level)] = Finding(
                crop.condition, crop.level, (float(values[0]), float(values[1]), float(values[2])),
                crop.series_key or None, number, crop.box,
            )  # fmt: skip
        findings = tuple(found[key] for key in all_findings_order() if key in found)
        missing = len(LABEL_COLUMNS) - len(findings)
        reason = f"{self.name} on {len(findings)} of 25 findings"
        if missing:
            reason += f" ({missing} without a crop get the training prior)"
        if decision.reasons:
            reason += "; " + "; ".join(decision.reasons)
        return rows, StudyGrades(study_uid, findings, reason, decision.status, self.name)


def column_condition(column: str) -> int:
    """The condition index (0-4) of a train.csv column."""
    return LABEL_COLUMNS.index(column) // 5


def _first(series: Mapping[str, Sequence[Series]], kind: str) -> Series | None:
    found = series.get(kind)
    return found[0] if found else None

"""How well a grading model grades: the RSNA 2024 score on its test split against the constant
per-level prior, with a bootstrap over studies, and the verdict drawn from them.

A grading model is usable only when it beats the prior: the upper end of the 95 % interval of
(its score − the prior's score), resampling whole test studies, lies below zero. The prior is
what a model that learnt nothing from the images would answer (each finding's grade frequencies
on the training split), so a model that cannot beat it has learnt nothing it can show.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from spineview.models.quality_gate import Usability
from spineview.models.rsna_metric import Solution, rsna_score

BOOTSTRAP_RESAMPLES = 1000


def score_report(
    solution: Solution, predicted: np.ndarray, prior: np.ndarray, *, seed: int = 0
) -> dict[str, Any]:
    """The model's and the prior's scores on `solution`'s studies, their ratio, and the 95 %
    bootstrap interval of the difference (resampling studies)."""
    ours = rsna_score(solution, predicted)
    baseline_rows = np.broadcast_to(prior, predicted.shape)
    theirs = rsna_score(solution, baseline_rows)
    report: dict[str, Any] = {
        "studies": ours.studies,
        "rows_scored": ours.rows_scored,
        **ours.as_json(),
        "prior": theirs.as_json(),
    }
    if ours.score is not None and theirs.score is not None and theirs.score > 0:
        report["ratio_to_prior"] = round(ours.score / theirs.score, 4)
        report["difference_ci"] = _difference_interval(solution, predicted, baseline_rows, seed)
    return report


def _difference_interval(
    solution: Solution, predicted: np.ndarray, prior: np.ndarray, seed: int
) -> list[float] | None:
    rng = np.random.default_rng(seed)
    count = len(solution.study_ids)
    if count < 2:
        return None
    differences = []
    for _ in range(BOOTSTRAP_RESAMPLES):
        chosen = rng.integers(0, count, size=count)
        sample = Solution(tuple(solution.study_ids[i] for i in chosen), solution.grades[chosen])
        ours = rsna_score(sample, predicted[chosen]).score
        theirs = rsna_score(sample, prior[chosen]).score
        if ours is not None and theirs is not None:
            differences.append(ours - theirs)
    if len(differences) < BOOTSTRAP_RESAMPLES // 2:
        return None
    low, high = np.percentile(differences, [2.5, 97.5])
    return [round(float(low), 4), round(float(high), 4)]


def judge_grade_usability(metrics: Mapping[str, Any] | None) -> Usability:
    """Usable when the test score beats the prior's with the 95 % interval of the difference
    below zero; otherwise not, with the figures that decided it."""
    test = (metrics or {}).get("test")
    if not isinstance(test, Mapping) or not isinstance(test.get("score"), int | float):
        return Usability(False, "no test score was recorded, so the model cannot be judged")
    prior = test.get("prior", {}).get("score")
    interval = test.get("difference_ci")
    text = f"test score {test['score']:.3f} (lower is better)"
    if not isinstance(prior, int | float):
        return Usability(False, f"{text}, but no prior score to compare with")
    text += f" against the constant prior's {prior:.3f}"
    if not isinstance(interval, list):
        return Usability(False, f"{text}: too few test studies for an interval of the difference")
    difference = f"difference 95 % interval {interval[0]:+.3f} to {interval[1]:+.3f}"
    if interval[1] >= 0:
        return Usability(False, f"{text} ({difference}): not better than the prior")
    return Usability(True, f"{text} ({difference}): better than the prior")

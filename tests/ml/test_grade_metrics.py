"""A grading model is judged against the constant prior, with an interval over studies."""

from __future__ import annotations

import numpy as np

from spineview.models.grade_metrics import judge_grade_usability, score_report
from spineview.models.rsna_metric import Solution


def _solution(studies: int, seed: int) -> Solution:
    rng = np.random.default_rng(seed)
    grades = rng.choice([0, 0, 0, 1, 2], size=(studies, 25))
    return Solution(tuple(str(i) for i in range(studies)), grades)


def test_a_model_that_knows_the_answers_beats_the_prior_and_is_usable() -> None:
    solution = _solution(20, 1)
    informed = np.full((20, 25, 3), 0.05)
    np.put_along_axis(informed, solution.grades[..., None], 0.9, axis=2)
    prior = np.full((25, 3), 1 / 3)
    report = score_report(solution, informed, prior)
    assert report["score"] < report["prior"]["score"] and report["ratio_to_prior"] < 0.6
    low, high = report["difference_ci"]
    assert low <= high < 0
    verdict = judge_grade_usability({"test": report})
    assert verdict.usable and "better than the prior" in verdict.reason


def test_a_model_no_better_than_the_prior_is_not_usable() -> None:
    solution = _solution(20, 2)
    prior = np.full((25, 3), 1 / 3)
    report = score_report(solution, np.broadcast_to(prior, (20, 25, 3)).copy(), prior)
    assert report["difference_ci"] == [0.0, 0.0]
    verdict = judge_grade_usability({"test": report})
    assert not verdict.usable and "not better than the prior" in verdict.reason
    assert not judge_grade_usability({}).usable

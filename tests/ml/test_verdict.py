"""The series verdict rule: the highest probability held by k neighbouring slices."""

from __future__ import annotations

import math

import numpy as np
import pytest

from spineview.ml.verdict import rule_text, series_verdict


def test_a_lone_confident_slice_does_not_make_a_positive_series() -> None:
    verdict = series_verdict(np.array([0.1, 0.2, 0.97, 0.3, 0.1]), 0.5)
    assert not verdict.positive
    assert verdict.score == pytest.approx(0.3)  # the best pair is (0.97, 0.3)
    assert verdict.run_start == 2 and verdict.slices_above == 1 and verdict.slices == 5


def test_two_neighbours_above_the_threshold_make_it_positive() -> None:
    verdict = series_verdict(np.array([0.1, 0.6, 0.8, 0.2, 0.9]), 0.5)
    assert verdict.positive
    assert verdict.score == pytest.approx(0.6) and verdict.run_start == 1
    assert verdict.slices_above == 3


def test_k_one_is_the_plain_maximum() -> None:
    verdict = series_verdict(np.array([0.1, 0.97, 0.3]), 0.5, neighbours=1)
    assert verdict.positive and verdict.score == pytest.approx(0.97)
    assert "any slice" in verdict.rule


def test_nan_slices_break_runs_and_short_series_use_what_they_have() -> None:
    verdict = series_verdict(np.array([0.9, math.nan, 0.9]), 0.5)
    assert verdict.neighbours == 1  # no two valid neighbours exist
    assert verdict.positive and verdict.slices == 2
    single = series_verdict(np.array([0.7]), 0.5, neighbours=3)
    assert single.positive and single.neighbours == 1


def test_nothing_valid_gives_a_negative_verdict_with_nan_score() -> None:
    verdict = series_verdict(np.array([math.nan, math.nan]), 0.5)
    assert not verdict.positive and math.isnan(verdict.score) and verdict.run_start is None


def test_rule_text_names_k_and_the_threshold() -> None:
    assert "3 neighbouring slices all reach 0.40" in rule_text(3, 0.4)
    with pytest.raises(ValueError):
        series_verdict(np.array([0.5]), 0.5, neighbours=0)

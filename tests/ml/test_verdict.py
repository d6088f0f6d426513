"""The series verdict rule: the highest probability held by k neighbouring slices, where
slices sharing a position (time points, echoes, copies) count as one position."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from spineview.models.verdict import rule_text, series_verdict


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


def test_rule_text_names_k_the_threshold_and_shared_positions() -> None:
    assert "3 neighbouring slices all reach 0.40" in rule_text(3, 0.4)
    assert "sharing a position count once" in rule_text(2, 0.5)
    with pytest.raises(ValueError):
        series_verdict(np.array([0.5]), 0.5, neighbours=0)


# --- positions: repeated positions are one position ------------------------------------------


def test_two_slices_at_one_position_are_not_a_run_of_two() -> None:
    probabilities = np.array([0.1, 0.9, 0.9, 0.1])
    assert series_verdict(probabilities, 0.5).positive  # blind to positions: a "run"

    verdict = series_verdict(probabilities, 0.5, positions=np.array([0.0, 4.0, 4.0, 8.0]))

    assert not verdict.positive
    assert verdict.score == pytest.approx(0.1)
    assert verdict.positions == 3 and verdict.slices == 4 and verdict.slices_above == 2


def test_a_run_takes_the_best_slice_of_each_repeated_position() -> None:
    # Two time points at each of three positions (patient coordinates), in slice order.
    positions = np.array([[0, 0, z] for z in (0.0, 0.0, 4.0, 4.0, 8.0, 8.0)])
    probabilities = np.array([0.2, 0.8, 0.7, 0.1, 0.1, 0.1])

    verdict = series_verdict(probabilities, 0.5, positions=positions)

    assert verdict.positive and verdict.score == pytest.approx(0.7)
    assert verdict.run_slices == (1, 2) and verdict.run_start == 1
    assert verdict.neighbours == 2 and verdict.positions == 3


def test_distinct_positions_change_nothing() -> None:
    rng = np.random.default_rng(5)
    for _ in range(50):
        probabilities = rng.random(9)
        probabilities[rng.random(9) < 0.2] = math.nan
        neighbours = int(rng.integers(1, 4))
        plain = series_verdict(probabilities, 0.5, neighbours)
        placed = series_verdict(
            probabilities, 0.5, neighbours, positions=np.arange(9, dtype=float) * 3.3
        )
        assert dataclasses.replace(placed, positions=None) == plain or (
            math.isnan(plain.score) and math.isnan(placed.score)
        )
        if plain.run_start is not None:
            assert plain.run_slices == tuple(
                range(plain.run_start, plain.run_start + plain.neighbours)
            )


def test_one_position_only_uses_what_it_has() -> None:
    verdict = series_verdict(np.array([0.3, 0.8]), 0.5, positions=np.array([2.0, 2.0]))
    assert verdict.neighbours == 1 and verdict.positive and verdict.score == pytest.approx(0.8)


def test_a_result_at_a_shared_position_bridges_a_missing_one() -> None:
    """A position with any result is not a gap: NaN slices only break runs on their own."""
    positions = np.array([0.0, 4.0, 4.0, 8.0])
    probabilities = np.array([0.9, math.nan, 0.8, 0.9])
    verdict = series_verdict(probabilities, 0.5, positions=positions)
    assert verdict.neighbours == 2 and verdict.positive and verdict.run_slices == (0, 2)
    gap = series_verdict(np.array([0.9, math.nan, math.nan, 0.9]), 0.5, positions=positions)
    assert gap.neighbours == 1


def test_unknown_positions_are_each_their_own() -> None:
    positions = np.array([[0, 0, 1.0], [np.nan] * 3, [np.nan] * 3, [0, 0, 9.0]])
    verdict = series_verdict(np.array([0.1, 0.9, 0.9, 0.1]), 0.5, positions=positions)
    assert verdict.positive and verdict.positions == 4


def test_positions_must_match_the_slices() -> None:
    with pytest.raises(ValueError, match="3 positions for 4 slices"):
        series_verdict(np.array([0.1, 0.2, 0.3, 0.4]), 0.5, positions=np.zeros(3))


def test_verdict_agreement_matches_the_rule_sample_by_sample() -> None:
    from spineview.models.verdict import verdict_agreement

    rng = np.random.default_rng(4)
    samples = rng.random((9, 40))
    samples[3] = np.nan  # a slice without a result is missing in every sample
    positions = np.array([0.0, 4.0, 4.0, 8.0, 12.0, 16.0, 20.0, 24.0, 28.0])
    verdict = series_verdict(np.nanmean(samples, axis=1), 0.5, positions=positions)
    expected = np.mean(
        [
            series_verdict(samples[:, t], 0.5, positions=positions).positive == verdict.positive
            for t in range(samples.shape[1])
        ]
    )
    assert verdict_agreement(samples, verdict, positions) == pytest.approx(expected)
    assert np.isnan(verdict_agreement(samples[:, :0], verdict, positions))

"""The series verdict: one answer for a series from its per-slice probabilities.

Rule: the series score is the highest probability that `k` neighbouring slices all reach (the
maximum over windows of k consecutive slices of the window's minimum); the series is positive
when that score reaches the threshold. With k = 2 (the default) a series is called degenerative
only when two adjacent slices are.

Why: a degenerated disc or a stenosed canal spans several 3–4 mm sagittal slices, and the
training labels mark the annotated slice and its neighbours, so a true finding lights up a run
of slices; a lone confident slice (an edge slice, a partial-volume artefact) is the typical false
positive of a slice classifier. Taking the plain maximum over slices turns every such spike into
a positive series; requiring a run of k keeps the score on the same probability scale, so the
threshold keeps its meaning. Series with fewer than k slices use all of them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DEFAULT_NEIGHBOURS = 2


@dataclass(frozen=True)
class SeriesVerdict:
    positive: bool
    score: float
    """The highest probability held by `neighbours` consecutive slices (NaN: nothing valid)."""
    run_start: int | None
    """First slice index of the run that gives the score."""
    neighbours: int
    threshold: float
    slices_above: int
    """Slices whose own probability reaches the threshold."""
    slices: int
    """Slices with a valid probability."""

    @property
    def rule(self) -> str:
        return rule_text(self.neighbours, self.threshold)


def rule_text(neighbours: int, threshold: float) -> str:
    """The aggregation rule in words, for the UI and the CLI."""
    if neighbours <= 1:
        return f"positive when any slice reaches {threshold:.2f} (score = highest slice)"
    return (
        f"positive when {neighbours} neighbouring slices all reach {threshold:.2f} "
        f"(score = highest probability held by {neighbours} neighbouring slices)"
    )


def series_verdict(
    probabilities: np.ndarray, threshold: float, neighbours: int = DEFAULT_NEIGHBOURS
) -> SeriesVerdict:
    """Apply the rule to per-slice probabilities in slice order (NaN = no result for that
    slice; a run never spans one)."""
    if neighbours < 1:
        raise ValueError(f"neighbours must be at least 1, got {neighbours}")
    values = np.asarray(probabilities, dtype=np.float64).ravel()
    valid = np.isfinite(values)
    count = int(valid.sum())
    above = int(np.sum(values[valid] >= threshold))
    if count == 0:
        return SeriesVerdict(False, float("nan"), None, neighbours, threshold, 0, 0)
    k = min(neighbours, _longest_valid_run(valid))
    filled = np.where(valid, values, -np.inf)
    windows = np.lib.stride_tricks.sliding_window_view(filled, k).min(axis=1)
    start = int(np.argmax(windows))
    score = float(windows[start])
    return SeriesVerdict(score >= threshold, score, start, k, threshold, above, count)


def _longest_valid_run(valid: np.ndarray) -> int:
    longest = current = 0
    for flag in valid:
        current = current + 1 if flag else 0
        longest = max(longest, current)
    return longest

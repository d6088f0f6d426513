"""The series verdict: one answer for a series from its per-slice probabilities.

Rule: the series score is the highest probability that `k` neighbouring slices all reach (the
maximum over windows of k consecutive slices of the window's minimum); the series is positive
when that score reaches the threshold. With k = 2 (the default) a series is called degenerative
only when two adjacent slices are.

Neighbours are slices at neighbouring positions. Slices that share a position (time points,
echoes or copies the index could not split) are one position, held by its highest probability:
two images of one place are never a run of 2. Without positions every slice is its own position.

Why: a degenerated disc or a stenosed canal spans several 3–4 mm sagittal slices, and the
training labels mark the annotated slice and its neighbours, so a true finding lights up a run
of slices; a lone confident slice (an edge slice, a partial-volume artefact) is the typical false
positive of a slice classifier. Taking the plain maximum over slices turns every such spike into
a positive series; requiring a run of k keeps the score on the same probability scale, so the
threshold keeps its meaning. Series with fewer than k positions use all of them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DEFAULT_NEIGHBOURS = 2
_POSITION_DECIMALS = 3  # places equal to 1 µm are one position (as in the header index)


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
    run_slices: tuple[int, ...] = ()
    """The slice of each position in the run (the best one where a position repeats)."""
    positions: int | None = None
    """Distinct positions with a valid probability (None: positions not given)."""

    @property
    def rule(self) -> str:
        return rule_text(self.neighbours, self.threshold)


def rule_text(neighbours: int, threshold: float) -> str:
    """The aggregation rule in words, for the UI and the CLI."""
    if neighbours <= 1:
        return f"positive when any slice reaches {threshold:.2f} (score = highest slice)"
    return (
        f"positive when {neighbours} neighbouring slices all reach {threshold:.2f} "
        f"(score = highest probability held by {neighbours} neighbouring slices; "
        "slices sharing a position count once, by their highest)"
    )


def series_verdict(
    probabilities: np.ndarray,
    threshold: float,
    neighbours: int = DEFAULT_NEIGHBOURS,
    positions: np.ndarray | None = None,
) -> SeriesVerdict:
    """Apply the rule to per-slice probabilities in slice order (NaN = no result for that
    slice; a run never spans a position without a result).

    `positions`: each slice's place, in the same order: (n,) distances along the slice normal
    (`Series.slice_distances()`) or (n, 3) patient positions. Consecutive slices at the same
    place (to 1 µm) are one position; a NaN place is its own. None: every slice is its own.
    """
    if neighbours < 1:
        raise ValueError(f"neighbours must be at least 1, got {neighbours}")
    values = np.asarray(probabilities, dtype=np.float64).ravel()
    valid = np.isfinite(values)
    count = int(valid.sum())
    above = int(np.sum(values[valid] >= threshold))
    groups = _position_groups(positions, len(values))
    best = [_best_slice(values, members) for members in groups]
    held = np.array([values[b] if b is not None else np.nan for b in best], dtype=np.float64)
    held_valid = np.isfinite(held)
    places = int(held_valid.sum()) if positions is not None else None
    if count == 0:
        return SeriesVerdict(
            False, float("nan"), None, neighbours, threshold, 0, 0, positions=places
        )
    k = min(neighbours, _longest_valid_run(held_valid))
    filled = np.where(held_valid, held, -np.inf)
    windows = np.lib.stride_tricks.sliding_window_view(filled, k).min(axis=1)
    start = int(np.argmax(windows))
    score = float(windows[start])
    run = tuple(int(b) for b in best[start : start + k] if b is not None)
    return SeriesVerdict(score >= threshold, score, run[0], k, threshold, above, count, run, places)


def _position_groups(positions: np.ndarray | None, count: int) -> list[list[int]]:
    """Slice indices per position: runs of consecutive slices at one place."""
    if positions is None:
        return [[index] for index in range(count)]
    places = np.atleast_1d(np.asarray(positions, dtype=np.float64))
    if places.ndim == 1:
        places = places[:, np.newaxis]
    if places.ndim != 2 or len(places) != count:
        raise ValueError(f"{len(places)} positions for {count} slices")
    keys = np.round(places, _POSITION_DECIMALS)
    groups: list[list[int]] = []
    for index in range(count):
        same = index > 0 and bool(np.all(keys[index] == keys[index - 1]))  # NaN: never the same
        if same:
            groups[-1].append(index)
        else:
            groups.append([index])
    return groups


def _best_slice(values: np.ndarray, members: list[int]) -> int | None:
    """The member with the highest valid probability (None: none is valid)."""
    valid = [index for index in members if np.isfinite(values[index])]
    return max(valid, key=lambda index: values[index]) if valid else None


def _longest_valid_run(valid: np.ndarray) -> int:
    longest = current = 0
    for flag in valid:
        current = current + 1 if flag else 0
        longest = max(longest, current)
    return longest


def verdict_agreement(
    samples: np.ndarray | None,
    verdict: SeriesVerdict,
    positions: np.ndarray | None = None,
) -> float:
    """The share of uncertainty samples ((slices, samples) calibrated probabilities, one
    sampled network per column: a dropout mask or a posterior draw) whose series verdict, by
    the same rule, is `verdict`'s: how sure the network is of its answer (NaN when no slice
    has a result, or without samples).

    All samples at once: a position is held by its highest probability, the score is the
    best window minimum of `verdict.neighbours` held positions, as in `series_verdict` (the
    slices without a result are the same in every sample, so the runs are too).
    """
    if samples is None:
        return float("nan")
    values = np.asarray(samples, dtype=np.float64)
    if verdict.slices == 0 or values.ndim != 2 or values.shape[1] == 0:
        return float("nan")
    groups = _position_groups(positions, len(values))
    with np.errstate(invalid="ignore"):
        held = np.stack([_nan_max(values[members]) for members in groups])
    filled = np.where(np.isfinite(held), held, -np.inf)
    k = min(verdict.neighbours, len(filled))
    windows = np.lib.stride_tricks.sliding_window_view(filled, k, axis=0).min(axis=-1)
    scores = windows.max(axis=0)
    return float(np.mean((scores >= verdict.threshold) == verdict.positive))


def _nan_max(rows: np.ndarray) -> np.ndarray:
    """Column-wise maximum over `rows` ignoring NaN (NaN where a column has none)."""
    finite = np.isfinite(rows)
    best = np.where(finite, rows, -np.inf).max(axis=0)
    return np.where(finite.any(axis=0), best, np.nan)

"""Split examples into train / validation / test by group (patient or study), stratified.

Every example of a group lands in the same split, so no patient is seen in training and judged
in testing. The method, a seeded greedy assignment:

1. Groups are put in a seeded random order (sorted first, so the input order does not matter).
2. Each group in turn goes to the split where it brings the per-class example counts closest to
   their targets (split fraction × class total): the split with the smallest increase in
   Σ_class (count − target)² / class total. Dividing by the class total makes a rare class weigh
   as much as a common one, so each split's class balance follows the overall balance and its
   size follows its fraction as closely as whole groups allow.
3. Refinement: while some move of one group to another split, or swap of two groups between
   splits, lowers that same sum, the best such change is made (at most a few hundred steps;
   vectorised, so thousands of groups still split in well under a second).
4. Repairs: a split with a non-zero fraction that got no group takes the smallest group of the
   split with the most groups; a split left without any example of a class takes the smallest
   group holding that class from the split richest in it, as long as the giver keeps the class
   and at least one group. When that is impossible (too few groups hold the class) the split
   keeps no example of it and `Split.warnings` says so.

The same groups, labels, fractions and seed always give the same split.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from spineview.errors import DatasetError

SPLIT_NAMES: tuple[str, str, str] = ("train", "validation", "test")
DEFAULT_FRACTIONS: tuple[float, float, float] = (0.8, 0.1, 0.1)


@dataclass(frozen=True)
class SplitBalance:
    """One split's share: groups, examples, and the count and fraction of each class."""

    name: str
    groups: int
    examples: int
    share: float  # examples / all examples
    class_counts: tuple[int, ...]

    @property
    def class_fractions(self) -> tuple[float, ...]:
        return tuple(n / self.examples if self.examples else 0.0 for n in self.class_counts)


@dataclass(frozen=True)
class Split:
    """Which split each group went to, and the example indices of each split."""

    seed: int
    fractions: tuple[float, float, float]
    group_split: Mapping[str, str]  # group id → split name
    groups: tuple[str, ...]  # per example
    labels: tuple[int, ...]  # per example
    warnings: tuple[str, ...] = ()

    def indices(self, name: str) -> list[int]:
        """Example indices (ascending) of the split called `name`."""
        if name not in SPLIT_NAMES:
            raise ValueError(f"unknown split {name!r}; expected one of {SPLIT_NAMES}")
        return [i for i, group in enumerate(self.groups) if self.group_split[group] == name]

    @property
    def train(self) -> list[int]:
        return self.indices("train")

    @property
    def validation(self) -> list[int]:
        return self.indices("validation")

    @property
    def test(self) -> list[int]:
        return self.indices("test")

    def balance_report(self) -> list[SplitBalance]:
        n_classes = max(self.labels, default=-1) + 1
        report = []
        for name in SPLIT_NAMES:
            indices = self.indices(name)
            counts = [0] * n_classes
            for i in indices:
                counts[self.labels[i]] += 1
            report.append(
                SplitBalance(
                    name=name,
                    groups=sum(1 for split in self.group_split.values() if split == name),
                    examples=len(indices),
                    share=len(indices) / len(self.labels) if self.labels else 0.0,
                    class_counts=tuple(counts),
                )
            )
        return report

    def summary(self, class_names: Sequence[str] | None = None) -> str:
        """One line per split (groups, examples, count and % of each class), then warnings."""
        lines = []
        for row in self.balance_report():
            names = class_names or [f"class {c}" for c in range(len(row.class_counts))]
            classes = ", ".join(
                f"{names[c]} {n} ({100 * f:.1f} %)"
                for c, (n, f) in enumerate(zip(row.class_counts, row.class_fractions, strict=True))
            )
            lines.append(
                f"{row.name}: {row.groups} groups, {row.examples} examples "
                f"({100 * row.share:.1f} %); {classes}"
            )
        lines += [f"warning: {warning}" for warning in self.warnings]
        return "\n".join(lines)


def grouped_split(
    groups: Sequence[str],
    labels: Sequence[int],
    *,
    fractions: tuple[float, float, float] = DEFAULT_FRACTIONS,
    seed: int,
) -> Split:
    """Assign each group wholly to train/validation/test (see the module notes for the method).

    Raises DatasetError when there are fewer groups than splits with a non-zero fraction;
    ValueError for inputs no dataset produces (lengths differ, negative labels, bad fractions).
    """
    _check_inputs(groups, labels, fractions)
    n_classes = max(labels, default=-1) + 1
    group_counts: dict[str, list[int]] = {}
    for group, label in zip(groups, labels, strict=True):
        group_counts.setdefault(group, [0] * n_classes)[label] += 1
    active = [s for s, fraction in enumerate(fractions) if fraction > 0]
    if len(group_counts) < len(active):
        raise DatasetError(
            f"{len(group_counts)} groups (patients/studies) cannot fill {len(active)} splits: "
            "each split needs at least one whole group"
        )
    order = sorted(group_counts)
    random.Random(seed).shuffle(order)
    assignment = _greedy(order, group_counts, fractions, active, n_classes)
    _refine(assignment, order, group_counts, fractions, active, n_classes)
    warnings = _repair(assignment, group_counts, active, n_classes)
    split = Split(
        seed=seed,
        fractions=fractions,
        group_split={group: SPLIT_NAMES[s] for group, s in sorted(assignment.items())},
        groups=tuple(groups),
        labels=tuple(labels),
        warnings=tuple(warnings),
    )
    _check_no_leakage(split)
    return split


def _check_inputs(
    groups: Sequence[str], labels: Sequence[int], fractions: tuple[float, float, float]
) -> None:
    if len(groups) != len(labels):
        raise ValueError(f"{len(groups)} groups but {len(labels)} labels")
    if any(label < 0 for label in labels):
        raise ValueError("labels must be class indices (0, 1, ...)")
    if len(fractions) != len(SPLIT_NAMES) or any(f < 0 or not math.isfinite(f) for f in fractions):
        raise ValueError(f"fractions must be three numbers >= 0, got {fractions}")
    if abs(sum(fractions) - 1.0) > 1e-6:
        raise ValueError(f"fractions must add up to 1, got {fractions} (sum {sum(fractions)})")


def _greedy(
    order: list[str],
    group_counts: dict[str, list[int]],
    fractions: tuple[float, float, float],
    active: list[int],
    n_classes: int,
) -> dict[str, int]:
    totals = [sum(counts[c] for counts in group_counts.values()) for c in range(n_classes)]
    weights = [1.0 / total if total else 0.0 for total in totals]
    targets = [[fractions[s] * totals[c] for c in range(n_classes)] for s in range(3)]
    current = [[0] * n_classes for _ in range(3)]
    assignment: dict[str, int] = {}
    for group in order:
        counts = group_counts[group]

        def cost(s: int, counts: list[int] = counts) -> float:
            return sum(
                weights[c] * g * (2 * (current[s][c] - targets[s][c]) + g)
                for c, g in enumerate(counts)
                if g
            )

        best = min(active, key=cost)
        assignment[group] = best
        for c, g in enumerate(counts):
            current[best][c] += g
    return assignment


def _refine(
    assignment: dict[str, int],
    order: list[str],
    group_counts: dict[str, list[int]],
    fractions: tuple[float, float, float],
    active: list[int],
    n_classes: int,
    *,
    max_steps: int = 500,
) -> None:
    """Best-improvement moves and swaps on Σ_split Σ_class w_c (count − target)²."""
    counts = np.array([group_counts[g] for g in order], dtype=np.float64).reshape(-1, n_classes)
    totals = counts.sum(axis=0)
    weights = np.divide(1.0, totals, out=np.zeros_like(totals), where=totals > 0)
    targets = np.array(fractions, dtype=np.float64)[:, None] * totals[None, :]
    where = np.array([assignment[g] for g in order])
    for _ in range(max_steps):
        excess = np.stack([counts[where == s].sum(axis=0) for s in range(3)]) - targets
        best: tuple[float, int, int, int] = (-1e-9, -1, -1, -1)  # (change, g, h or -1, to)
        for s in active:
            members = np.flatnonzero(where == s)
            for t in active:
                if t == s:
                    continue
                gap = excess[t] - excess[s]
                if len(members) > 1:  # move one group from s to t
                    move = 2 * (counts[members] * (gap + counts[members])) @ weights
                    i = int(np.argmin(move))
                    if move[i] < best[0]:
                        best = (float(move[i]), int(members[i]), -1, t)
                others = np.flatnonzero(where == t)
                if t > s and len(members) and len(others):  # swap a group of s and one of t
                    d = counts[others][None, :, :] - counts[members][:, None, :]
                    swap = 2 * (d * (d - gap)) @ weights
                    i, j = (int(k) for k in np.unravel_index(int(np.argmin(swap)), swap.shape))
                    if swap[i, j] < best[0]:
                        best = (float(swap[i, j]), int(members[i]), int(others[j]), t)
        _, g, h, t = best
        if g < 0:
            break
        if h >= 0:
            where[h] = where[g]
        where[g] = t
    for group, split in zip(order, where, strict=True):
        assignment[group] = int(split)


class _Assignment:
    """Group → split index, with the look-ups the repairs need."""

    def __init__(self, assignment: dict[str, int], group_counts: dict[str, list[int]]) -> None:
        self.split_of = assignment
        self.counts = group_counts

    def members(self, s: int) -> list[str]:
        return sorted(g for g, split in self.split_of.items() if split == s)

    def size(self, group: str) -> tuple[int, str]:
        return sum(self.counts[group]), group

    def classes(self, groups: list[str]) -> set[int]:
        return {c for g in groups for c, n in enumerate(self.counts[g]) if n}

    def class_examples(self, s: int, c: int) -> int:
        return sum(self.counts[g][c] for g in self.members(s))


def _repair(
    assignment: dict[str, int],
    group_counts: dict[str, list[int]],
    active: list[int],
    n_classes: int,
) -> list[str]:
    state = _Assignment(assignment, group_counts)
    for s in active:
        if not state.members(s):
            donor = max(active, key=lambda d: (len(state.members(d)), -d))
            assignment[min(state.members(donor), key=state.size)] = s
    warnings = []
    for c in range(n_classes):
        holders = [g for g in assignment if group_counts[g][c]]
        if not holders:
            continue
        for s in active:
            if any(assignment[g] == s for g in holders):
                continue
            if not _give_class(state, active, c, s):
                warnings.append(
                    f"{SPLIT_NAMES[s]} has no example of class {c}: only {len(holders)} "
                    "group(s) hold that class"
                )
    return warnings


def _give_class(state: _Assignment, active: list[int], c: int, receiver: int) -> bool:
    """Move the smallest group holding class `c` from the split richest in it, if allowed.

    Allowed: the giver keeps at least one group, at least one group with class `c`, and every
    other class it held.
    """
    for donor in sorted(active, key=lambda d: (-state.class_examples(d, c), d)):
        if donor == receiver:
            continue
        donor_groups = state.members(donor)
        holders = [g for g in donor_groups if state.counts[g][c]]
        if len(holders) < 2:
            continue
        before = state.classes(donor_groups)
        for group in sorted(holders, key=state.size):
            if state.classes([g for g in donor_groups if g != group]) == before:
                state.split_of[group] = receiver
                return True
    return False


def _check_no_leakage(split: Split) -> None:
    seen: dict[str, str] = {}
    for name in SPLIT_NAMES:
        for i in split.indices(name):
            group = split.groups[i]
            if seen.setdefault(group, name) != name:
                raise AssertionError(f"group {group!r} is in both {seen[group]} and {name}")

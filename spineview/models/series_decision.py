"""One decision per series before its verdict is shown: accepted, flagged or declined.

The rule, from the header checks (`models.series_check`) and the image content
(`models.distribution_check`):

- **declined** (no verdict unless the user insists) when the modality is not the one the model
  learnt, or when at least DECLINE_SHARE of the series' slices are far from the training data;
- **flagged** (the verdict is shown with the reason) when a header check doubts the series
  (another plane or sequence, one time point of a time series), or when at least FLAG_SHARE of
  its slices, and at least two, are far;
- **accepted** otherwise.

A slice is far when its distance exceeds the check's threshold, which about 1 % of the
validation slices exceed. Far slices of a familiar series are not rare and not independent:
on 79 sagittal series of 40 fresh synthetic studies, cnn-demo found 2–4 far slices (up to 27 %
of a series, all just beyond the threshold) in 6 STIR series, the rarer sequence of its
training data, and none elsewhere; every slice of 10 non-lumbar series was far, at 2–6 times
the threshold. Hence a share, not a count, flags. A model without a distribution check gets
the header checks only, and the reasons say that its content was not checked.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np

from spineview.models.distribution_check import DistributionCheck

DecisionStatus = Literal["accepted", "flagged", "declined"]
DECLINE_SHARE = 0.5
FLAG_SHARE = 0.3
FLAG_MIN_SLICES = 2


@dataclass(frozen=True)
class HeaderFinding:
    """A doubt the headers raise, in a sentence; `declines` when it alone rules a verdict out."""

    text: str
    declines: bool = False


@dataclass(frozen=True)
class SeriesDecision:
    status: DecisionStatus
    reasons: tuple[str, ...] = ()
    far_slices: tuple[int, ...] = ()
    """0-based indices of the slices beyond the distance threshold."""
    forced: bool = False
    """Declined, but the user asked for the verdict anyway."""
    content_checked: bool = True
    """False when the model has no distribution check (headers only)."""

    @property
    def shows_verdict(self) -> bool:
        return self.status != "declined" or self.forced

    @property
    def label(self) -> str:
        """ "accepted", "flagged", "declined" or "declined (shown on request)"."""
        return f"{self.status} (shown on request)" if self.forced else self.status

    @property
    def text(self) -> str:
        """The decision with its reasons, for captions, tooltips and reports."""
        if not self.reasons:
            return self.label
        return f"{self.label}: {'; '.join(self.reasons)}"

    def forcing(self) -> SeriesDecision:
        """The same decision with the verdict shown anyway (only a declined one changes)."""
        return replace(self, forced=True) if self.status == "declined" else self

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "shown_on_request": self.forced,
            "reasons": list(self.reasons),
            "far_slices": [index + 1 for index in self.far_slices],
            "content_checked": self.content_checked,
        }


def decide_series(
    findings: list[HeaderFinding],
    distances: np.ndarray | None,
    check: DistributionCheck | None,
    model_name: str,
    *,
    unit: str = "slice",
) -> SeriesDecision:
    """Apply the module's rule; `distances` are the slices' (NaN: no result), None with no
    check. `unit` names what the distances are of in the reasons (a grading model's are the
    crops of a study's findings: "crop")."""
    reasons = [finding.text for finding in findings]
    declined = any(finding.declines for finding in findings)
    flagged = bool(findings)
    far: tuple[int, ...] = ()
    content_checked = check is not None and distances is not None
    if check is not None and distances is not None:
        values = np.asarray(distances, dtype=np.float64)
        valid = np.isfinite(values)
        with np.errstate(invalid="ignore"):
            far = tuple(int(index) for index in np.flatnonzero(valid & (values > check.threshold)))
        count = int(valid.sum())
        if count and far:
            share = len(far) / count
            if share >= DECLINE_SHARE:
                declined = True
            if share >= DECLINE_SHARE or (share >= FLAG_SHARE and len(far) >= FLAG_MIN_SLICES):
                flagged = True
                reasons.append(_far_reason(far, count, values, check, model_name, unit))
    else:
        reasons.append(f"the image content was not checked: {model_name} has no distribution check")
    status: DecisionStatus = "declined" if declined else "flagged" if flagged else "accepted"
    if status == "accepted" and content_checked:
        reasons = []
    return SeriesDecision(status, tuple(reasons), far, content_checked=content_checked)


def _far_reason(
    far: tuple[int, ...],
    count: int,
    distances: np.ndarray,
    check: DistributionCheck,
    model: str,
    unit: str = "slice",
) -> str:
    plural = unit if len(far) == 1 else f"{unit}s"
    where = f"{plural} {slice_ranges(far)} ({len(far)} of {count})"
    if unit != "slice":
        where = f"{len(far)} of {count} {unit}s"
    verb = "is" if len(far) == 1 else "are"
    return (
        f"{where} {verb} far from anything {model} was trained on "
        f"(distance up to {np.nanmax(distances[list(far)]):.1f}; {check.percentile:g} % of its "
        f"validation {unit}s are below {check.threshold:.1f})"
    )


def slice_ranges(indices: tuple[int, ...] | list[int]) -> str:
    """0-based indices as 1-based ranges: (2, 3, 4, 9) -> "3–5, 10"."""
    runs: list[list[int]] = []
    for index in sorted(indices):
        if runs and index == runs[-1][-1] + 1:
            runs[-1].append(index)
        else:
            runs.append([index])
    return ", ".join(
        str(run[0] + 1) if len(run) == 1 else f"{run[0] + 1}–{run[-1] + 1}" for run in runs
    )

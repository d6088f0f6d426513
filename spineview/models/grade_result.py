"""What a grading model found in one study: the 25 findings of the RSNA 2024 task, each graded
Normal/Mild, Moderate or Severe with its probabilities and the evidence it was read from."""

from __future__ import annotations

from dataclasses import dataclass

from spineview.data.rsna_format import CONDITIONS, LEVELS, SEVERITIES, label_column


@dataclass(frozen=True)
class Finding:
    """One condition at one level."""

    condition: str
    """As in `rsna_format.CONDITIONS` ("Left Neural Foraminal Narrowing")."""
    level: str
    """As in `rsna_format.LEVELS` ("L4/L5")."""
    probabilities: tuple[float, float, float]
    """Normal/Mild, Moderate, Severe (calibrated; they sum to 1)."""
    series_key: str | None = None
    """The series the crop was taken from (`SeriesInfo.key`), None when none was found."""
    instance_number: int | None = None
    """The instance at the crop's centre."""
    crop_box: tuple[float, float, float, float] | None = None
    """(x0, y0, x1, y1) in pixels of that instance: the region the model read."""

    @property
    def column(self) -> str:
        """The train.csv column and submission row suffix ("left_neural_..._l4_l5")."""
        return label_column(self.condition, self.level)

    @property
    def grade(self) -> str:
        """The most probable grade."""
        best = max(range(len(SEVERITIES)), key=lambda index: self.probabilities[index])
        return SEVERITIES[best]

    @property
    def confidence(self) -> float:
        """The probability of the most probable grade."""
        return max(self.probabilities)


@dataclass(frozen=True)
class StudyGrades:
    """The findings of one study, or the reason there are none.

    `findings` holds up to 25 entries in `rsna_format` order (condition, then level); it is
    empty when nothing may be shown, and `reason` then says why. `decision` is the study's
    out-of-distribution decision ("accepted", "flagged", "declined") as for the slice
    classifiers: a flagged study's grades are shown with that warning."""

    study_uid: str
    findings: tuple[Finding, ...]
    reason: str
    decision: str = "accepted"
    model_name: str = ""

    def finding(self, condition: str, level: str) -> Finding | None:
        return next(
            (f for f in self.findings if f.condition == condition and f.level == level), None
        )


def all_findings_order() -> list[tuple[str, str]]:
    """(condition, level) of the 25 findings, in train.csv's column order."""
    return [(condition, level) for condition in CONDITIONS for level in LEVELS]

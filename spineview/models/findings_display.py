"""What the viewer says about a study's graded findings, worked out without Qt.

A `StudyGrades` (25 findings, each graded Normal/Mild, Moderate or Severe) becomes a grid of
levels × conditions (cell text, colours, tooltips), a one-line summary per study, a mark of
the worst grade beside each disc label, and, for a clicked cell, where the sagittal and axial
views go: the series and slice the finding was read from (with the region the model read),
and the other plane's slice nearest that level. The widgets only draw what these return.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from spineview.core.geometry import row_col_normal
from spineview.core.levels import LevelMap
from spineview.core.text import format_probability
from spineview.data.rsna_format import CONDITIONS, LEVELS, SEVERITIES, SEVERITY_INDEX
from spineview.dicom.index import SeriesInfo
from spineview.models.grade_result import Finding, StudyGrades

COLUMN_HEADERS: dict[str, str] = {
    "Spinal Canal Stenosis": "Canal",
    "Left Neural Foraminal Narrowing": "Foramen\nL",
    "Right Neural Foraminal Narrowing": "Foramen\nR",
    "Left Subarticular Stenosis": "Subart.\nL",
    "Right Subarticular Stenosis": "Subart.\nR",
}
"""The grid's columns, in `rsna_format.CONDITIONS` order (left and right are the patient's)."""
SHORT_CONDITIONS: dict[str, str] = {
    "Spinal Canal Stenosis": "spinal canal",
    "Left Neural Foraminal Narrowing": "left foramen",
    "Right Neural Foraminal Narrowing": "right foramen",
    "Left Subarticular Stenosis": "left subarticular",
    "Right Subarticular Stenosis": "right subarticular",
}
SHORT_GRADES: dict[str, str] = {"Normal/Mild": "N/M", "Moderate": "Mod", "Severe": "Sev"}
GRADE_COLOURS: dict[str, tuple[str, str]] = {
    "Normal/Mild": ("#e9eee9", "#1f2a1f"),
    "Moderate": ("#f2a93b", "#1a1200"),
    "Severe": ("#b2182b", "#ffffff"),
}
"""(background, text) per grade: pale, amber, dark red. Their lightness falls with the grade,
so they stay apart in grey and for red-green colour blindness; the cell's text names the grade
too, so colour is never the only cue."""
MARK_COLOURS: dict[str, str] = {"Moderate": "#ffb84d", "Severe": "#ff5c5c"}
"""The worst-grade mark beside a disc label, on a dark box over the image."""
NO_RESULT = "—"
LEGEND = "N/M Normal/Mild · Mod Moderate · Sev Severe · — no result"
NO_GRADES = "No findings yet: grades appear here when a grading model has read the study."

assert tuple(COLUMN_HEADERS) == CONDITIONS and tuple(GRADE_COLOURS) == SEVERITIES


def probabilities_text(finding: Finding) -> str:
    """ "Normal/Mild 12 % · Moderate 61 % · Severe 27 %" """
    return " · ".join(
        f"{grade} {format_probability(p)}"
        for grade, p in zip(SEVERITIES, finding.probabilities, strict=True)
    )


def cell_text(finding: Finding | None) -> str:
    """ "Mod 61 %" (the grade and its probability), "—" without a result."""
    if finding is None:
        return NO_RESULT
    return f"{SHORT_GRADES[finding.grade]} {format_probability(finding.confidence)}"


def cell_colours(finding: Finding | None) -> tuple[str, str] | None:
    """(background, text) of a graded cell; None (the table's own) without a result."""
    return None if finding is None else GRADE_COLOURS[finding.grade]


def cell_tooltip(
    condition: str, level: str, finding: Finding | None, series_name: str | None = None
) -> str:
    """The finding's name, its three probabilities and what it was read from."""
    title = f"{SHORT_CONDITIONS[condition].capitalize()} {level}"
    if finding is None:
        return f"{title}: no result"
    lines = [f"{title}: {finding.grade}", probabilities_text(finding)]
    if finding.series_key is None:
        lines.append("No series to read it from was found")
    else:
        where = f"Read from {series_name or 'series ' + finding.series_key}"
        if finding.instance_number is not None:
            where += f", instance {finding.instance_number}"
        lines.append(where + " (click: show it)")
    return "\n".join(lines)


def shows_grades(result: StudyGrades) -> bool:
    """A declined study shows no grades (its reason instead)."""
    return result.decision != "declined" and bool(result.findings)


def decision_text(result: StudyGrades) -> str:
    """ "" for an accepted study, "⚠ Flagged: <reason>", "Declined: <reason>"; a study with
    no findings says why."""
    reason = result.reason.strip() or "no reason given"
    if result.decision == "declined":
        return f"Declined: {reason}"
    if not result.findings:
        return f"No grades: {reason}"
    if result.decision == "flagged":
        return f"\u26a0 Flagged: {reason}"
    return ""


def worst_finding(findings: Sequence[Finding]) -> Finding | None:
    """The highest grade, the most probable of those on a tie; None without findings."""
    return max(
        findings,
        key=lambda f: (SEVERITY_INDEX[f.grade], f.confidence),
        default=None,
    )


def summary_text(result: StudyGrades) -> str:
    """One line for the Results dock: "Findings (grades-demo): 3 Moderate, 1 Severe — worst:
    spinal canal L4/L5 Severe 71 %", with the decision after it where there is one."""
    head = f"Findings ({result.model_name})" if result.model_name else "Findings"
    decision = decision_text(result)
    if not shows_grades(result):
        return f"{head}: {decision[0].lower()}{decision[1:]}"
    counts = {grade: 0 for grade in SEVERITIES}
    for finding in result.findings:
        counts[finding.grade] += 1
    raised = [f"{counts[grade]} {grade}" for grade in SEVERITIES[1:] if counts[grade]]
    if raised:
        worst = worst_finding(result.findings)
        assert worst is not None
        text = (
            f"{head}: {', '.join(raised)} — worst: {SHORT_CONDITIONS[worst.condition]} "
            f"{worst.level} {worst.grade} {format_probability(worst.confidence)}"
        )
    else:
        text = f"{head}: all {len(result.findings)} Normal/Mild"
    return f"{text}\n{decision}" if decision else text


@dataclass(frozen=True)
class LevelMark:
    """The worst grade at one level, for its disc label ("● Severe")."""

    grade: str
    text: str
    colour: str
    tooltip: str


def level_marks(result: StudyGrades | None) -> dict[str, LevelMark]:
    """Per level whose worst finding is Moderate or Severe, its mark; empty for a study
    without grades (none given, or declined)."""
    if result is None or not shows_grades(result):
        return {}
    marks = {}
    for level in LEVELS:
        at_level = [f for f in result.findings if f.level == level]
        worst = worst_finding(at_level)
        if worst is None or worst.grade == SEVERITIES[0]:
            continue
        names = [SHORT_CONDITIONS[f.condition] for f in at_level if f.grade == worst.grade]
        lines = [f"{f.grade}: {SHORT_CONDITIONS[f.condition]}" for f in at_level]
        flagged = decision_text(result)
        tooltip = f"{level} — {', '.join(names)} {worst.grade}\n" + "\n".join(lines)
        marks[level] = LevelMark(
            worst.grade,
            f"● {worst.grade}",
            MARK_COLOURS[worst.grade],
            f"{tooltip}\n{flagged}" if flagged else tooltip,
        )
    return marks


@dataclass(frozen=True)
class ViewTarget:
    """Where a view goes for a clicked finding: a series, its slice (0-based) and, on the
    slice the finding was read from, the region the model read ((x0, y0, x1, y1) pixels)."""

    series_key: str
    slice_index: int
    crop_box: tuple[float, float, float, float] | None = None


@dataclass(frozen=True)
class FindingTargets:
    sagittal: ViewTarget | None
    axial: ViewTarget | None


def finding_targets(
    finding: Finding, series: Sequence[SeriesInfo], levels: LevelMap | None
) -> FindingTargets:
    """Where the sagittal and axial views go for `finding`, among its study's `series`.

    The series the finding was read from (a sagittal one for the canal and the foramina, an
    axial one for the subarticular zones) goes to its instance with the crop box. The other
    plane goes to the slice nearest the level's disc, if the study's levels are known: the
    sagittal T2 (the canal's series) through the disc point, the axial slice nearest the
    disc. Without a slice to go to, a plane's target is None (that view stays as it is)."""
    own = _own_target(finding, series)
    own_plane = _plane_of(own.series_key, series) if own is not None else None
    sagittal = own if own_plane == "sagittal" else _sagittal_at_level(finding, series, levels)
    axial = own if own_plane == "axial" else _axial_at_level(finding.level, series, levels)
    return FindingTargets(sagittal, axial)


def slice_of_instance(info: SeriesInfo, instance_number: int) -> int | None:
    """The 0-based slice whose file has InstanceNumber `instance_number` (None if none)."""
    return next(
        (i for i, ref in enumerate(info.slices) if ref.header.instance_number == instance_number),
        None,
    )


def _own_target(finding: Finding, series: Sequence[SeriesInfo]) -> ViewTarget | None:
    info = next((s for s in series if s.key == finding.series_key), None)
    if info is None or finding.instance_number is None:
        return None
    index = slice_of_instance(info, finding.instance_number)
    return None if index is None else ViewTarget(info.key, index, finding.crop_box)


def _plane_of(key: str, series: Sequence[SeriesInfo]) -> str | None:
    return next((s.plane for s in series if s.key == key), None)


def sagittal_t2(series: Sequence[SeriesInfo]) -> SeriesInfo | None:
    """The study's sagittal T2 (or STIR), else its first sagittal series."""
    sagittal = [s for s in series if s.plane == "sagittal"]
    weighted = [s for s in sagittal if s.series_type.weighting in ("T2", "STIR")]
    return next(iter(weighted or sagittal), None)


def _sagittal_at_level(
    finding: Finding, series: Sequence[SeriesInfo], levels: LevelMap | None
) -> ViewTarget | None:
    """The sagittal T2's slice nearest the finding's disc point (its middle slice when the
    level is unknown)."""
    info = sagittal_t2(series)
    if info is None:
        return None
    point = _disc_point(finding.level, levels)
    distances = [
        abs(_off_plane(point, ref.position, ref.orientation))
        if point is not None and ref.position is not None and ref.orientation is not None
        else np.inf
        for ref in info.slices
    ]
    best = int(np.argmin(distances)) if np.isfinite(min(distances)) else info.n_slices // 2
    return ViewTarget(info.key, best)


def _axial_at_level(
    level: str, series: Sequence[SeriesInfo], levels: LevelMap | None
) -> ViewTarget | None:
    """The axial slice (of any axial series) nearest to `level`'s disc among those whose
    nearest disc it is; None without levels or such a slice."""
    if levels is None:
        return None
    best: tuple[float, str, int] | None = None
    for info in series:
        if info.plane != "axial":
            continue
        for index, ref in enumerate(info.slices):
            plane = ref.plane
            nearest = levels.nearest(plane) if plane is not None else None
            if nearest is None or nearest.level != level:
                continue
            if best is None or abs(nearest.distance_mm) < best[0]:
                best = (abs(nearest.distance_mm), info.key, index)
    return None if best is None else ViewTarget(best[1], best[2])


def _disc_point(level: str, levels: LevelMap | None) -> np.ndarray | None:
    if levels is None:
        return None
    point = next((p for p in levels.points if p.level == level), None)
    return None if point is None else np.asarray(point.position, dtype=np.float64)


def _off_plane(point: np.ndarray, position: Sequence[float], orientation: Sequence[float]) -> float:
    normal = row_col_normal(orientation)[2]
    return float((point - np.asarray(position, dtype=np.float64)) @ normal)

"""What the viewer says about graded findings (pure): cell texts, colours and tooltips, the
Results dock line, the worst grade per level, and where a clicked finding takes the views on
a synthetic study with its ground-truth levels."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pytest

from spineview.core.geometry import row_col_normal
from spineview.core.levels import LevelMap
from spineview.data.rsna import read_rsna_dataset
from spineview.data.rsna_format import CONDITIONS, LEVELS
from spineview.data.rsna_levels import study_level_maps
from spineview.data.synth import SynthOptions, synthesize
from spineview.dicom.index import SeriesInfo
from spineview.dicom.scan import scan_paths
from spineview.models.findings_display import (
    GRADE_COLOURS,
    NO_RESULT,
    cell_colours,
    cell_text,
    cell_tooltip,
    decision_text,
    finding_targets,
    level_marks,
    sagittal_t2,
    shows_grades,
    slice_of_instance,
    summary_text,
    worst_finding,
)
from spineview.models.grade_result import Finding, StudyGrades

SPINAL, LEFT_FORAMEN, _, LEFT_SUBARTICULAR, _ = CONDITIONS


def grades(*findings: Finding, decision: str = "accepted", reason: str = "") -> StudyGrades:
    return StudyGrades("1.2.3", findings, reason, decision, "grades-demo")


def test_cells_name_the_grade_and_colour_it() -> None:
    moderate = Finding(SPINAL, "L4/L5", (0.12, 0.61, 0.27), "k1", 8, (10, 20, 40, 50))
    assert cell_text(moderate) == "Mod 61 %"
    assert cell_text(Finding(SPINAL, "L1/L2", (0.995, 0.004, 0.001))) == "N/M > 99 %"
    assert cell_text(Finding(SPINAL, "L1/L2", (0.2, 0.1, 0.7))) == "Sev 70 %"
    assert cell_text(None) == NO_RESULT and cell_colours(None) is None
    assert cell_colours(moderate) == GRADE_COLOURS["Moderate"]
    tooltip = cell_tooltip(SPINAL, "L4/L5", moderate, "series 2 (Sagittal T2/STIR)")
    assert tooltip.splitlines() == [
        "Spinal canal L4/L5: Moderate",
        "Normal/Mild 12 % · Moderate 61 % · Severe 27 %",
        "Read from series 2 (Sagittal T2/STIR), instance 8 (click: show it)",
    ]
    assert cell_tooltip(SPINAL, "L5/S1", None) == "Spinal canal L5/S1: no result"
    unread = Finding(LEFT_FORAMEN, "L5/S1", (0.5, 0.3, 0.2))
    assert "No series" in cell_tooltip(LEFT_FORAMEN, "L5/S1", unread)


def test_grade_colours_darken_with_the_grade() -> None:
    """Lightness falls Normal/Mild → Moderate → Severe: apart without hue."""

    def lightness(hex_colour: str) -> float:
        r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    backgrounds = [lightness(GRADE_COLOURS[g][0]) for g in ("Normal/Mild", "Moderate", "Severe")]
    assert backgrounds[0] - backgrounds[1] > 40 and backgrounds[1] - backgrounds[2] > 40


def test_summary_counts_raised_grades_and_names_the_worst() -> None:
    result = grades(
        Finding(SPINAL, "L3/L4", (0.2, 0.7, 0.1)),
        Finding(SPINAL, "L4/L5", (0.1, 0.19, 0.71)),
        Finding(LEFT_FORAMEN, "L4/L5", (0.1, 0.2, 0.7)),
        Finding(LEFT_FORAMEN, "L5/S1", (0.3, 0.6, 0.1)),
        Finding(LEFT_SUBARTICULAR, "L1/L2", (0.9, 0.05, 0.05)),
    )
    assert summary_text(result) == (
        "Findings (grades-demo): 2 Moderate, 2 Severe — worst: spinal canal L4/L5 Severe 71 %"
    )
    assert worst_finding(result.findings) == result.findings[1]
    normal = grades(Finding(SPINAL, "L1/L2", (0.9, 0.05, 0.05)))
    assert summary_text(normal) == "Findings (grades-demo): all 1 Normal/Mild"


def test_the_decision_is_shown_per_study() -> None:
    finding = Finding(SPINAL, "L4/L5", (0.2, 0.7, 0.1))
    flagged = grades(finding, decision="flagged", reason="the axial series is oblique")
    assert shows_grades(flagged)
    assert decision_text(flagged) == "\u26a0 Flagged: the axial series is oblique"
    assert summary_text(flagged).splitlines()[1] == decision_text(flagged)
    declined = grades(finding, decision="declined", reason="not a lumbar spine")
    assert not shows_grades(declined) and level_marks(declined) == {}
    assert summary_text(declined) == "Findings (grades-demo): declined: not a lumbar spine"
    empty = grades(reason="no sagittal T2 series")
    assert summary_text(empty) == "Findings (grades-demo): no grades: no sagittal T2 series"
    assert decision_text(grades(finding)) == ""


def test_level_marks_give_the_worst_grade_above_normal() -> None:
    result = grades(
        Finding(SPINAL, "L4/L5", (0.2, 0.7, 0.1)),
        Finding(LEFT_FORAMEN, "L4/L5", (0.1, 0.2, 0.7)),
        Finding(LEFT_SUBARTICULAR, "L4/L5", (0.1, 0.1, 0.8)),
        Finding(SPINAL, "L3/L4", (0.3, 0.6, 0.1)),
        Finding(SPINAL, "L1/L2", (0.9, 0.05, 0.05)),
    )
    marks = level_marks(result)
    assert set(marks) == {"L3/L4", "L4/L5"}
    assert marks["L4/L5"].text == "● Severe" and marks["L3/L4"].text == "● Moderate"
    assert marks["L4/L5"].tooltip.splitlines()[0] == (
        "L4/L5 — left foramen, left subarticular Severe"
    )
    assert level_marks(None) == {}


@dataclass(frozen=True)
class Study:
    series: list[SeriesInfo]
    levels: LevelMap

    def first(self, plane: str) -> SeriesInfo:
        return next(s for s in self.series if s.plane == plane)


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Study:
    root = tmp_path_factory.mktemp("findings") / "data"
    options = SynthOptions(studies=1, seed=7, size=64, second_axial_rate=0.0)
    synthesize(root, replace(options, missing_series_rate=0.0), workers=1)
    maps, problems = study_level_maps(read_rsna_dataset(root))
    assert problems == []
    (found,) = scan_paths([root / "train_images"]).studies
    return Study(found.series, next(iter(maps.values())))


def _off_plane(levels: LevelMap, level: str, info: SeriesInfo, index: int) -> float:
    point = np.asarray(next(p.position for p in levels.points if p.level == level))
    ref = info.slices[index]
    assert ref.position is not None and ref.orientation is not None
    normal = row_col_normal(ref.orientation)[2]
    return abs(float((point - np.asarray(ref.position)) @ normal))


def test_a_sagittal_finding_goes_to_its_instance_and_the_axial_to_its_level(
    study: Study,
) -> None:
    sagittal = sagittal_t2(study.series)
    assert sagittal is not None and sagittal.plane == "sagittal"
    number = sagittal.slices[3].header.instance_number
    assert number is not None and slice_of_instance(sagittal, number) == 3
    finding = Finding(SPINAL, "L4/L5", (0.2, 0.7, 0.1), sagittal.key, number, (5, 6, 25, 30))
    targets = finding_targets(finding, study.series, study.levels)
    assert targets.sagittal is not None and targets.axial is not None
    assert (targets.sagittal.series_key, targets.sagittal.slice_index) == (sagittal.key, 3)
    assert targets.sagittal.crop_box == (5, 6, 25, 30)
    axial = next(s for s in study.series if s.key == targets.axial.series_key)
    assert axial.plane == "axial" and targets.axial.crop_box is None
    # the axial slice nearest the L4/L5 disc, of all axial slices
    chosen = study.levels.nearest(axial.slices[targets.axial.slice_index].plane)  # type: ignore[arg-type]
    assert chosen is not None and chosen.level == "L4/L5"
    for info in (s for s in study.series if s.plane == "axial"):
        for ref in info.slices:
            other = study.levels.nearest(ref.plane)  # type: ignore[arg-type]
            if other is not None and other.level == "L4/L5":
                assert abs(other.distance_mm) >= abs(chosen.distance_mm)
    # without levels the axial view stays where it is
    assert finding_targets(finding, study.series, None).axial is None


def test_an_axial_finding_goes_to_its_instance_and_the_sagittal_through_the_disc(
    study: Study,
) -> None:
    axial = study.first("axial")
    number = axial.slices[1].header.instance_number
    assert number is not None
    finding = Finding(LEFT_SUBARTICULAR, "L2/L3", (0.1, 0.1, 0.8), axial.key, number, (1, 2, 9, 9))
    targets = finding_targets(finding, study.series, study.levels)
    assert targets.axial is not None
    assert (targets.axial.series_key, targets.axial.slice_index) == (axial.key, 1)
    assert targets.axial.crop_box == (1, 2, 9, 9)
    sagittal = sagittal_t2(study.series)
    assert targets.sagittal is not None and sagittal is not None
    assert targets.sagittal.series_key == sagittal.key and targets.sagittal.crop_box is None
    distances = [_off_plane(study.levels, "L2/L3", sagittal, i) for i in range(sagittal.n_slices)]
    assert targets.sagittal.slice_index == int(np.argmin(distances))
    # an instance the series does not have: no outline, the views go by level alone
    lost = replace(finding, instance_number=9999)
    fallback = finding_targets(lost, study.series, study.levels)
    assert fallback.axial is not None and fallback.axial.crop_box is None
    no_levels = finding_targets(lost, study.series, None)
    assert no_levels.axial is None
    assert no_levels.sagittal is not None
    assert no_levels.sagittal.slice_index == sagittal.n_slices // 2


def test_every_condition_has_a_column() -> None:
    assert len(CONDITIONS) == 5 and len(LEVELS) == 5

"""Graded findings in the viewer: a synthetic RSNA-layout study opened in 1×2, given its
ground-truth levels and a hand-made `StudyGrades`, shows a levels × conditions grid coloured
by grade (probabilities in the tooltips), takes the views to a clicked finding with the region
read outlined, marks the worst grade beside the sagittal level labels, sums the findings up in
the Results dock, honours the study's decision, and forgets it all on a new open."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from pytestqt.qtbot import QtBot

from spineview.core.levels import LevelMap
from spineview.data.rsna import read_rsna_dataset
from spineview.data.rsna_format import CONDITIONS, LEVELS
from spineview.data.rsna_levels import study_level_maps
from spineview.data.synth import SynthOptions, synthesize
from spineview.dicom.index import SeriesInfo, StudyInfo
from spineview.dicom.scan import scan_paths
from spineview.models.findings_display import GRADE_COLOURS, NO_GRADES
from spineview.models.grade_result import Finding, StudyGrades
from spineview.models.level_result import StudyLevels
from spineview.ui.main_window import MainWindow
from spineview.ui.slice_view import SliceView
from tests.ui.conftest import open_and_wait, wait_until_loaded

SPINAL, LEFT_FORAMEN, RIGHT_FORAMEN, LEFT_SUBARTICULAR, RIGHT_SUBARTICULAR = CONDITIONS


@dataclass(frozen=True)
class GradedStudy:
    images: Path
    study: StudyInfo
    levels: LevelMap

    def series(self, plane: str, number: int = 0) -> SeriesInfo:
        return [s for s in self.study.series if s.plane == plane][number]

    @property
    def sagittal_t2(self) -> SeriesInfo:
        return next(s for s in self.study.series if "T2" in s.series_type.label)

    def level_result(self) -> StudyLevels:
        return StudyLevels(
            self.study.study_uid, self.levels, "the reader's labels", self.sagittal_t2.key
        )

    def grades(self, decision: str = "accepted", reason: str = "") -> StudyGrades:
        """Every finding but one (right subarticular L5/S1): spinal canal L4/L5 Severe on the
        sagittal T2's slice 4, left subarticular L3/L4 Moderate on an axial slice, the rest
        Normal/Mild."""
        sagittal, axial = self.sagittal_t2, self.series("axial", 2)
        findings = []
        for condition in CONDITIONS:
            for level in LEVELS:
                if (condition, level) == (RIGHT_SUBARTICULAR, "L5/S1"):
                    continue
                findings.append(Finding(condition, level, (0.8, 0.15, 0.05)))
        spinal = Finding(
            SPINAL,
            "L4/L5",
            (0.1, 0.19, 0.71),
            sagittal.key,
            _instance(sagittal, 4),
            (8, 10, 30, 26),
        )
        subarticular = Finding(
            LEFT_SUBARTICULAR, "L3/L4", (0.12, 0.61, 0.27), axial.key, _instance(axial, 1),
            (12, 14, 40, 36),
        )  # fmt: skip
        findings = [_pick(f, spinal, subarticular) for f in findings]
        return StudyGrades(self.study.study_uid, tuple(findings), reason, decision, "grades-demo")


def _instance(info: SeriesInfo, index: int) -> int:
    number = info.slices[index].header.instance_number
    assert number is not None
    return number


def _pick(finding: Finding, *chosen: Finding) -> Finding:
    return next(
        (c for c in chosen if (c.condition, c.level) == (finding.condition, finding.level)),
        finding,
    )


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> GradedStudy:
    root = tmp_path_factory.mktemp("findings-ui") / "data"
    options = SynthOptions(studies=1, seed=7, size=96, second_axial_rate=0.0)
    synthesize(root, replace(options, missing_series_rate=0.0), workers=1)
    maps, problems = study_level_maps(read_rsna_dataset(root))
    assert problems == [] and len(maps) == 1
    images = root / "train_images"
    (study,) = scan_paths([images]).studies
    return GradedStudy(images, study, next(iter(maps.values())))


def open_graded(qtbot: QtBot, window: MainWindow, graded: GradedStudy) -> tuple[SliceView, ...]:
    """Open in 1×2 (sagittal left, an axial right) with the study's levels."""
    window.set_layout("1x2")
    open_and_wait(qtbot, window, graded.images)
    window.pair.set_active(window.viewports[0])
    window.show_series(graded.sagittal_t2.key)
    wait_until_loaded(qtbot, window)
    window.show_levels(graded.level_result())
    return tuple(window.pair.views)


def _cell(window: MainWindow, condition: str, level: str) -> tuple[str, QColor, str]:
    item = window.panels.findings.table.item(LEVELS.index(level), CONDITIONS.index(condition))
    assert item is not None
    return item.text(), item.background().color(), item.toolTip()


def _click(qtbot: QtBot, window: MainWindow, condition: str, level: str) -> None:
    table = window.panels.findings.table
    item = table.item(LEVELS.index(level), CONDITIONS.index(condition))
    assert item is not None
    rect = table.visualItemRect(item)
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def test_the_grid_colours_each_grade_and_marks_the_level_labels(
    window: MainWindow, qtbot: QtBot, graded: GradedStudy
) -> None:
    sagittal, _axial = open_graded(qtbot, window, graded)
    assert not window.docks["findings"].isVisible()
    window.show_grades(graded.grades())
    assert window.docks["findings"].isVisible()
    text, colour, tooltip = _cell(window, SPINAL, "L4/L5")
    assert text == "Sev 71 %" and colour == QColor(GRADE_COLOURS["Severe"][0])
    assert tooltip.splitlines()[1] == "Normal/Mild 10 % · Moderate 19 % · Severe 71 %"
    assert f"instance {_instance(graded.sagittal_t2, 4)}" in tooltip
    assert graded.sagittal_t2.description in tooltip
    text, colour, _ = _cell(window, LEFT_SUBARTICULAR, "L3/L4")
    assert text == "Mod 61 %" and colour == QColor(GRADE_COLOURS["Moderate"][0])
    text, colour, _ = _cell(window, RIGHT_FORAMEN, "L1/L2")
    assert text == "N/M 80 %" and colour == QColor(GRADE_COLOURS["Normal/Mild"][0])
    assert _cell(window, RIGHT_SUBARTICULAR, "L5/S1")[0] == "—"
    assert not window.panels.findings.decision.isVisible()
    # the worst grade beside the labels of the levels that have one
    labels = {
        label.level: text.toPlainText().replace("\xa0", " ")
        # `texts` are slots: the first len(shown) hold the labels shown
        for label, text in zip(
            sagittal.level_labels.shown, sagittal.level_labels.texts, strict=False
        )
    }
    assert labels["L4/L5"] == "L4/L5  ● Severe" and labels["L3/L4"] == "L3/L4  ● Moderate"
    assert labels["L1/L2"] == "L1/L2"
    assert window.results.findings_text() == (
        "Findings (grades-demo): 1 Moderate, 1 Severe — worst: spinal canal L4/L5 Severe 71 %"
    )


def test_clicking_a_cell_shows_the_finding_with_the_region_read(
    window: MainWindow, qtbot: QtBot, graded: GradedStudy
) -> None:
    sagittal, axial = open_graded(qtbot, window, graded)
    window.show_grades(graded.grades())
    _click(qtbot, window, SPINAL, "L4/L5")
    wait_until_loaded(qtbot, window)
    assert sagittal.series_key == graded.sagittal_t2.key and sagittal.index == 4
    assert window.viewports[0].slider.value() == 4
    series = sagittal.series
    assert series is not None and series.pixel_spacing is not None
    row_spacing, column_spacing = series.pixel_spacing
    rect = sagittal.crop_outline.scene_rect
    assert rect is not None and all(item.isVisible() for item in sagittal.crop_outline.items)
    assert rect.left() == pytest.approx(8 * column_spacing)
    assert rect.top() == pytest.approx(10 * row_spacing)
    assert rect.right() == pytest.approx(30 * column_spacing)
    assert rect.bottom() == pytest.approx(26 * row_spacing)
    # the axial view: the slice nearest the L4/L5 disc
    assert axial.series is not None
    plane = axial.series.plane(axial.index)
    assert plane is not None
    nearest = graded.levels.nearest(plane)
    assert nearest is not None and nearest.level == "L4/L5" and abs(nearest.distance_mm) < 4
    assert axial.crop_outline.scene_rect is None

    sagittal.set_slice(5)  # away from the slice read: the outline goes
    assert sagittal.crop_outline.scene_rect is None
    assert not any(item.isVisible() for item in sagittal.crop_outline.items)

    _click(qtbot, window, LEFT_SUBARTICULAR, "L3/L4")
    wait_until_loaded(qtbot, window)
    axial_series = graded.series("axial", 2)
    assert axial.series_key == axial_series.key and axial.index == 1
    assert axial.crop_outline.box == (12, 14, 40, 36)
    assert sagittal.series_key == graded.sagittal_t2.key
    assert sagittal.crop_outline.scene_rect is None  # on the sagittal: the level's slice


def test_a_declined_study_shows_its_reason_and_a_flagged_one_its_warning(
    window: MainWindow, qtbot: QtBot, graded: GradedStudy
) -> None:
    sagittal, _axial = open_graded(qtbot, window, graded)
    grid = window.panels.findings
    window.show_grades(graded.grades("declined", "the images are far from the training data"))
    assert not grid.table.isVisible()
    assert grid.decision.isVisible()
    assert grid.decision.text() == "Declined: the images are far from the training data"
    assert all("●" not in text.toPlainText() for text in sagittal.level_labels.texts)
    assert window.results.findings_text() == (
        "Findings (grades-demo): declined: the images are far from the training data"
    )
    window.show_grades(graded.grades("flagged", "the axial series is oblique"))
    assert grid.table.isVisible()
    assert grid.decision.text() == "\u26a0 Flagged: the axial series is oblique"
    assert _cell(window, SPINAL, "L4/L5")[0] == "Sev 71 %"
    assert window.results.findings_text().splitlines()[1] == grid.decision.text()


def test_opening_new_paths_forgets_the_grades(
    window: MainWindow, qtbot: QtBot, graded: GradedStudy
) -> None:
    sagittal, _axial = open_graded(qtbot, window, graded)
    window.show_grades(graded.grades())
    uid = graded.study.study_uid
    window.show_grades(replace(graded.grades(), study_uid="1.2.3.4"))  # not open: dropped
    assert set(window.session.study_grades) == {uid}
    open_and_wait(qtbot, window, graded.images)
    assert window.session.study_grades == {}
    assert window.panels.findings.title.text() == NO_GRADES
    assert not window.panels.findings.table.isVisible()
    assert window.results.findings_text() == ""
    assert sagittal.level_marks == {}

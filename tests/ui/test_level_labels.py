"""Disc levels in the viewer: a synthetic RSNA-layout study opened in the main window and given
its ground-truth levels (`StudyLevels`) names and sorts its axial stacks in the series list,
puts the nearest level in an axial slice's corner, draws the five labels beside the spine on
the sagittal, hides them with L, and says why when there are none."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from spineview.core.levels import LEVELS, LevelMap
from spineview.core.series import Series
from spineview.data.rsna import read_rsna_dataset
from spineview.data.rsna_levels import study_level_maps
from spineview.data.synth import SynthOptions, synthesize
from spineview.dicom.index import StudyInfo
from spineview.dicom.scan import scan_paths
from spineview.models.level_result import StudyLevels
from spineview.ui.main_window import MainWindow
from spineview.ui.series_browser import LEVELS_FOUND_HERE
from spineview.ui.slice_view import SliceView
from tests.ui.conftest import open_and_wait, wait_until_loaded


@dataclass(frozen=True)
class LevelledStudy:
    images: Path
    study: StudyInfo
    levels: LevelMap

    def result(self) -> StudyLevels:
        sagittal_t2 = next(s for s in self.study.series if "T2" in s.series_type.label)
        assert sagittal_t2.plane == "sagittal"
        return StudyLevels(
            self.study.study_uid,
            self.levels,
            "the reader's labels (train_label_coordinates.csv)",
            source_series=sagittal_t2.key,
        )

    def key(self, plane: str, number: int = 0) -> str:
        return [s.key for s in self.study.series if s.plane == plane][number]


@pytest.fixture(scope="module")
def levelled(tmp_path_factory: pytest.TempPathFactory) -> LevelledStudy:
    root = tmp_path_factory.mktemp("levels-ui") / "data"
    # a second axial series would add stacks that repeat levels: keep one per disc
    synthesize(root, SynthOptions(studies=1, seed=7, size=160, second_axial_rate=0.0), workers=1)
    maps, problems = study_level_maps(read_rsna_dataset(root))
    assert problems == [] and len(maps) == 1
    images = root / "train_images"
    (study,) = scan_paths([images]).studies
    return LevelledStudy(images, study, next(iter(maps.values())))


def open_levelled(qtbot: QtBot, window: MainWindow, levelled: LevelledStudy) -> None:
    window.set_layout("1x2")
    open_and_wait(qtbot, window, levelled.images)


def open_sagittal_and_axial(
    qtbot: QtBot, window: MainWindow, levelled: LevelledStudy
) -> tuple[SliceView, SliceView]:
    """The study open in 1×2: the levels' sagittal on the left, the first axial stack right."""
    open_levelled(qtbot, window, levelled)
    sagittal_key = levelled.result().source_series
    assert sagittal_key is not None
    return (
        show_in(qtbot, window, 0, sagittal_key),
        show_in(qtbot, window, 1, levelled.key("axial", 0)),
    )


def show_in(qtbot: QtBot, window: MainWindow, viewport: int, key: str) -> SliceView:
    window.pair.set_active(window.viewports[viewport])
    window.show_series(key)
    wait_until_loaded(qtbot, window)
    view = window.viewports[viewport].view
    assert view.series_key == key
    return view


def test_axial_stacks_are_named_and_sorted_by_level(
    window: MainWindow, qtbot: QtBot, levelled: LevelledStudy
) -> None:
    open_levelled(qtbot, window, levelled)
    uid = levelled.study.study_uid
    before = window.browser.series_texts(uid)
    assert not any(text.startswith("L") for text in before)
    window.show_levels(levelled.result())
    rows = window.browser.series_texts(uid)
    assert len(rows) == len(before)
    named = [row for row in rows if row.split(" ")[0] in LEVELS]
    assert [row.split(" ")[0] for row in named] == list(LEVELS), rows
    for row in named:  # "L4/L5 (+0.4 mm)\n3  T2W_TSE_TRA"
        level, series = row.split("\n")
        _, distance, unit = level.split(" ")
        assert distance.startswith("(") and abs(float(distance[1:])) < 4.0, row
        assert unit == "mm)" and series == "3  T2W_TSE_TRA"
    # the stacks keep the places of the axial rows: after the sagittal ones
    assert rows.index(named[0]) == len(rows) - len(named)
    marked = [row for row in rows if LEVELS_FOUND_HERE in row]
    assert len(marked) == 1 and "T2" in marked[0]
    assert "reader's label" in _row_tooltip(window, named[0])
    # the list opens the series a row names
    window.browser.select(levelled.key("axial", 2))
    assert window.browser.selected_key() == levelled.key("axial", 2)


def _row_tooltip(window: MainWindow, text: str) -> str:
    items = window.browser.findItems(text, Qt.MatchFlag.MatchExactly | Qt.MatchFlag.MatchRecursive)
    assert len(items) == 1
    return items[0].toolTip(0)


def test_views_show_the_nearest_level_and_the_labels_beside_the_spine(
    window: MainWindow, qtbot: QtBot, levelled: LevelledStudy
) -> None:
    sagittal, axial = open_sagittal_and_axial(qtbot, window, levelled)
    assert not sagittal.level_labels.shown
    window.show_levels(levelled.result())

    series = axial.series
    assert series is not None
    for index in range(series.n_slices):
        axial.set_slice(index)
        plane = series.plane(index)
        assert plane is not None
        nearest = levelled.levels.nearest(plane)
        assert nearest is not None
        distance = f"{round(nearest.distance_mm, 1) + 0.0:+.1f}"
        assert _level_lines(axial) == [f"{nearest.level} {distance} mm"]
    assert not axial.level_labels.shown  # an axial slice gets no labels

    shown = sagittal.level_labels.shown
    assert [label.level for label in shown] == list(LEVELS)
    sagittal_series = sagittal.series
    assert sagittal_series is not None and sagittal_series.pixel_spacing is not None
    plane = sagittal_series.plane(sagittal.index)
    assert plane is not None
    projected = levelled.levels.in_image(plane, sagittal_series.pixel_spacing)
    row_spacing, column_spacing = sagittal_series.pixel_spacing
    for label, text, point in zip(shown, sagittal.level_labels.texts, projected, strict=True):
        assert label.disc == pytest.approx(
            ((point.column + 0.5) * column_spacing, (point.row + 0.5) * row_spacing)
        )
        assert text.isVisible() and text.toPlainText() == point.level
        # the text sits in front of the spine (patient front: lower y, LPS), at the disc's height
        assert text.pos().y() == pytest.approx(label.disc[1], abs=1e-6)
        in_front = _patient_y(sagittal_series, text.pos().x()) < _patient_y(
            sagittal_series, label.disc[0]
        )
        assert in_front
    heights = [text.pos().y() for text in sagittal.level_labels.texts]
    assert heights == sorted(heights)  # head to feet down the image
    assert all(label.faded is False for label in shown)  # the mid-sagittal slice
    sagittal.set_slice(0)  # the most lateral slice: discs far off it
    assert all(label.faded for label in sagittal.level_labels.shown)
    assert all(text.opacity() < 1 for text in sagittal.level_labels.texts)

    qtbot.keyClick(window, Qt.Key.Key_L)
    assert not window.actions_by_name["level_labels"].isChecked()
    assert not sagittal.level_labels.shown
    assert not any(text.isVisible() for text in sagittal.level_labels.texts)
    assert _level_lines(axial) == []
    qtbot.keyClick(window, Qt.Key.Key_L)
    assert len(sagittal.level_labels.shown) == len(LEVELS)
    assert any(text.isVisible() for text in sagittal.level_labels.texts)


def _patient_y(series: Series, x_mm: float) -> float:
    """How far to the back (LPS y, up to a constant) image x (mm) lies along a row."""
    assert series.orientation is not None
    return float(series.orientation[1]) * x_mm


def _level_lines(view: SliceView) -> list[str]:
    lines = view.corner["top_left"].text().split("\n")
    return [line for line in lines if line.split(" ")[0].rstrip("?") in LEVELS]


def test_without_levels_nothing_is_labelled_and_the_reason_is_shown(
    window: MainWindow, qtbot: QtBot, levelled: LevelledStudy
) -> None:
    sagittal, axial = open_sagittal_and_axial(qtbot, window, levelled)
    uid = levelled.study.study_uid
    before = window.browser.series_texts(uid)
    reason = "the sagittal series has a single slice"
    window.show_levels(StudyLevels(uid, None, reason))
    expected = f"No disc levels: {reason}"
    assert window.status_label.text() == expected
    assert window.browser.series_texts(uid) == before  # no names, no order change
    study_row = window.browser.topLevelItem(0)
    assert study_row is not None and expected in study_row.text(0)
    assert not sagittal.level_labels.shown
    assert not any(text.isVisible() for text in sagittal.level_labels.texts)
    assert _level_lines(axial) == []


def test_opening_new_paths_forgets_the_levels(
    window: MainWindow, qtbot: QtBot, levelled: LevelledStudy
) -> None:
    sagittal, _axial = open_sagittal_and_axial(qtbot, window, levelled)
    uid = levelled.study.study_uid
    window.show_levels(levelled.result())
    assert window.session.study_levels
    # a result for a study that is not open is dropped
    window.show_levels(StudyLevels("1.2.3.4", None, "elsewhere"))
    assert set(window.session.study_levels) == {uid}
    open_and_wait(qtbot, window, levelled.images)
    assert window.session.study_levels == {}
    assert not any(row.startswith("L") for row in window.browser.series_texts(uid))
    assert all(not view.level_labels.shown for view in window.pair.views)
    assert sagittal.series_key is not None
    show_in(qtbot, window, 0, sagittal.series_key)
    assert not window.pair.views[0].level_labels.shown

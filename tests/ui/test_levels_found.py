"""The viewer finds an opened study's disc levels by itself, with the bundled level model: the
demo-like study's axial stacks come to read L1/L2 … L5/S1 with no label given."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from spineview.config import Config
from spineview.core.levels import LEVELS
from spineview.data.synth import SynthOptions, synthesize
from spineview.models.catalogue import find_model
from spineview.ui.levels_controller import level_model
from spineview.ui.main_window import MainWindow
from tests.ui.conftest import open_and_wait, shown_window

pytestmark = [pytest.mark.gui, pytest.mark.tf]


@pytest.fixture(scope="module")
def demo_like(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("levels-found") / "data"
    options = SynthOptions(studies=1, seed=7, size=192, difficulty=0.3, second_axial_rate=0.0)
    synthesize(root, options, workers=1)
    return root / "train_images"


@pytest.fixture
def finding_window(application: QApplication, qtbot: QtBot) -> Iterator[MainWindow]:
    yield from shown_window(qtbot, Config(load_model_at_start=False, find_levels_on_open=True))


def test_an_opened_study_gets_its_levels_from_the_bundled_model(
    finding_window: MainWindow, qtbot: QtBot, demo_like: Path
) -> None:
    window = finding_window
    window.set_layout("1x2")
    open_and_wait(qtbot, window, demo_like)
    (study,) = window.session.scan_result.studies  # type: ignore[union-attr]
    qtbot.waitUntil(lambda: study.study_uid in window.session.study_levels, timeout=120_000)
    result = window.session.study_levels[study.study_uid]
    assert result is not None and result.levels is not None, result
    assert result.model_name == "levels-demo" and "levels-demo" in result.reason
    assert [point.level for point in result.levels.points] == list(LEVELS)
    assert all(0 < point.confidence < 1 for point in result.levels.points)
    rows = window.browser.series_texts(study.study_uid)
    named = [row.split(" ")[0] for row in rows if row.split(" ")[0] in LEVELS]
    assert named == list(LEVELS), rows
    # the labels reach the sagittal view the window shows first
    assert [label.level for label in window.viewports[0].view.level_labels.shown] == list(LEVELS)


def test_opening_other_paths_forgets_and_cancels(
    finding_window: MainWindow, qtbot: QtBot, demo_like: Path, tmp_path: Path
) -> None:
    window = finding_window
    open_and_wait(qtbot, window, demo_like)
    window.open_paths([tmp_path])  # an empty folder: nothing found, the search stops
    qtbot.waitUntil(lambda: not window.level_finder.is_busy(), timeout=60_000)
    assert window.session.study_levels == {}


def test_the_viewer_takes_only_a_usable_level_model(tmp_path: Path) -> None:
    bundled = find_model("levels-demo").path
    identity, reason = level_model("levels-demo")
    assert identity is not None and identity[0] == bundled and reason == ""
    assert level_model("cnn-demo")[0] is None
    assert "is a slice classifier, not a level model" in level_model("cnn-demo")[1]
    assert "no model named" in level_model("no-such-model")[1]
    untested = tmp_path / "untested-levels"
    shutil.copytree(bundled, untested)
    manifest = json.loads((untested / "manifest.json").read_text())
    manifest["metrics"] = {}
    (untested / "manifest.json").write_text(json.dumps(manifest))
    identity, reason = level_model(str(untested))
    assert identity is None and "is not usable" in reason


def test_a_trained_level_model_put_to_use_finds_the_open_studys_levels_again(
    finding_window: MainWindow, qtbot: QtBot, demo_like: Path, tmp_path: Path
) -> None:
    window = finding_window
    copy = tmp_path / "my-levels"
    shutil.copytree(find_model("levels-demo").path, copy)
    open_and_wait(qtbot, window, demo_like)
    (study,) = window.session.scan_result.studies  # type: ignore[union-attr]
    qtbot.waitUntil(lambda: study.study_uid in window.session.study_levels, timeout=120_000)
    window.session.study_levels.clear()
    window._use_trained_model(copy)
    assert window.config.level_model == str(copy)
    qtbot.waitUntil(lambda: study.study_uid in window.session.study_levels, timeout=120_000)
    assert window.session.study_levels[study.study_uid].levels is not None


def test_a_study_with_levels_is_graded_and_its_findings_shown(
    finding_window: MainWindow, qtbot: QtBot, demo_like: Path
) -> None:
    window = finding_window
    open_and_wait(qtbot, window, demo_like)
    (study,) = window.session.scan_result.studies  # type: ignore[union-attr]
    grades = window.session.study_grades
    qtbot.waitUntil(lambda: study.study_uid in grades, timeout=180_000)
    graded = grades[study.study_uid]
    assert graded is not None and graded.decision == "accepted", graded
    assert graded.model_name == "grades-demo" and len(graded.findings) == 25
    keys = set(window.session.series_info)
    for finding in graded.findings:
        assert finding.series_key in keys and finding.crop_box is not None
        assert abs(sum(finding.probabilities) - 1.0) < 1e-6 and max(finding.probabilities) < 1.0

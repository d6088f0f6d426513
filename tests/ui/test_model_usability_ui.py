"""A model the quality gate rejects: listed apart in the picker, asked about before use, and
flagged in the caption, the Results panel and the model indicator."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import QLabel, QMessageBox
from pytestqt.qtbot import QtBot

from spineview.models.catalogue import (
    MANIFEST_FILE_NAME,
    WEIGHTS_FILE_NAME,
    bundled_models_dir,
    user_models_dir,
)
from spineview.models.distribution_check import DISTRIBUTION_FILE_NAME
from spineview.models.verdict import series_verdict
from spineview.ui.classification import NOT_USABLE_CAPTION, FlaggedSliceClassification
from spineview.ui.model_picker import (
    NOT_USABLE_HEADING,
    ModelDetailsDialog,
    ModelPicker,
)
from spineview.ui.results_panel import ResultsPanel

DEMO_FOLDER = bundled_models_dir() / "cnn-demo"
CHANCE_METRICS = {"roc_auc": 0.55, "roc_auc_ci": [0.38, 0.71]}
REASON_START = "ROC AUC 0.55 (95 % interval 0.38–0.71) reaches 0.5"


def _not_usable_model(name: str = "shuffled", *, real_weights: bool = False) -> Path:
    """A user model made from the bundled demo, with test metrics at chance level."""
    folder = user_models_dir() / name
    folder.mkdir(parents=True)
    data = json.loads((DEMO_FOLDER / MANIFEST_FILE_NAME).read_text(encoding="utf-8"))
    data.update(name=name, demo=False, description=f"{name}, trained here")
    for part in ("raw", "calibrated"):
        data["metrics"][part].update(CHANCE_METRICS)
    (folder / MANIFEST_FILE_NAME).write_text(json.dumps(data), encoding="utf-8")
    if real_weights:
        shutil.copyfile(DEMO_FOLDER / WEIGHTS_FILE_NAME, folder / WEIGHTS_FILE_NAME)
        shutil.copyfile(DEMO_FOLDER / DISTRIBUTION_FILE_NAME, folder / DISTRIBUTION_FILE_NAME)
    else:
        (folder / WEIGHTS_FILE_NAME).write_bytes(b"placeholder")
    return folder


class Answers:
    """Stands in for QMessageBox.exec: records each question and gives a set answer."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.answer = QMessageBox.StandardButton.Cancel
        self.asked: list[str] = []

        def exec_(box: QMessageBox) -> int:
            self.asked.append(f"{box.windowTitle()}\n{box.text()}\n{box.informativeText()}")
            return int(self.answer)

        monkeypatch.setattr(QMessageBox, "exec", exec_)


@pytest.fixture
def answers(monkeypatch: pytest.MonkeyPatch) -> Answers:
    return Answers(monkeypatch)


@pytest.fixture
def picker(qtbot: QtBot) -> ModelPicker:
    widget = ModelPicker()
    qtbot.addWidget(widget)
    widget.resize(480, 90)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def _items(picker: ModelPicker) -> list[str]:
    return [picker.combo.itemText(i) for i in range(picker.combo.count())]


def _warning(picker: ModelPicker) -> QLabel:
    label = picker.findChild(QLabel, "modelNotUsable")
    assert label is not None
    return label


@pytest.mark.gui
def test_a_not_usable_model_is_listed_apart_with_its_reason(
    picker: ModelPicker, answers: Answers
) -> None:
    _not_usable_model()
    picker.refresh()
    assert _items(picker) == [
        "cnn-demo (demo)",
        "resnet50-demo (demo)",
        "",  # the separator
        NOT_USABLE_HEADING,
        "shuffled (not usable)",
    ]
    model = picker.combo.model()
    assert isinstance(model, QStandardItemModel)
    heading = model.item(3)
    assert heading is not None and not heading.isEnabled()
    tooltip = picker.combo.itemData(4, Qt.ItemDataRole.ToolTipRole)
    assert tooltip.startswith(f"NOT USABLE: {REASON_START}")
    assert picker.current_model() is not None and picker.current_model().bundled  # type: ignore[union-attr]
    assert _warning(picker).isHidden()
    assert answers.asked == []  # listing asks nothing


@pytest.mark.gui
def test_choosing_it_asks_first_and_cancel_keeps_the_model(
    qtbot: QtBot, picker: ModelPicker, answers: Answers
) -> None:
    _not_usable_model()
    picker.refresh()
    before = picker.current_model()
    with qtbot.assertNotEmitted(picker.model_changed):
        picker.combo.setCurrentIndex(4)  # as the user picks it
    assert len(answers.asked) == 1 and "shuffled is marked not usable" in answers.asked[0]
    assert REASON_START in answers.asked[0] and "carry this warning" in answers.asked[0]
    assert picker.current_model() == before and picker.combo.currentIndex() == 0

    answers.answer = QMessageBox.StandardButton.Yes
    with qtbot.waitSignal(picker.model_changed) as changed:
        picker.combo.setCurrentIndex(4)
    info = changed.args[0]
    assert info.manifest.name == "shuffled" and picker.current_model() == info
    label = _warning(picker)
    assert label.isVisible() and REASON_START in label.text()
    assert picker.combo.toolTip().startswith("shuffled · cnn · NOT USABLE · ")


@pytest.mark.gui
def test_the_heading_cannot_be_chosen(qtbot: QtBot, picker: ModelPicker, answers: Answers) -> None:
    _not_usable_model()
    picker.refresh()
    with qtbot.assertNotEmitted(picker.model_changed):
        picker.combo.setCurrentIndex(3)
    assert picker.combo.currentIndex() == 0 and answers.asked == []


@pytest.mark.gui
def test_use_this_model_asks_first(qtbot: QtBot, picker: ModelPicker, answers: Answers) -> None:
    """The training dialog's *Use this model* goes through `select_model`."""
    folder = _not_usable_model()
    picker.refresh()
    with qtbot.assertNotEmitted(picker.model_changed):
        assert not picker.select_model(folder)
    assert len(answers.asked) == 1
    answers.answer = QMessageBox.StandardButton.Yes
    with qtbot.waitSignal(picker.model_changed):
        assert picker.select_model(folder)
    assert len(answers.asked) == 2
    assert picker.select_model(folder)  # already selected: not asked again
    assert len(answers.asked) == 2
    picker.select_model("cnn-demo")
    assert picker.select_model(folder, ask=False)  # the model remembered from the last session
    assert len(answers.asked) == 2 and picker.current_model().path == folder  # type: ignore[union-attr]
    with qtbot.assertNotEmitted(picker.model_changed):
        picker.refresh()  # keeps it without asking
    assert len(answers.asked) == 2


@pytest.mark.gui
def test_details_lead_with_the_reason(qtbot: QtBot, picker: ModelPicker, answers: Answers) -> None:
    folder = _not_usable_model()
    picker.refresh()
    picker.select_model(folder, ask=False)
    dialog = picker.show_details()
    assert dialog is not None
    qtbot.addWidget(dialog)
    banner = dialog.findChild(QLabel, "modelDetailsNotUsable")
    assert banner is not None and banner.isVisible() and REASON_START in banner.text()
    assert "Verdict        not usable" in dialog.details_text()
    demo = ModelDetailsDialog(picker.models()[0], picker)
    qtbot.addWidget(demo)
    assert demo.usability_banner.isHidden()


@pytest.mark.gui
def test_results_panel_shows_the_warning(qtbot: QtBot) -> None:
    from spineview.models.predictions import SlicePredictions

    panel = ResultsPanel()
    qtbot.addWidget(panel)
    panel.show()
    calibrated = np.array([0.2, 0.7, 0.8, 0.1])
    predictions = SlicePredictions(raw=calibrated, calibrated=calibrated, threshold=0.5)
    verdict = series_verdict(calibrated, 0.5, 2)
    warning = f"model not usable: {REASON_START}: the model may have learnt nothing"
    panel.set_result("shuffled", None, predictions, verdict, "degenerative",
                     usability_warning=warning)  # fmt: skip
    label = panel.findChild(QLabel, "resultsModelNotUsable")
    assert label is not None and label.isVisible()
    assert (
        label.text()
        == f"\u26a0 Model not usable: {REASON_START}: the model may have learnt nothing"
    )
    assert panel.usability_warning() == label.text()
    panel.set_result("cnn-demo", None, predictions, verdict, "degenerative")
    assert label.isHidden() and panel.usability_warning() == ""


def test_the_caption_gets_a_warning_line() -> None:
    flagged = FlaggedSliceClassification(
        "shuffled", np.array([0.9, np.nan]), 0.5, ("healthy", "degenerative")
    )
    assert flagged.caption(0) == f"shuffled: degenerative 90 %\n{NOT_USABLE_CAPTION}"
    assert flagged.caption(1).endswith(NOT_USABLE_CAPTION)
    assert flagged.caption(5) == ""


MODEL_TIMEOUT = 90_000


@pytest.mark.gui
@pytest.mark.tf
def test_every_result_in_the_viewer_carries_the_warning(
    qtbot: QtBot, answers: Answers, application: Any, demo_folder: Path
) -> None:
    from spineview.config import Config
    from spineview.ui.main_window import MainWindow
    from tests.ui.conftest import open_and_wait

    folder = _not_usable_model(real_weights=True)
    main = MainWindow(
        Config(
            load_model_at_start=False,
            find_levels_on_open=False,
            grade_on_levels=False,
            model=str(folder),
        )
    )
    qtbot.addWidget(main)
    main.resize(1400, 900)
    main.show()
    qtbot.waitExposed(main)
    try:
        assert answers.asked == []  # the remembered model is not asked about at start
        assert main.model_picker.current_model().path == folder  # type: ignore[union-attr]
        open_and_wait(qtbot, main, demo_folder)
        main.classify_active()
        view = main.active.view
        qtbot.waitUntil(
            lambda: main.classification.result_for(view) is not None, timeout=MODEL_TIMEOUT
        )
        assert "NOT USABLE" in main.model_indicator.text()
        assert view.caption.text().endswith(NOT_USABLE_CAPTION)
        assert "declined" in view.caption.text()  # the phantom is far from the training data
        main.results.force_button.click()
        assert "%" in view.caption.text() and view.caption.text().endswith(NOT_USABLE_CAPTION)
        assert view.caption.text().startswith("shuffled: ")
        assert REASON_START in main.results.usability_warning()
        qtbot.waitUntil(lambda: main.runner.running() == 0, timeout=30_000)
    finally:
        main.close()


def test_the_training_dialog_logs_whether_its_model_was_put_to_use(
    qtbot: QtBot, answers: Answers, application: Any
) -> None:
    from spineview.config import Config
    from spineview.ui.main_window import MainWindow

    folder = _not_usable_model("declined", real_weights=True)
    main = MainWindow(
        Config(load_model_at_start=False, find_levels_on_open=False, grade_on_levels=False)
    )
    qtbot.addWidget(main)
    try:
        before = main.model_picker.current_model()
        dialog = main.show_training()
        dialog.use_model.emit(folder)  # what *Use this model* sends; the user says Cancel
        log = dialog.log.toPlainText()
        assert "declined was not put to use; the viewer keeps its model" in log
        assert "is now the viewer's model" not in log
        assert main.model_picker.current_model() == before
        answers.answer = QMessageBox.StandardButton.Yes
        dialog.use_model.emit(folder)
        assert len(answers.asked) == 2
        assert "declined is now the viewer's model" in dialog.log.toPlainText()
        assert main.model_picker.current_model().path == folder  # type: ignore[union-attr]
        qtbot.waitUntil(lambda: main.runner.running() == 0, timeout=MODEL_TIMEOUT)
    finally:
        main.close()

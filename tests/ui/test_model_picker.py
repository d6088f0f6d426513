"""ModelPicker: bundled and user models, demo marking, selection signal, details dialog."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox, QLabel
from pytestqt.qtbot import QtBot

from spineview.models.catalogue import (
    MANIFEST_FILE_NAME,
    WEIGHTS_FILE_NAME,
    ModelInfo,
    bundled_models_dir,
    list_models,
    user_models_dir,
)
from spineview.models.manifest import DEMO_NOTICE
from spineview.models.model_text import DEMO_SHORT_NOTICE, model_details, model_summary
from spineview.ui.model_picker import (
    NO_MODELS_TEXT,
    ModelDetailsDialog,
    ModelPicker,
    status_colours,
)

DEMO_FOLDER = bundled_models_dir() / "cnn-demo"


def _user_model(folder_name: str, **changes: Any) -> Path:
    """A user model folder made from the bundled demo's manifest (listing never checks the
    weights' checksum, so a placeholder weights file will do)."""
    folder = user_models_dir() / folder_name
    folder.mkdir(parents=True)
    data = json.loads((DEMO_FOLDER / MANIFEST_FILE_NAME).read_text(encoding="utf-8"))
    data.update(name=folder_name, demo=False, description=f"{folder_name}, trained here")
    data.update(changes)
    (folder / MANIFEST_FILE_NAME).write_text(json.dumps(data), encoding="utf-8")
    (folder / WEIGHTS_FILE_NAME).write_bytes(b"placeholder")
    return folder


@pytest.fixture
def picker(qtbot: QtBot) -> ModelPicker:
    widget = ModelPicker()
    qtbot.addWidget(widget)
    widget.resize(420, 70)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def _items(picker: ModelPicker) -> list[str]:
    return [picker.combo.itemText(i) for i in range(picker.combo.count())]


def _current_path(picker: ModelPicker) -> Path | None:
    info = picker.current_model()
    return info.path if info is not None else None


def _demo_label(picker: ModelPicker) -> QLabel:
    label = picker.findChild(QLabel, "modelDemoNotice")
    assert label is not None
    return label


@pytest.mark.gui
def test_starts_empty(picker: ModelPicker) -> None:
    assert _items(picker) == [NO_MODELS_TEXT]
    assert not picker.combo.isEnabled()
    assert not picker.details_button.isEnabled()
    assert picker.current_model() is None
    assert _demo_label(picker).isHidden()
    assert picker.show_details() is None


@pytest.mark.gui
def test_refresh_lists_the_bundled_demo_with_its_notice(qtbot: QtBot, picker: ModelPicker) -> None:
    with qtbot.waitSignal(picker.model_changed) as changed:
        picker.refresh()
    info = picker.current_model()
    assert info is not None and info.bundled and info.path == DEMO_FOLDER
    assert changed.args == [info]
    assert _items(picker) == ["cnn-demo (demo)", "resnet50-demo (demo)"]
    assert picker.combo.isEnabled() and picker.details_button.isEnabled()
    assert picker.combo.itemData(0, Qt.ItemDataRole.ToolTipRole) == model_details(info)
    assert picker.combo.toolTip() == model_summary(info.manifest)
    label = _demo_label(picker)
    assert label.isVisible()
    assert label.text() == DEMO_SHORT_NOTICE
    amber = status_colours(picker.palette()).warning.name()
    assert amber in label.styleSheet()
    assert picker.problems == []


@pytest.mark.gui
def test_user_models_are_listed_after_the_bundled_ones(qtbot: QtBot, picker: ModelPicker) -> None:
    mine = _user_model("my-model")
    picker.refresh()
    assert _items(picker) == ["cnn-demo (demo)", "resnet50-demo (demo)", "my-model"]
    with qtbot.waitSignal(picker.model_changed) as changed:
        picker.combo.setCurrentIndex(picker.combo.findText("my-model"))  # as the user picks it
    info = changed.args[0]
    assert isinstance(info, ModelInfo)
    assert info.path == mine and not info.bundled and info.manifest.name == "my-model"
    assert picker.current_model() == info
    assert _demo_label(picker).isHidden()
    with qtbot.waitSignal(picker.model_changed) as changed:
        picker.combo.setCurrentIndex(0)
    assert changed.args[0].bundled
    assert _demo_label(picker).isVisible()


@pytest.mark.gui
def test_select_model_by_folder_or_name(qtbot: QtBot, picker: ModelPicker) -> None:
    mine = _user_model("my-model")
    picker.refresh()
    with qtbot.waitSignal(picker.model_changed):
        assert picker.select_model(str(mine))
    assert _current_path(picker) == mine
    with qtbot.waitSignal(picker.model_changed):
        assert picker.select_model("cnn-demo")
    assert _current_path(picker) == DEMO_FOLDER
    with qtbot.assertNotEmitted(picker.model_changed):
        assert not picker.select_model("no-such-model")
        assert picker.select_model(DEMO_FOLDER)  # already selected: no change, no signal
    assert _current_path(picker) == DEMO_FOLDER


@pytest.mark.gui
def test_refresh_keeps_the_selected_folder(qtbot: QtBot, picker: ModelPicker) -> None:
    mine = _user_model("my-model")
    picker.refresh()
    picker.select_model(mine)
    _user_model("another")  # sorts before my-model
    with qtbot.assertNotEmitted(picker.model_changed):
        picker.refresh()
    assert _items(picker) == ["cnn-demo (demo)", "resnet50-demo (demo)", "another", "my-model"]
    assert _current_path(picker) == mine

    shutil.rmtree(mine)
    with qtbot.waitSignal(picker.model_changed) as changed:
        picker.refresh()
    assert changed.args[0].path == DEMO_FOLDER  # gone: the first model is selected


@pytest.mark.gui
def test_refresh_reports_unusable_folders(picker: ModelPicker) -> None:
    broken = user_models_dir() / "broken"
    broken.mkdir(parents=True)
    (broken / MANIFEST_FILE_NAME).write_text("{not json", encoding="utf-8")
    picker.refresh()
    assert _items(picker) == ["cnn-demo (demo)", "resnet50-demo (demo)"]
    assert len(picker.problems) == 1
    assert str(broken) in picker.problems[0]


@pytest.mark.gui
def test_shared_names_say_where_each_model_comes_from(picker: ModelPicker) -> None:
    _user_model("copy", name="cnn-demo", demo=True)
    picker.refresh()
    assert _items(picker) == [
        "cnn-demo [bundled] (demo)",
        "resnet50-demo (demo)",
        "cnn-demo [user] (demo)",
    ]


@pytest.mark.gui
def test_set_models_select_and_empty_state(qtbot: QtBot, picker: ModelPicker) -> None:
    mine = _user_model("my-model")
    models, _ = list_models()
    with qtbot.waitSignal(picker.model_changed) as changed:
        picker.set_models(models, select="my-model")
    assert changed.args[0].path == mine
    with qtbot.waitSignal(picker.model_changed) as changed:
        picker.set_models([])
    assert changed.args == [None]
    assert picker.combo.currentText() == NO_MODELS_TEXT
    assert not picker.combo.isEnabled()
    assert picker.current_model() is None
    assert _demo_label(picker).isHidden()


@pytest.mark.gui
def test_details_dialog_shows_the_metrics_and_the_demo_banner(
    qtbot: QtBot, picker: ModelPicker
) -> None:
    picker.refresh()
    qtbot.mouseClick(picker.details_button, Qt.MouseButton.LeftButton)
    dialog = picker.findChild(ModelDetailsDialog)
    assert dialog is not None
    qtbot.waitExposed(dialog)
    text = dialog.details_text()
    assert text == model_details(dialog.info)
    metrics = dialog.info.manifest.metrics
    auc, ece = f"{metrics['calibrated']['roc_auc']:.3f}", f"{metrics['ece_calibrated']:.3f}"
    for expected in ("Test metrics", "ROC AUC", auc, "Balanced accuracy", "ECE", ece):
        assert expected in text, expected
    assert dialog.text.isReadOnly()
    assert dialog.banner.isVisible()
    assert DEMO_NOTICE in dialog.banner.text()

    buttons = dialog.findChild(QDialogButtonBox)
    assert buttons is not None
    close = buttons.button(QDialogButtonBox.StandardButton.Close)
    qtbot.mouseClick(close, Qt.MouseButton.LeftButton)
    assert not dialog.isVisible()


@pytest.mark.gui
def test_details_dialog_of_a_user_model_has_no_banner(qtbot: QtBot, picker: ModelPicker) -> None:
    _user_model("my-model")
    picker.refresh()
    picker.select_model("my-model")
    dialog = picker.show_details()
    assert dialog is not None
    qtbot.waitExposed(dialog)
    assert dialog.banner.isHidden()
    assert "user model" in dialog.details_text()
    assert "DEMO" not in dialog.details_text()


def test_the_picker_lists_models_without_tensorflow(private_home: Path) -> None:
    _user_model("my-model")
    code = (
        "import sys\n"
        "from PySide6.QtWidgets import QApplication\n"
        "app = QApplication([])\n"
        "from spineview.ui.model_picker import ModelPicker\n"
        "picker = ModelPicker()\n"
        "picker.refresh()\n"
        "names = [m.manifest.name for m in picker.models()]\n"
        "assert names == ['cnn-demo', 'resnet50-demo', 'my-model'], names\n"
        "picker.show_details()\n"
        "loaded = [m for m in ('tensorflow', 'keras', 'h5py') if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    environment = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120, env=environment)

"""spineview.config: defaults, round trip, bad fields, corrupt files moved aside, atomic save."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import sys
from pathlib import Path

import pytest

from spineview.config import Config, config_path, load_config, save_config
from spineview.core import files as files_module


def test_config_path_is_under_spineview_home(private_home: Path) -> None:
    assert config_path() == private_home / "config" / "config.json"


def test_missing_file_gives_defaults(tmp_path: Path) -> None:
    assert load_config(tmp_path / "absent.json") == Config()
    assert load_config() == Config()  # default path, nothing written yet
    defaults = Config()
    assert defaults.hide_patient_data is False
    assert defaults.export_hides_patient_data is True
    assert defaults.cine_frames_per_second == 8.0
    assert defaults.default_layout == "1x1"
    assert defaults.max_recent_folders == 10


def test_round_trip_creates_the_folder(private_home: Path) -> None:
    changed = Config(
        hide_patient_data=True,
        export_hides_patient_data=False,
        cine_frames_per_second=12.5,
        default_layout="1x2",
        max_recent_folders=3,
    )
    assert not (private_home / "config").exists()
    save_config(changed)
    assert config_path().is_file()
    assert load_config() == changed
    assert json.loads(config_path().read_text(encoding="utf-8")) == dataclasses.asdict(changed)


def test_round_trip_with_explicit_path(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "settings.json"
    save_config(Config(max_recent_folders=5), path)
    assert load_config(path) == Config(max_recent_folders=5)


def test_unknown_keys_ignored_and_int_accepted_for_float(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(
        json.dumps(
            {"cine_frames_per_second": 15, "from_the_future": [1, 2], "default_layout": "1x2"}
        ),
        encoding="utf-8",
    )
    loaded = load_config(path)
    assert loaded == Config(cine_frames_per_second=15.0, default_layout="1x2")
    assert isinstance(loaded.cine_frames_per_second, float)


@pytest.mark.parametrize(
    ("field", "bad_value"),
    [
        ("hide_patient_data", "yes"),
        ("hide_patient_data", 1),  # an int is not a bool
        ("export_hides_patient_data", None),
        ("cine_frames_per_second", "fast"),
        ("cine_frames_per_second", True),
        ("cine_frames_per_second", -2.0),
        ("default_layout", "3x3"),
        ("default_layout", 2),
        ("max_recent_folders", 2.5),
        ("max_recent_folders", False),
        ("max_recent_folders", -1),
    ],
)
def test_invalid_field_falls_back_to_its_default_only(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, field: str, bad_value: object
) -> None:
    path = tmp_path / "config.json"
    data = dataclasses.asdict(Config(hide_patient_data=True, max_recent_folders=4))
    data["default_layout"] = "1x2"
    data[field] = bad_value
    path.write_text(json.dumps(data), encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="spineview.config"):
        loaded = load_config(path)
    assert getattr(loaded, field) == getattr(Config(), field)
    for other in data:
        if other != field:
            assert getattr(loaded, other) == data[other]
    assert field in caplog.text
    assert path.is_file()  # a bad field does not move the file aside


@pytest.mark.parametrize(
    "content",
    ['{"hide_patient_data": tru', "[1, 2, 3]", '"just a string"', "", b"\xff\xfe\x00garbage"],
)
def test_corrupt_file_moved_aside_and_defaults_returned(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, content: str | bytes
) -> None:
    path = tmp_path / "config.json"
    old_bytes = content if isinstance(content, bytes) else content.encode("utf-8")
    path.write_bytes(old_bytes)
    with caplog.at_level(logging.WARNING, logger="spineview.config"):
        assert load_config(path) == Config()
    assert not path.exists()
    moved = list(tmp_path.glob("config.json.corrupt-*"))
    assert len(moved) == 1
    assert moved[0].read_bytes() == old_bytes
    assert "moved it to" in caplog.text


def test_second_corrupt_file_in_the_same_second_keeps_the_first(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text("{broken one", encoding="utf-8")
    load_config(path)
    path.write_text("{broken two", encoding="utf-8")
    load_config(path)
    kept = sorted(p.read_text(encoding="utf-8") for p in tmp_path.glob("config.json.corrupt-*"))
    assert kept == ["{broken one", "{broken two"]


def test_corrupt_file_then_save_writes_a_fresh_file(private_home: Path) -> None:
    path = config_path()
    path.parent.mkdir(parents=True)
    path.write_text("not json", encoding="utf-8")
    config = load_config()
    config.hide_patient_data = True
    save_config(config)
    assert load_config() == Config(hide_patient_data=True)
    assert len(list(path.parent.glob("config.json.corrupt-*"))) == 1


def test_failed_save_leaves_old_file_intact_and_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "config.json"
    save_config(Config(max_recent_folders=7), path)
    old_text = path.read_text(encoding="utf-8")

    def failing_replace(source: object, target: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(files_module.os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        save_config(Config(max_recent_folders=1), path)
    assert path.read_text(encoding="utf-8") == old_text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json"]


def test_save_writes_through_fsync(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[int] = []
    real_fsync = os.fsync

    def recording_fsync(descriptor: int) -> None:
        synced.append(descriptor)
        real_fsync(descriptor)

    monkeypatch.setattr(files_module.os, "fsync", recording_fsync)
    save_config(Config(), tmp_path / "config.json")
    assert synced  # at least the temporary file was fsynced before the rename


def test_config_module_does_not_import_qt() -> None:
    import subprocess

    code = (
        "import sys, spineview.config; "
        "sys.exit(any(m.startswith(('PySide6', 'pyqtgraph')) for m in sys.modules))"
    )
    completed = subprocess.run([sys.executable, "-c", code], check=False, timeout=120)
    assert completed.returncode == 0

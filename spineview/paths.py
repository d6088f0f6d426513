"""Where spineview finds its resources and keeps its own files.

Resources live beside the package in a checkout (`<repo>/resources`), inside the package data of
an installed wheel (`spineview/_resources`), or in PyInstaller's `sys._MEIPASS`. User files go
under platformdirs' directories unless `SPINEVIEW_HOME` points elsewhere (tests always set it, so
they never touch a real user's files).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import platformdirs

APP_NAME = "spineview"
HOME_ENV = "SPINEVIEW_HOME"


def resources_dir() -> Path:
    """The folder holding bundled models and other read-only resources."""
    frozen_root = getattr(sys, "_MEIPASS", None)
    if frozen_root is not None:
        return Path(frozen_root) / "resources"
    package_dir = Path(__file__).resolve().parent
    installed = package_dir / "_resources"
    if installed.is_dir():
        return installed
    return package_dir.parent / "resources"


def _home_override() -> Path | None:
    value = os.environ.get(HOME_ENV)
    return Path(value).expanduser() if value else None


def user_data_dir() -> Path:
    """User models and other data spineview creates."""
    home = _home_override()
    return home / "data" if home else Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def user_config_dir() -> Path:
    """The JSON config file's folder."""
    home = _home_override()
    if home:
        return home / "config"
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def user_log_dir() -> Path:
    """Rotating log files."""
    home = _home_override()
    return home / "logs" if home else Path(platformdirs.user_log_dir(APP_NAME, appauthor=False))

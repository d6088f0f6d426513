"""The recently opened folders, kept in the window's QSettings, and the File → Open recent
menu that lists them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMenu, QWidget


class RecentFolders:
    """Most recent first, at most `limit`; choosing one in `menu` calls `open_folder`."""

    def __init__(
        self,
        settings: QSettings,
        limit: int,
        open_folder: Callable[[Path], None],
        parent: QWidget,
    ) -> None:
        self.settings = settings
        self.limit = limit
        self.open_folder = open_folder
        self.menu = QMenu("Open &recent", parent)
        self.refresh()

    def folders(self) -> list[str]:
        value = self.settings.value("recent_folders", [])
        if isinstance(value, str):
            return [value]
        return [str(v) for v in value] if isinstance(value, list) else []

    def remember(self, folder: Path) -> None:
        text = str(folder.resolve())
        recent = [text, *(f for f in self.folders() if f != text)]
        self.settings.setValue("recent_folders", recent[: self.limit])
        self.refresh()

    def refresh(self) -> None:
        self.menu.clear()
        for folder in self.folders():
            action = self.menu.addAction(folder)
            action.triggered.connect(lambda _=False, f=folder: self.open_folder(Path(f)))
        self.menu.setEnabled(bool(self.folders()))

    def last(self) -> str:
        """Where a file dialog starts: the most recent folder, else the home folder."""
        recent = self.folders()
        return recent[0] if recent else str(Path.home())

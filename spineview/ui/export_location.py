"""Where an exported view is saved by default: never inside a folder opened as a study."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from PySide6.QtCore import QStandardPaths

_USER_FOLDERS = (
    QStandardPaths.StandardLocation.PicturesLocation,
    QStandardPaths.StandardLocation.DocumentsLocation,
    QStandardPaths.StandardLocation.HomeLocation,
)


def default_export_folder(remembered: str, opened: Iterable[str | Path]) -> Path:
    """The folder the export dialog starts in: the last export folder while it exists, then
    the user's Pictures, Documents or home folder; the first of them that lies outside every
    folder in `opened` (the folders opened as studies). If all lie inside one (a study opened
    at the home folder), the home folder's parent."""
    studies = [_resolved(Path(folder)) for folder in opened if str(folder)]
    candidates = [Path(remembered)] if remembered else []
    candidates += [Path(QStandardPaths.writableLocation(kind)) for kind in _USER_FOLDERS]
    for candidate in candidates:
        if str(candidate) and candidate.is_dir() and not _inside_any(candidate, studies):
            return candidate
    home = Path.home()
    return home.parent if _inside_any(home, studies) else home


def is_inside_study(path: Path, opened: Iterable[str | Path]) -> bool:
    """Whether `path` lies in (or is) one of the `opened` study folders."""
    return _inside_any(path, [_resolved(Path(folder)) for folder in opened if str(folder)])


def _inside_any(path: Path, studies: list[Path]) -> bool:
    target = _resolved(path)
    return any(target == study or study in target.parents for study in studies)


def _resolved(path: Path) -> Path:
    try:
        return path.expanduser().resolve()
    except (OSError, RuntimeError):  # a loop of links, an unreadable mount: compare as given
        return path.absolute()

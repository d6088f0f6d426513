"""The model catalogue: model folders (`manifest.json` + `model.weights.h5`, bundled or the
user's), listed, found, validated and deleted without TensorFlow, and the files fitted after
training that sit beside the weights.

Listing (`list_models`, `read_manifest`) never imports TensorFlow: the viewer lists models before
TF has loaded; loading weights and saving are `ml.store`'s. A save or delete killed half-way
leaves folders beside the model (`.<name>.tmp-<pid>`, `.<name>.old-<pid>`, `.<name>.deleted-<pid>`):
listing, loading, saving and deleting first put a set-aside model back and remove what dead
processes left (`recover_folder`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import os
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spineview.core.files import fsync_folder, write_bytes_atomic, write_text_atomic
from spineview.errors import ModelLoadError
from spineview.models.distribution_check import DISTRIBUTION_FILE_NAME, DistributionCheck
from spineview.models.head_posterior import HEAD_POSTERIOR_FILE_NAME, HeadPosterior
from spineview.models.manifest import (
    DEMO_NOTICE,
    MANIFEST_FORMAT_VERSION,
    WEIGHTS_STORAGES,
    ModelManifest,
)
from spineview.paths import resources_dir, user_data_dir

__all__ = [
    "DEMO_NOTICE",
    "MANIFEST_FILE_NAME",
    "MANIFEST_FORMAT_VERSION",
    "WEIGHTS_FILE_NAME",
    "WEIGHTS_STORAGES",
    "Fitted",
    "ModelInfo",
    "ModelManifest",
    "attach_fitted",
    "bundled_models_dir",
    "delete_model",
    "file_sha256",
    "find_model",
    "list_models",
    "load_distribution_check",
    "load_head_posterior",
    "read_manifest",
    "record_metrics",
    "user_model_folder",
    "user_models_dir",
]

logger = logging.getLogger(__name__)

MANIFEST_FILE_NAME = "manifest.json"
WEIGHTS_FILE_NAME = "model.weights.h5"
MAX_MANIFEST_BYTES = 4 * 1024 * 1024
"""A manifest is a few kilobytes of JSON; refuse to parse anything much bigger."""
MAX_MODEL_NAME_LENGTH = 100

_MODEL_NAME = re.compile(r"[A-Za-z0-9_.-]+")
_LEFTOVER = re.compile(r"\.(?P<name>.+)\.(?P<kind>tmp|old|deleted)-(?P<pid>[0-9]+)")
"""What a save (`tmp`: the new folder; `old`: the previous one set aside) or a delete leaves
beside a model folder while it runs, named after the model folder and the process."""


@dataclass
class ModelInfo:
    path: Path
    """The model folder."""
    manifest: ModelManifest
    bundled: bool
    """Shipped with spineview (read-only, under resources/models) rather than the user's."""

    @property
    def weights_path(self) -> Path:
        return self.path / WEIGHTS_FILE_NAME


# --- where models live ------------------------------------------------------------------------


def bundled_models_dir() -> Path:
    """Demo models shipped with spineview (read-only)."""
    return resources_dir() / "models"


def user_models_dir() -> Path:
    """Models the user trained or imported."""
    return user_data_dir() / "models"


def user_model_folder(name: str) -> Path:
    """The folder for the user's model `name` (letters, digits, '-', '_', '.'; not hidden)."""
    if (
        not isinstance(name, str)
        or not _MODEL_NAME.fullmatch(name)
        or name.startswith(".")
        or len(name) > MAX_MODEL_NAME_LENGTH
    ):
        raise ModelLoadError(
            f"{name!r} is not a usable model name: use up to {MAX_MODEL_NAME_LENGTH} letters, "
            "digits, '-', '_' or '.', not starting with '.'"
        )
    return user_models_dir() / name


def is_bundled(folder: Path) -> bool:
    try:
        return folder.resolve().is_relative_to(bundled_models_dir().resolve())
    except OSError:
        return False


# --- listing (no TensorFlow) ------------------------------------------------------------------


def read_manifest(folder: Path) -> ModelManifest:
    """The validated manifest of the model folder `folder`; ModelLoadError naming it otherwise."""
    path = Path(folder) / MANIFEST_FILE_NAME
    try:
        if not path.is_file():
            raise ModelLoadError(f"{folder}: not a model folder ({MANIFEST_FILE_NAME} is missing)")
        size = path.stat().st_size
        if size > MAX_MANIFEST_BYTES:
            raise ModelLoadError(f"{path}: the model manifest is too large ({size} bytes)")
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelLoadError(f"{path}: the model manifest cannot be read ({exc})") from exc
    except json.JSONDecodeError as exc:
        raise ModelLoadError(f"{path}: the model manifest is not valid JSON ({exc})") from exc
    return ModelManifest.from_dict(data, source=path)


def list_models(task: str | None = None) -> tuple[list[ModelInfo], list[str]]:
    """Every usable model (bundled first, then the user's) and a line per unusable folder;
    with `task` ("slices", "levels") only the models of that task.

    A folder is listed when its manifest is valid and its weights file exists; the checksum is
    verified only on loading. Hidden folders (temporary folders of a save) are skipped; what
    killed saves left in the user's models folder is recovered first (`recover_folder`). One bad
    folder never stops the others from being listed. TensorFlow is not imported.
    """
    models: list[ModelInfo] = []
    problems: list[str] = []
    for root, bundled in ((bundled_models_dir(), True), (user_models_dir(), False)):
        if not root.is_dir():
            continue
        if not bundled:
            _recover_all(root)
        try:
            folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
        except OSError as exc:
            problems.append(f"{root}: the models folder cannot be read ({exc})")
            continue
        for folder in folders:
            try:
                manifest = read_manifest(folder)
                if not (folder / WEIGHTS_FILE_NAME).is_file():
                    raise ModelLoadError(
                        f"{folder}: the weights file {WEIGHTS_FILE_NAME} is missing"
                    )
            except ModelLoadError as exc:
                logger.warning("skipping model folder: %s", exc)
                problems.append(str(exc))
                continue
            if task is None or manifest.task == task:
                models.append(ModelInfo(folder, manifest, bundled))
    return models, problems


def find_model(reference: str | Path) -> ModelInfo:
    """The model a user names: a model folder's path, else a model name (the user's model of
    that name before a bundled one). ModelLoadError listing the names otherwise."""
    path = Path(reference).expanduser()
    recover_folder(path)
    if path.is_dir() and (path / MANIFEST_FILE_NAME).is_file():
        manifest = read_manifest(path)
        if not (path / WEIGHTS_FILE_NAME).is_file():
            raise missing_weights_error(path)
        return ModelInfo(path, manifest, is_bundled(path))
    models, _problems = list_models()
    named = [info for info in models if str(reference) in (info.manifest.name, info.path.name)]
    if named:
        return sorted(named, key=lambda info: info.bundled)[0]
    known = ", ".join(sorted({info.manifest.name for info in models})) or "none"
    raise ModelLoadError(f"no model named {str(reference)!r} (models found: {known})")


TASK_NAMES = {
    "slices": "a slice classifier",
    "levels": "a level model",
    "grades": "a grading model",
}


def require_task(folder: Path, task: str) -> ModelManifest:
    """The manifest of the model folder `folder` if its model does `task`; ModelLoadError
    saying what it is and what is wanted otherwise (a level model chosen to classify). What a
    killed save left is recovered first, as loading does."""
    recover_folder(Path(folder))
    manifest = read_manifest(folder)
    if manifest.task != task:
        raise ModelLoadError(
            f"{folder}: {manifest.name!r} is {TASK_NAMES.get(manifest.task, manifest.task)}, "
            f"not {TASK_NAMES[task]}; `spineview models` lists each model's task"
        )
    return manifest


def delete_model(folder: Path) -> None:
    """Delete one of the user's model folders (a bundled model never): it is renamed aside
    first, so a half-deleted folder is never listed as a model."""
    folder = Path(folder)
    if is_bundled(folder):
        raise ModelLoadError(f"{folder}: a bundled model cannot be deleted")
    recover_folder(folder)
    if not (folder / MANIFEST_FILE_NAME).is_file():
        raise ModelLoadError(f"{folder}: not a model folder; nothing was deleted")
    aside = folder.parent / f".{folder.name}.deleted-{os.getpid()}"
    remove_tree(aside)
    os.replace(folder, aside)
    fsync_folder(folder.parent)
    remove_tree(aside)


def missing_weights_error(folder: Path) -> ModelLoadError:
    return ModelLoadError(
        f"{folder}: the weights file {WEIGHTS_FILE_NAME} is missing; save or copy the model again"
    )


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# --- files fitted after training --------------------------------------------------------------


@dataclass(frozen=True)
class Fitted:
    """What is fitted on the training slices' features after training, stored beside the
    weights (each its own .npz, named with its sha256 in the manifest)."""

    distribution: DistributionCheck | None = None
    posterior: HeadPosterior | None = None

    def files(self) -> list[tuple[str, str, bytes, dict[str, Any]]]:
        """(manifest field, file name, content, manifest entry) of each part present."""
        parts: list[tuple[str, str, Any]] = [
            ("distribution_check", DISTRIBUTION_FILE_NAME, self.distribution),
            ("head_posterior", HEAD_POSTERIOR_FILE_NAME, self.posterior),
        ]
        result = []
        for name, file_name, part in parts:
            if part is not None:
                data = part.to_bytes()
                entry = {**part.summary(), "sha256": hashlib.sha256(data).hexdigest()}
                result.append((name, file_name, data, entry))
        return result


def load_distribution_check(folder: Path, manifest: ModelManifest) -> DistributionCheck | None:
    """The model's in-distribution check, or None when its manifest names none (a model made
    before checks existed). ModelLoadError naming the file when it is missing, altered (its
    sha256 differs from the manifest's) or unreadable."""
    path = _verified_fitted_file(folder, manifest.distribution_check, DISTRIBUTION_FILE_NAME)
    return None if path is None else DistributionCheck.load(path)


def load_head_posterior(folder: Path, manifest: ModelManifest) -> HeadPosterior | None:
    """The model's last-layer posterior, or None when its manifest names none; errors as
    `load_distribution_check`'s."""
    path = _verified_fitted_file(folder, manifest.head_posterior, HEAD_POSTERIOR_FILE_NAME)
    return None if path is None else HeadPosterior.load(path)


def _verified_fitted_file(folder: Path, entry: dict[str, Any], file_name: str) -> Path | None:
    if not entry:
        return None
    path = Path(folder) / file_name
    try:
        digest = file_sha256(path)
    except OSError as exc:
        raise ModelLoadError(f"{path}: cannot be read ({exc})") from exc
    if digest != entry.get("sha256"):
        raise ModelLoadError(
            f"{path}: does not match the checksum in {MANIFEST_FILE_NAME}: the file was modified "
            "or corrupted; fit it again (spineview models fit-check)"
        )
    return path


def attach_fitted(folder: Path, fitted: Fitted) -> ModelManifest:
    """Store what `fitted` holds in the existing model folder `folder` (weights untouched):
    the arrays first, then the manifest that names their sha256, each written atomically, so
    a crash in between leaves the old manifest, which does not name the new files. Returns
    the manifest."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    entries: dict[str, Any] = {}
    for name, file_name, data, entry in fitted.files():
        write_bytes_atomic(folder / file_name, data, mode=0o644)
        entries[name] = entry
    return _rewrite_manifest(folder, dataclasses.replace(manifest, **entries))


def record_metrics(folder: Path, key: str, value: dict[str, Any]) -> ModelManifest:
    """Add (or replace) `metrics[key]` in the manifest of the model folder `folder`, written
    atomically (weights untouched): figures measured after training, such as the heatmaps'."""
    manifest = read_manifest(Path(folder))
    metrics = {**manifest.metrics, key: value}
    return _rewrite_manifest(Path(folder), dataclasses.replace(manifest, metrics=metrics))


def _rewrite_manifest(folder: Path, manifest: ModelManifest) -> ModelManifest:
    """Validate `manifest` as loading will, then write it atomically; returns it as read."""
    path = folder / MANIFEST_FILE_NAME
    text = manifest.to_json()
    written = ModelManifest.from_dict(json.loads(text), source=path)
    write_text_atomic(path, text + "\n", mode=0o644)
    return written


# --- what killed saves and deletes left behind -------------------------------------------------


def recover_folder(folder: Path) -> None:
    """Undo what killed saves and deletes of the model folder `folder` left beside it.

    A process killed between the two renames of `_swap_into_place` leaves the previous model
    set aside as `.<name>.old-<pid>` and nothing at `folder`: that folder goes back to its name
    (the new model in `.<name>.tmp-<pid>` is dropped: its save never finished). Every other
    leftover of a process that no longer runs (half-written temporary folders, set-aside
    folders of finished swaps, half-deleted folders) is removed: hidden, they would never be
    listed, but would keep their disk space for ever. Leftovers of running processes (this one
    included) are theirs to finish. Never raises: a folder that cannot be recovered (read-only,
    say) is reported by whatever reads it next.
    """
    try:
        prefix = f".{folder.name}."
        leftovers = [
            (path, match["kind"])
            for path in folder.parent.iterdir()
            if path.name.startswith(prefix)
            and (match := _LEFTOVER.fullmatch(path.name)) is not None
            and match["name"] == folder.name
            and not _process_running(int(match["pid"]))
        ]
    except OSError:
        return
    # Set-aside previous models first, so one can go back before the rest is removed.
    for path, kind in sorted(leftovers, key=lambda leftover: leftover[1] != "old"):
        try:
            if kind == "old" and not folder.exists() and _is_listable(path):
                logger.warning("restoring model %s from an interrupted save (%s)", folder, path)
                os.replace(path, folder)
                fsync_folder(folder.parent)
            else:
                remove_tree(path)
        except OSError as exc:
            logger.warning("cannot recover %s: %s", path, exc)


def _recover_all(root: Path) -> None:
    """`recover_folder` every model folder of `root` that something beside it was left for."""
    with contextlib.suppress(OSError):
        names = {
            match["name"] for path in root.iterdir() if (match := _LEFTOVER.fullmatch(path.name))
        }
        for name in sorted(names):
            recover_folder(root / name)


def _is_listable(folder: Path) -> bool:
    """A valid manifest and a weights file: what `list_models` lists (a partly deleted folder
    lacks one of them)."""
    try:
        read_manifest(folder)
    except ModelLoadError:
        return False
    return (folder / WEIGHTS_FILE_NAME).is_file()


def _process_running(pid: int) -> bool:
    """Whether process `pid` exists (this one does); when that cannot be told, True."""
    if pid == os.getpid():
        return True
    if sys.platform == "win32":
        import ctypes

        kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
        kernel32.OpenProcess.restype = ctypes.c_void_p  # a HANDLE: pointer-sized, not an int
        # 0x1000: PROCESS_QUERY_LIMITED_INFORMATION
        handle = ctypes.c_void_p(kernel32.OpenProcess(0x1000, False, pid))
        if not handle.value:
            return ctypes.get_last_error() != 87  # ERROR_INVALID_PARAMETER: no such process
        try:
            code = ctypes.c_ulong()
            if not kernel32.GetExitCodeProcess(handle, ctypes.byref(code)):
                return True
            return code.value == 259  # STILL_ACTIVE
        finally:
            kernel32.CloseHandle(handle)
    try:
        os.kill(pid, 0)  # signal 0: nothing is sent, only whether the process exists is checked
    except ProcessLookupError:
        return False
    except (OSError, OverflowError):
        return True  # another user's process (EPERM), or no pid this system has
    return True


def remove_tree(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        with contextlib.suppress(OSError):
            path.unlink()

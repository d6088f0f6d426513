"""Loading and saving model weights (Keras): the TensorFlow half of the model store.

Loading reads and validates the manifest (`models.catalogue`), checks the weights' sha256,
builds the architecture the manifest names from the allowlist and calls `load_weights`: nothing
from the folder is executed (no `keras.models.load_model`, no unpickling). Saving is atomic: the
new model is written and verified in a temporary folder beside the target, then renamed into
place, so a failed or killed save never damages the model that was there before. A folder
cannot replace another in one rename, so a kill between the swap's two renames leaves the
previous model set aside (`.<name>.old-<pid>`) and nothing at its name, which the catalogue puts
back (`models.catalogue.recover_folder`). Keras (and h5py) are imported inside the functions.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spineview.core.files import fsync_folder
from spineview.errors import ModelLoadError, SpineViewError
from spineview.ml.architectures import build_model
from spineview.models.architectures import get_architecture
from spineview.models.catalogue import (
    MANIFEST_FILE_NAME,
    WEIGHTS_FILE_NAME,
    Fitted,
    ModelInfo,
    file_sha256,
    is_bundled,
    missing_weights_error,
    read_manifest,
    recover_folder,
    remove_tree,
)
from spineview.models.manifest import WEIGHTS_STORAGES, ModelManifest

if TYPE_CHECKING:
    import keras
    import numpy as np

logger = logging.getLogger(__name__)

_VERIFY_BATCH = 2


def load_model(folder: Path, *, precision: str | None = None) -> tuple[keras.Model, ModelManifest]:
    """Build the model the folder's manifest names and load its checked weights into it.

    `precision` builds it in that Keras dtype policy (inference in mixed_bfloat16 where the CPU
    has it); None uses the global policy.

    ModelLoadError naming the folder on a bad manifest, an architecture outside the allowlist,
    a missing weights file, a checksum mismatch, or weights that do not fit the architecture.
    """
    folder = Path(folder)
    recover_folder(folder)
    manifest = read_manifest(folder)
    weights = folder / WEIGHTS_FILE_NAME
    if not weights.is_file():
        raise missing_weights_error(folder)
    try:
        digest = file_sha256(weights)
    except OSError as exc:
        raise ModelLoadError(f"{weights}: the weights file cannot be read ({exc})") from exc
    if digest != manifest.weights_sha256:
        raise ModelLoadError(
            f"{folder}: {WEIGHTS_FILE_NAME} does not match the checksum in {MANIFEST_FILE_NAME}: "
            "the weights were modified or corrupted; save or copy the model again"
        )
    try:
        model = build_model(manifest.architecture, precision=precision)
        model.load_weights(weights)
    except SpineViewError:
        raise
    except Exception as exc:
        raise ModelLoadError(
            f"{folder}: the weights cannot be loaded into a {manifest.architecture!r} model ({exc})"
        ) from exc
    return model, manifest


def save_model(
    model: keras.Model,
    manifest: ModelManifest,
    folder: Path,
    *,
    weights_storage: str = "float16",
    fitted: Fitted | None = None,
) -> ModelInfo:
    """Save `model` with `manifest` as the model folder `folder`, atomically.

    The weights go into a temporary sibling folder (`.<name>.tmp-<pid>`), stored as
    `weights_storage` (which overrides the manifest's field); their sha256 goes into the
    manifest; the folder is verified by loading it into a freshly built model; only then does it
    replace `folder`. `fitted` (the in-distribution check and head posterior fitted on the
    training data) is stored beside the weights and named in the manifest. On any failure the
    previous model folder is left as it was, the temporary folder is removed and
    ModelLoadError says why. An existing `folder` that is not a model folder (and not empty) is
    never replaced. What an earlier, killed save of `folder` left is recovered first
    (`recover_folder`).
    """
    if weights_storage not in WEIGHTS_STORAGES:
        raise ValueError(
            f"weights_storage must be one of {WEIGHTS_STORAGES}, got {weights_storage!r}"
        )
    folder = Path(folder)
    recover_folder(folder)
    _check_replaceable(folder)
    temporary = folder.parent / f".{folder.name}.tmp-{os.getpid()}"
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        remove_tree(temporary)
        temporary.mkdir()
        entries: dict[str, Any] = {}
        for name, file_name, data, entry in (fitted or Fitted()).files():
            (temporary / file_name).write_bytes(data)
            _fsync(temporary / file_name)
            entries[name] = entry
        manifest = dataclasses.replace(manifest, **entries)
        saved = _write_model_folder(model, manifest, temporary, weights_storage)
        _verify_model_folder(model, saved, temporary)
        _swap_into_place(temporary, folder)
    except BaseException as exc:
        remove_tree(temporary)
        if isinstance(exc, SpineViewError) or not isinstance(exc, Exception):
            raise
        raise ModelLoadError(
            f"{folder}: the model could not be saved ({type(exc).__name__}: {exc}); "
            "any model that was there before is unchanged"
        ) from exc
    logger.info("saved model %s (%s weights)", folder, weights_storage)
    return ModelInfo(folder, saved, is_bundled(folder))


def _check_replaceable(folder: Path) -> None:
    if not folder.exists():
        return
    if not folder.is_dir():
        raise ModelLoadError(f"{folder}: exists and is not a folder; choose another model name")
    if not (folder / MANIFEST_FILE_NAME).is_file() and any(folder.iterdir()):
        raise ModelLoadError(
            f"{folder}: exists and is not a model folder; it will not be replaced, "
            "choose another model name"
        )


def _write_model_folder(
    model: keras.Model, manifest: ModelManifest, folder: Path, weights_storage: str
) -> ModelManifest:
    """Weights (as `weights_storage`) and manifest.json into `folder`; the manifest as written."""
    weights = folder / WEIGHTS_FILE_NAME
    if weights_storage == "float16":
        full = folder / "float32.weights.h5"
        model.save_weights(full)
        _copy_weights_as_float16(full, weights)
        full.unlink()
    else:
        model.save_weights(weights)
    _fsync(weights)
    complete = dataclasses.replace(
        manifest, weights_storage=weights_storage, weights_sha256=file_sha256(weights)
    )
    manifest_path = folder / MANIFEST_FILE_NAME
    text = complete.to_json()
    # What is written must read back: validate it as load_model will.
    written = ModelManifest.from_dict(json.loads(text), source=manifest_path)
    manifest_path.write_text(text + "\n", encoding="utf-8")
    _fsync(manifest_path)
    return written


def _copy_weights_as_float16(source: Path, target: Path) -> None:
    """Copy a Keras weights file, storing every floating-point array as float16."""
    import h5py
    import numpy as np

    def copy(name: str, item: Any) -> None:
        if isinstance(item, h5py.Group):
            _copy_attributes(item, destination.require_group(name))
        elif isinstance(item, h5py.Dataset):
            if item.dtype.kind != "f" or item.dtype == np.float16:
                origin.copy(item, destination, name=name)
                return
            dataset = destination.create_dataset(name, data=_as_float16(item[()], name))
            _copy_attributes(item, dataset)

    with h5py.File(source, "r") as origin, h5py.File(target, "w") as destination:
        _copy_attributes(origin, destination)
        origin.visititems(copy)


def _as_float16(values: np.ndarray, name: str) -> np.ndarray:
    import numpy as np

    converted = np.asarray(values).astype(np.float16)
    if np.any(np.isinf(converted) & np.isfinite(values)):
        raise ModelLoadError(
            f"weights {name} exceed the float16 range; save with weights_storage='float32'"
        )
    return converted


def _copy_attributes(source: Any, target: Any) -> None:
    for key, value in source.attrs.items():
        target.attrs[key] = value


def _verify_model_folder(model: keras.Model, manifest: ModelManifest, folder: Path) -> None:
    """Load `folder` into a freshly built model: same weights (as stored), same outputs."""
    import numpy as np

    fresh = build_model(manifest.architecture)
    fresh.load_weights(folder / WEIGHTS_FILE_NAME)
    if len(fresh.weights) != len(model.weights):
        raise ModelLoadError(
            f"{folder}: the model has {len(model.weights)} weight arrays, but a "
            f"{manifest.architecture!r} model has {len(fresh.weights)}"
        )
    storage = np.float16 if manifest.weights_storage == "float16" else np.float32
    for original, loaded in zip(model.weights, fresh.weights, strict=True):
        expected = np.asarray(original.numpy()).astype(storage).astype(np.float32)
        actual = np.asarray(loaded.numpy())
        if not np.all(np.isfinite(actual)):
            raise ModelLoadError(
                f"{folder}: weights {original.path} are not finite (did training diverge?)"
            )
        if expected.shape != actual.shape or not np.array_equal(expected, actual):
            raise ModelLoadError(f"{folder}: weights {original.path} did not load back unchanged")
    architecture = get_architecture(manifest.architecture)
    size, channels = architecture.input_size, architecture.channels
    probe = np.random.default_rng(0).random((_VERIFY_BATCH, size, size, channels), np.float32)
    before = np.asarray(model(probe, training=False), dtype=np.float32)
    after = np.asarray(fresh(probe, training=False), dtype=np.float32)
    exact = manifest.weights_storage == "float32" and _computes_in_float32(model)
    tolerance = 1e-4 if exact else 5e-2
    if architecture.output == "heatmaps":  # logits, not probabilities: relative to their size
        tolerance *= max(1.0, float(np.max(np.abs(before))))
    if before.shape != after.shape or not np.allclose(before, after, rtol=0, atol=tolerance):
        difference = float(np.max(np.abs(before - after))) if before.shape == after.shape else None
        raise ModelLoadError(
            f"{folder}: the saved model does not reproduce the model's outputs "
            f"(largest difference {difference}, tolerance {tolerance})"
        )


def _computes_in_float32(model: keras.Model) -> bool:
    return all(
        getattr(layer, "compute_dtype", "float32") in ("float32", None)
        for layer in _all_layers(model)
    )


def _all_layers(model: Any) -> list[Any]:
    found: list[Any] = []
    for layer in getattr(model, "layers", []):
        found.append(layer)
        found.extend(_all_layers(layer))
    return found


def _rename(source: Path, target: Path) -> None:
    os.replace(source, target)


def _swap_into_place(new: Path, folder: Path) -> None:
    """Rename `new` to `folder`; an existing `folder` is set aside first and deleted after.

    Between the two renames nothing is at `folder`: an exception there puts the previous folder
    back; a kill there is undone by `recover_folder` (the next list, load, save or delete)."""
    aside = folder.parent / f".{folder.name}.old-{os.getpid()}"
    remove_tree(aside)
    had_previous = folder.exists()
    try:
        if had_previous:
            _rename(folder, aside)
        _rename(new, folder)
    except BaseException:
        if had_previous and aside.exists() and not folder.exists():
            _rename(aside, folder)
        raise
    fsync_folder(folder.parent)
    if had_previous:
        remove_tree(aside)


def _fsync(path: Path) -> None:
    with path.open("rb") as stream:
        os.fsync(stream.fileno())

"""The model store: manifests, listing without TensorFlow, checked loading, atomic saving."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from spineview.errors import ModelLoadError
from spineview.ml import store
from spineview.ml.store import load_model, save_model
from spineview.models import catalogue
from spineview.models.catalogue import (
    MANIFEST_FILE_NAME,
    WEIGHTS_FILE_NAME,
    ModelManifest,
    file_sha256,
    list_models,
    read_manifest,
    user_model_folder,
    user_models_dir,
)
from spineview.models.manifest import DEMO_NOTICE, MANIFEST_FORMAT_VERSION

FAKE_SHA = "0" * 64


def _manifest_dict(**changes: Any) -> dict[str, Any]:
    data = ModelManifest.for_architecture("cnn", "test", weights_sha256=FAKE_SHA).to_dict()
    data.update(changes)
    return data


def _write_folder(folder: Path, manifest: dict[str, Any] | str, weights: bool = True) -> Path:
    folder.mkdir(parents=True)
    text = manifest if isinstance(manifest, str) else json.dumps(manifest)
    (folder / MANIFEST_FILE_NAME).write_text(text, encoding="utf-8")
    if weights:
        (folder / WEIGHTS_FILE_NAME).write_bytes(b"placeholder")
    return folder


@pytest.fixture
def no_build(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if anything tries to build a network."""

    def fail(*args: object, **kwargs: object) -> None:
        raise AssertionError("a model was built")

    monkeypatch.setattr(store, "build_model", fail)


# --- manifest ------------------------------------------------------------------------------


def test_manifest_round_trips_and_defaults() -> None:
    manifest = ModelManifest.for_architecture(
        "resnet50", "demo", demo=True, weights_sha256=FAKE_SHA, metrics={"auc": 0.9}
    )
    assert manifest.class_names == ["healthy", "degenerative"]
    assert (manifest.temperature, manifest.threshold) == (1.0, 0.5)
    assert manifest.demo_notice == DEMO_NOTICE
    assert "not for clinical use" in DEMO_NOTICE
    data = json.loads(manifest.to_json())
    assert next(iter(data)) == "format_version"
    assert ModelManifest.from_dict(data) == manifest
    plain = ModelManifest.for_architecture("cnn", "plain")
    assert plain.demo_notice is None


def test_a_manifest_from_before_intensity_scalings_means_min_max() -> None:
    data = _manifest_dict()
    data.pop("intensity_scaling", None)
    assert ModelManifest.from_dict(data).intensity_scaling == "min-max"
    robust = ModelManifest.from_dict(_manifest_dict(intensity_scaling="percentile"))
    assert robust.intensity_scaling == "percentile"


def test_manifest_json_accepts_numpy_values() -> None:
    manifest = ModelManifest.for_architecture(
        "cnn", "n", weights_sha256=FAKE_SHA, training={"counts": np.array([3, 4])}
    )
    manifest.metrics = {"auc": np.float32(0.75), "n": np.int64(7)}
    data = json.loads(manifest.to_json())
    assert data["training"]["counts"] == [3, 4]
    assert data["metrics"] == {"auc": 0.75, "n": 7}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"threshold": 2}, "threshold"),
        ({"temperature": 0}, "temperature"),
        ({"class_names": ["a"]}, "class_names"),
        ({"class_names": ["a", "b", "c"]}, "3 class names"),
        ({"input_size": 256}, "input_size"),
        ({"gradcam_layer": "conv1"}, "gradcam_layer"),
        ({"output": "softmax"}, "output"),
        ({"weights_sha256": "abc"}, "weights_sha256"),
        ({"demo": "yes"}, "demo"),
        ({"format_version": "1"}, "format_version"),
        ({"intensity_scaling": "z-score"}, "intensity_scaling"),
    ],
)
def test_manifest_rejects_invalid_fields(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ModelLoadError, match=message) as caught:
        ModelManifest.from_dict(_manifest_dict(**changes), source="/models/x/manifest.json")
    assert "/models/x/manifest.json" in str(caught.value)


def test_manifest_rejects_missing_fields() -> None:
    data = _manifest_dict()
    del data["weights_sha256"]
    with pytest.raises(ModelLoadError, match="lacks the field 'weights_sha256'"):
        ModelManifest.from_dict(data)
    optional = _manifest_dict()
    del optional["metrics"], optional["description"]
    assert ModelManifest.from_dict(optional).metrics == {}


# --- reading and listing (no TensorFlow) ---------------------------------------------------


@pytest.mark.parametrize(
    ("manifest", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "not a JSON object"),
        (
            _manifest_dict(architecture="evil"),
            "unknown architecture 'evil'.*cnn, grades, levels, resnet50",
        ),
        (_manifest_dict(format_version=MANIFEST_FORMAT_VERSION + 1), "newer.*update spineview"),
    ],
    ids=["corrupt-json", "not-an-object", "unknown-architecture", "newer-format"],
)
def test_bad_manifest_is_a_load_error_naming_the_folder(
    tmp_path: Path, manifest: Any, message: str, no_build: None
) -> None:
    folder = _write_folder(tmp_path / "bad-model", manifest)
    with pytest.raises(ModelLoadError, match=message) as caught:
        load_model(folder)
    assert str(folder) in str(caught.value)


def test_missing_manifest_and_missing_weights(tmp_path: Path, no_build: None) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ModelLoadError, match="not a model folder") as caught:
        read_manifest(empty)
    assert str(empty) in str(caught.value)
    folder = _write_folder(tmp_path / "no-weights", _manifest_dict(), weights=False)
    with pytest.raises(
        ModelLoadError, match=r"weights file model\.weights\.h5 is missing"
    ) as caught:
        load_model(folder)
    assert str(folder) in str(caught.value)


def test_checksum_mismatch_is_detected_before_building(tmp_path: Path, no_build: None) -> None:
    folder = _write_folder(tmp_path / "m", _manifest_dict())
    with pytest.raises(ModelLoadError, match="modified or corrupted") as caught:
        load_model(folder)
    assert str(folder) in str(caught.value)


def test_list_models_reports_bad_folders_and_skips_hidden_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, private_home: Path
) -> None:
    monkeypatch.setattr(catalogue, "resources_dir", lambda: tmp_path / "resources")
    root = user_models_dir()
    assert root.is_relative_to(private_home)
    assert list_models() == ([], [])
    _write_folder(root / "good", _manifest_dict(name="good"))
    _write_folder(root / "broken", "{oops")
    _write_folder(root / ".good.tmp-123", _manifest_dict())
    (root / "notes.txt").write_text("not a model")
    _write_folder(tmp_path / "resources" / "models" / "demo", _manifest_dict(name="demo"))

    models, problems = list_models()
    assert [(m.manifest.name, m.bundled) for m in models] == [("demo", True), ("good", False)]
    assert models[1].path == root / "good"
    assert models[1].weights_path == root / "good" / WEIGHTS_FILE_NAME
    assert len(problems) == 1
    assert str(root / "broken") in problems[0] and "not valid JSON" in problems[0]


def test_listing_does_not_import_tensorflow(tmp_path: Path, private_home: Path) -> None:
    _write_folder(user_models_dir() / "good", _manifest_dict(name="good"))
    code = (
        "import sys\n"
        "from spineview.models.catalogue import list_models, read_manifest\n"
        "models, problems = list_models()\n"
        "assert 'good' in [m.manifest.name for m in models], (models, problems)\n"
        "read_manifest(models[0].path)\n"
        "loaded = [m for m in ('tensorflow', 'keras', 'h5py') if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


@pytest.mark.parametrize(
    "name", ["", ".hidden", "../escape", "a/b", "a\\b", "with space", "x" * 101]
)
def test_user_model_folder_refuses_unsafe_names(name: str) -> None:
    with pytest.raises(ModelLoadError, match="not a usable model name"):
        user_model_folder(name)


def test_user_model_folder_lives_in_the_user_models_dir() -> None:
    assert user_model_folder("spine-cnn_v1.2") == user_models_dir() / "spine-cnn_v1.2"


# --- saving and loading (TensorFlow) -------------------------------------------------------


@pytest.fixture(scope="module")
def cnn_model() -> Any:
    from spineview.ml.architectures import build_model

    return build_model("cnn", seed=0)


@pytest.fixture(scope="module")
def saved_cnn(cnn_model: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("store") / "reference"
    save_model(cnn_model, ModelManifest.for_architecture("cnn", "reference"), folder)
    return folder


@pytest.fixture
def existing_model(saved_cnn: Path, tmp_path: Path) -> Path:
    """A private copy of a saved model, to overwrite or damage."""
    folder = tmp_path / "models" / "current"
    shutil.copytree(saved_cnn, folder)
    return folder


def _probe(seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).random((4, 224, 224, 1), np.float32)


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.parent.iterdir() if p.name.startswith("."))


@pytest.mark.tf
@pytest.mark.parametrize(("storage", "tolerance"), [("float16", 1e-3), ("float32", 1e-6)])
def test_save_and_load_round_trip(
    cnn_model: Any, tmp_path: Path, storage: str, tolerance: float
) -> None:
    import h5py

    folder = tmp_path / "round-trip"
    manifest = ModelManifest.for_architecture(
        "cnn", "round trip", demo=True, metrics={"auc": np.float64(0.8)}
    )
    info = save_model(cnn_model, manifest, folder, weights_storage=storage)
    assert info.path == folder and not info.bundled
    assert info.manifest.weights_storage == storage
    assert info.manifest.weights_sha256 == file_sha256(folder / WEIGHTS_FILE_NAME)
    assert sorted(p.name for p in folder.iterdir()) == [MANIFEST_FILE_NAME, WEIGHTS_FILE_NAME]
    assert _leftovers(folder) == []
    with h5py.File(folder / WEIGHTS_FILE_NAME, "r") as weights:
        dtypes: set[str] = set()
        weights.visititems(
            lambda _name, item: (
                dtypes.add(str(item.dtype)) if isinstance(item, h5py.Dataset) else None
            )
        )
    assert dtypes == {storage}

    model, loaded = load_model(folder)
    assert loaded == info.manifest
    assert loaded.demo_notice == DEMO_NOTICE and loaded.metrics == {"auc": 0.8}
    expected = np.asarray(cnn_model(_probe(), training=False))
    actual = np.asarray(model(_probe(), training=False))
    np.testing.assert_allclose(actual, expected, rtol=0, atol=tolerance)


@pytest.mark.tf
def test_float16_storage_halves_the_file(saved_cnn: Path, cnn_model: Any, tmp_path: Path) -> None:
    full = save_model(
        cnn_model,
        ModelManifest.for_architecture("cnn", "full"),
        tmp_path / "full",
        weights_storage="float32",
    )
    half_size = (saved_cnn / WEIGHTS_FILE_NAME).stat().st_size
    assert half_size < 0.55 * full.weights_path.stat().st_size


@pytest.mark.tf
def test_flipped_byte_in_the_weights_is_detected(existing_model: Path, no_build: None) -> None:
    weights = existing_model / WEIGHTS_FILE_NAME
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0x01
    weights.write_bytes(bytes(data))
    with pytest.raises(ModelLoadError, match="modified or corrupted") as caught:
        load_model(existing_model)
    assert str(existing_model) in str(caught.value)


@pytest.mark.tf
def test_weights_of_another_architecture_are_a_load_error(existing_model: Path) -> None:
    manifest = json.loads((existing_model / MANIFEST_FILE_NAME).read_text())
    manifest.update(
        architecture="resnet50", channels=3, output="softmax", gradcam_layer="conv5_block3_out"
    )
    (existing_model / MANIFEST_FILE_NAME).write_text(json.dumps(manifest))

    # A cheap stand-in network of the wrong shape instead of building ResNet50 here.
    def small(architecture_id: str, **kwargs: Any) -> Any:
        keras = sys.modules["keras"]
        inputs = keras.Input((4,))
        return keras.Model(inputs, keras.layers.Dense(2, name="output")(inputs))

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(store, "build_model", small)
        with pytest.raises(ModelLoadError, match="cannot be loaded into a 'resnet50' model") as e:
            load_model(existing_model)
    assert str(existing_model) in str(e.value)


@pytest.mark.tf
def test_crash_before_the_swap_leaves_the_previous_model(
    existing_model: Path, cnn_model: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = file_sha256(existing_model / WEIGHTS_FILE_NAME)

    def crash(*args: object) -> None:
        raise RuntimeError("simulated crash")

    monkeypatch.setattr(store, "_verify_model_folder", crash)
    manifest = ModelManifest.for_architecture("cnn", "replacement")
    with pytest.raises(ModelLoadError, match="simulated crash") as caught:
        save_model(cnn_model, manifest, existing_model, weights_storage="float32")
    assert "unchanged" in str(caught.value)
    assert _leftovers(existing_model) == []
    assert file_sha256(existing_model / WEIGHTS_FILE_NAME) == before
    _, loaded = load_model(existing_model)
    assert loaded.name == "reference"


@pytest.mark.tf
def test_crash_during_the_swap_restores_the_previous_model(
    existing_model: Path, cnn_model: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_rename = store._rename

    def rename(source: Path, target: Path) -> None:
        if ".tmp-" in source.name:  # moving the new folder in: the old one is already aside
            assert not existing_model.exists()
            raise OSError("simulated crash while renaming")
        real_rename(source, target)

    monkeypatch.setattr(store, "_rename", rename)
    with pytest.raises(ModelLoadError, match="simulated crash while renaming"):
        save_model(cnn_model, ModelManifest.for_architecture("cnn", "new"), existing_model)
    assert _leftovers(existing_model) == []
    _, loaded = load_model(existing_model)
    assert loaded.name == "reference"


@pytest.mark.tf
def test_interrupt_while_writing_propagates_and_cleans_up(
    existing_model: Path, cnn_model: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupt(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(store, "_copy_weights_as_float16", interrupt)
    with pytest.raises(KeyboardInterrupt):
        save_model(cnn_model, ModelManifest.for_architecture("cnn", "new"), existing_model)
    assert _leftovers(existing_model) == []
    assert load_model(existing_model)[1].name == "reference"


@pytest.mark.tf
def test_save_replaces_a_model_and_refuses_other_folders(
    existing_model: Path, cnn_model: Any, tmp_path: Path
) -> None:
    info = save_model(cnn_model, ModelManifest.for_architecture("cnn", "second"), existing_model)
    assert read_manifest(existing_model).name == "second" == info.manifest.name
    assert _leftovers(existing_model) == []

    unrelated = tmp_path / "photos"
    unrelated.mkdir()
    (unrelated / "holiday.jpg").write_bytes(b"jpeg")
    with pytest.raises(ModelLoadError, match="not a model folder"):
        save_model(cnn_model, ModelManifest.for_architecture("cnn", "x"), unrelated)
    assert [p.name for p in unrelated.iterdir()] == ["holiday.jpg"]


@pytest.mark.tf
def test_manifest_disagreeing_with_the_model_is_not_saved(cnn_model: Any, tmp_path: Path) -> None:
    wrong = ModelManifest.for_architecture("cnn", "wrong")
    wrong.input_size = 256
    folder = tmp_path / "wrong"
    with pytest.raises(ModelLoadError, match="input_size"):
        save_model(cnn_model, wrong, folder)
    assert not folder.exists()
    assert list(tmp_path.iterdir()) == []


def test_find_model_by_folder_or_name_user_models_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(catalogue, "resources_dir", lambda: tmp_path / "resources")
    _write_folder(tmp_path / "resources" / "models" / "same", _manifest_dict(name="same"))
    _write_folder(user_models_dir() / "same", _manifest_dict(name="same"))
    found = catalogue.find_model("same")
    assert found.path == user_models_dir() / "same" and not found.bundled
    by_path = catalogue.find_model(tmp_path / "resources" / "models" / "same")
    assert by_path.bundled
    with pytest.raises(ModelLoadError, match=r"no model named 'other' \(models found: same\)"):
        catalogue.find_model("other")


def test_delete_model_removes_user_models_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(catalogue, "resources_dir", lambda: tmp_path / "resources")
    bundled = tmp_path / "resources" / "models" / "demo"
    _write_folder(bundled, _manifest_dict(name="demo"))
    mine = user_models_dir() / "mine"
    _write_folder(mine, _manifest_dict(name="mine"))
    with pytest.raises(ModelLoadError, match="bundled model cannot be deleted"):
        catalogue.delete_model(bundled)
    catalogue.delete_model(mine)
    assert not mine.exists() and list(user_models_dir().iterdir()) == []
    with pytest.raises(ModelLoadError, match="not a model folder"):
        catalogue.delete_model(tmp_path)
    assert bundled.is_dir()


def _small_check(seed: int = 0) -> Any:
    from spineview.models.distribution_check import fit_distribution_check

    rng = np.random.default_rng(seed)
    return fit_distribution_check(("pool1",), rng.normal(size=(60, 3)), rng.normal(size=(20, 3)))


def _small_posterior(seed: int = 0) -> Any:
    from spineview.models.head_posterior import fit_head_posterior

    rng = np.random.default_rng(seed)
    return fit_head_posterior(rng.normal(size=(40, 4)), rng.normal(size=4), 0.1)


@pytest.mark.tf
def test_post_hoc_fits_are_saved_attached_and_verified(
    existing_model: Path, cnn_model: Any, tmp_path: Path
) -> None:
    from spineview.models.catalogue import (
        Fitted,
        attach_fitted,
        load_distribution_check,
        load_head_posterior,
    )
    from spineview.models.distribution_check import DISTRIBUTION_FILE_NAME
    from spineview.models.head_posterior import HEAD_POSTERIOR_FILE_NAME

    manifest = read_manifest(existing_model)
    assert load_distribution_check(existing_model, manifest) is None
    assert load_head_posterior(existing_model, manifest) is None
    weights_before = file_sha256(existing_model / WEIGHTS_FILE_NAME)
    manifest = attach_fitted(existing_model, Fitted(_small_check(), _small_posterior()))
    assert file_sha256(existing_model / WEIGHTS_FILE_NAME) == weights_before  # untouched
    assert manifest.distribution_check["sha256"] == file_sha256(
        existing_model / DISTRIBUTION_FILE_NAME
    )
    assert manifest.head_posterior["sha256"] == file_sha256(
        existing_model / HEAD_POSTERIOR_FILE_NAME
    )
    loaded = load_distribution_check(existing_model, read_manifest(existing_model))
    assert loaded is not None and loaded.threshold == _small_check().threshold
    posterior = load_head_posterior(existing_model, read_manifest(existing_model))
    assert posterior is not None
    assert posterior.prior_precision == _small_posterior().prior_precision

    saved = save_model(
        cnn_model,
        ModelManifest.for_architecture("cnn", "checked"),
        tmp_path / "checked",
        fitted=Fitted(distribution=_small_check(1)),
    )
    assert (saved.path / DISTRIBUTION_FILE_NAME).is_file()
    assert not (saved.path / HEAD_POSTERIOR_FILE_NAME).exists()
    assert saved.manifest.distribution_check["fitted_slices"] == 60
    assert saved.manifest.head_posterior == {}

    (existing_model / DISTRIBUTION_FILE_NAME).write_bytes(_small_check(2).to_bytes())
    with pytest.raises(ModelLoadError, match="does not match the checksum"):
        load_distribution_check(existing_model, read_manifest(existing_model))
    (existing_model / HEAD_POSTERIOR_FILE_NAME).write_bytes(_small_posterior(3).to_bytes())
    with pytest.raises(ModelLoadError, match=f"{HEAD_POSTERIOR_FILE_NAME}: does not match"):
        load_head_posterior(existing_model, read_manifest(existing_model))

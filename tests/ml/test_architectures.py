"""The architecture allowlist: exact reference networks, seeding, freezing, local ImageNet weights.

ResNet50 is built twice in this file at most (a module fixture, and once from a weights file).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from spineview.errors import ModelLoadError
from spineview.ml import architectures
from spineview.ml.architectures import (
    IMAGENET_NOTOP_FILE_NAME,
    build_model,
    find_imagenet_weights,
    set_backbone_trainable,
)
from spineview.models.architectures import ARCHITECTURES, SLICE_ARCHITECTURES

CNN_PARAMETERS = 11_168_513
RESNET_HEAD_PARAMETERS = 2_624_002


def _count(weights: list[Any]) -> int:
    return int(sum(np.prod(w.shape) for w in weights))


@pytest.fixture(scope="module")
def resnet() -> Any:
    return build_model("resnet50", seed=0)


# --- registry and lookup (no TensorFlow) ---------------------------------------------------


def test_registry_describes_both_reference_networks() -> None:
    assert set(ARCHITECTURES) == {"cnn", "resnet50", "levels", "grades"}
    assert set(SLICE_ARCHITECTURES) == {"cnn", "resnet50"}
    levels = ARCHITECTURES["levels"]
    assert (levels.task, levels.output, levels.num_classes) == ("levels", "heatmaps", 5)
    cnn, resnet50 = ARCHITECTURES["cnn"], ARCHITECTURES["resnet50"]
    assert (cnn.input_size, cnn.channels, cnn.output, cnn.gradcam_layer) == (
        224,
        1,
        "sigmoid",
        "conv2",
    )
    assert cnn.older_gradcam_layers == ("conv3",)  # manifests from before still load
    assert (resnet50.input_size, resnet50.channels, resnet50.output) == (224, 3, "softmax")
    assert resnet50.gradcam_layer == "conv3_block4_out"  # 28 × 28: see its comment
    assert resnet50.older_gradcam_layers == ("conv5_block3_out",)
    assert resnet50.backbone == "resnet50" and cnn.backbone is None
    assert all(a.id == key and a.description for key, a in ARCHITECTURES.items())


def test_unknown_architecture_names_the_allowlist() -> None:
    with pytest.raises(ModelLoadError, match=r"'vgg16'.*cnn, grades, levels, resnet50"):
        build_model("vgg16")


def test_find_imagenet_weights_prefers_the_users_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    user_file = tmp_path / "my-weights.h5"
    user_file.write_bytes(b"not really weights")
    assert find_imagenet_weights(user_file) == user_file


def test_find_imagenet_weights_falls_back_to_the_keras_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keras_home = tmp_path / "keras"
    monkeypatch.setenv("KERAS_HOME", str(keras_home))
    assert find_imagenet_weights() is None
    assert find_imagenet_weights(tmp_path / "missing.h5") is None
    cached = keras_home / "models" / IMAGENET_NOTOP_FILE_NAME
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"fake cache file")
    assert find_imagenet_weights() == cached
    assert find_imagenet_weights(tmp_path / "missing.h5") == cached


# --- cnn -----------------------------------------------------------------------------------


@pytest.mark.tf
def test_cnn_is_the_reference_network() -> None:
    model = build_model("cnn")
    assert model.count_params() == CNN_PARAMETERS
    assert tuple(model.input.shape) == (None, 224, 224, 1)
    names = [layer.name for layer in model.layers]
    assert names == [
        "image",
        "conv1",
        "pool1",
        "conv2",
        "pool2",
        "conv3",
        "pool3",
        "flatten",
        "dense",
        "dropout",
        "output",
    ]
    assert [model.get_layer(f"conv{i}").filters for i in (1, 2, 3)] == [32, 64, 128]
    assert model.get_layer("dropout").rate == 0.5
    assert all(model.get_layer(f"conv{i}").kernel_regularizer is not None for i in (1, 2, 3))
    output = np.asarray(model(np.zeros((2, 224, 224, 1), np.float32)))
    assert output.shape == (2, 1)
    assert np.all((output > 0) & (output < 1))


@pytest.mark.tf
def test_cnn_output_stays_float32_under_mixed_precision() -> None:
    keras = architectures.import_keras()
    previous = keras.mixed_precision.global_policy().name
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        model = build_model("cnn")
    finally:
        keras.mixed_precision.set_global_policy(previous)
    assert model.get_layer("conv1").compute_dtype == "bfloat16"
    output = model(np.zeros((1, 224, 224, 1), np.float32))
    assert "float32" in str(output.dtype)


@pytest.mark.tf
def test_same_seed_gives_identical_initial_weights() -> None:
    first, second = build_model("cnn", seed=7), build_model("cnn", seed=7)
    other = build_model("cnn", seed=8)
    for a, b in zip(first.get_weights(), second.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    kernels = [m.get_layer("conv1").get_weights()[0] for m in (first, other)]
    assert not np.array_equal(*kernels)


@pytest.mark.tf
def test_cnn_takes_no_imagenet_weights_and_has_no_backbone(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no pretrained backbone"):
        build_model("cnn", imagenet_weights=tmp_path / "w.h5")
    with pytest.raises(ValueError, match="no pretrained backbone"):
        set_backbone_trainable(build_model("cnn"), trainable=False)


# --- resnet50 ------------------------------------------------------------------------------


@pytest.mark.tf
def test_resnet50_shape_head_and_gradcam_layer(resnet: Any) -> None:
    assert tuple(resnet.input.shape) == (None, 224, 224, 3)
    output = np.asarray(resnet(np.zeros((2, 224, 224, 3), np.float32)))
    assert output.shape == (2, 2)
    np.testing.assert_allclose(output.sum(axis=1), 1.0, rtol=1e-5)
    backbone = resnet.get_layer("resnet50")
    assert backbone.get_layer(ARCHITECTURES["resnet50"].gradcam_layer) is not None
    head = [resnet.get_layer(name) for name in ("dense1", "dense2", "output")]
    assert [layer.units for layer in head] == [1024, 512, 2]
    assert sum(layer.count_params() for layer in head) == RESNET_HEAD_PARAMETERS


@pytest.mark.tf
def test_frozen_and_fine_tuned_trainable_counts(resnet: Any) -> None:
    keras = architectures.import_keras()
    backbone = resnet.get_layer("resnet50")
    try:
        set_backbone_trainable(resnet, trainable=False)
        assert _count(resnet.trainable_weights) == RESNET_HEAD_PARAMETERS

        set_backbone_trainable(resnet, trainable=True, last_layers=50)
        last = backbone.layers[-50:]
        batch_norm = [layer for layer in last if isinstance(layer, keras.layers.BatchNormalization)]
        assert batch_norm, "the last 50 layers of ResNet50 include BatchNormalization layers"
        assert not any(layer.trainable for layer in batch_norm)
        assert not any(layer.trainable for layer in backbone.layers[:-50])
        expected = RESNET_HEAD_PARAMETERS + sum(
            layer.count_params() for layer in last if layer not in batch_norm
        )
        assert _count(resnet.trainable_weights) == expected
        assert RESNET_HEAD_PARAMETERS < expected < resnet.count_params()

        set_backbone_trainable(resnet, trainable=True)
        every_bn = [
            layer for layer in backbone.layers if isinstance(layer, keras.layers.BatchNormalization)
        ]
        assert not any(layer.trainable for layer in every_bn)
        bn_parameters = sum(_count(layer.weights) for layer in every_bn)
        assert _count(resnet.trainable_weights) == resnet.count_params() - bn_parameters
    finally:
        set_backbone_trainable(resnet, trainable=False)


@pytest.mark.tf
def test_resnet50_loads_a_local_weights_file(resnet: Any, tmp_path: Path) -> None:
    weights = tmp_path / "resnet50-notop.weights.h5"
    backbone = resnet.get_layer("resnet50")
    backbone.save_weights(weights)
    rebuilt = build_model("resnet50", imagenet_weights=weights, seed=123)
    for name in ("conv1_conv", "conv5_block3_3_bn"):
        for a, b in zip(
            backbone.get_layer(name).get_weights(),
            rebuilt.get_layer("resnet50").get_layer(name).get_weights(),
            strict=True,
        ):
            np.testing.assert_array_equal(a, b)


@pytest.mark.tf
def test_unusable_imagenet_file_is_a_model_load_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keras = architectures.import_keras()
    seen: list[object] = []

    def refuse(**kwargs: object) -> None:
        seen.append(kwargs["weights"])
        raise ValueError("layer count mismatch")

    monkeypatch.setattr(keras.applications, "ResNet50", refuse)
    weights = tmp_path / "broken.h5"
    weights.write_bytes(b"garbage")
    with pytest.raises(ModelLoadError, match=r"broken\.h5"):
        build_model("resnet50", imagenet_weights=weights)
    assert seen == [str(weights)]  # a local path, never "imagenet"
    with pytest.raises(ValueError, match="mismatch"):
        build_model("resnet50")
    assert seen[-1] is None

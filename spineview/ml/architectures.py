"""Building the networks of the architecture allowlist (`models.architectures`).

A model on disk names one of the registry's ids; loading builds the network here, in code, and
only then loads the weights into it, so nothing from a model folder is ever executed. Keras is
imported only inside the functions that build a network.

ImageNet weights for ResNet50 are never downloaded (`weights="imagenet"` would try the network):
`find_imagenet_weights` looks for a local copy, and `build_model` loads that file or nothing.
"""

from __future__ import annotations

import ctypes
import importlib.util
import logging
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from spineview.errors import ModelLoadError
from spineview.models.architectures import ARCHITECTURES, Architecture, get_architecture

if TYPE_CHECKING:
    import keras

logger = logging.getLogger(__name__)

IMAGENET_NOTOP_FILE_NAME = "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"
"""The file name Keras gives the ResNet50 ImageNet weights without the top in its cache."""

CNN_L2 = 1e-3
"""Kernel L2 penalty of the reference CNN's convolutions."""


def import_keras() -> ModuleType:
    """Import Keras (and TensorFlow) quietly; the first call takes a few seconds."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "tensorflow" not in sys.modules:
        preload_tensorflow_libraries()
    import keras

    return keras


# The shared libraries whose loading (relocation and static initialisers of ~1.3 GB of code)
# is the longest single step of `import tensorflow`, in the order they depend on each other.
_TENSORFLOW_LIBRARIES = (
    "libtensorflow_framework.so.2",
    "libtensorflow_cc.so.2",
    "python/platform/_pywrap_cpu_feature_guard.so",
)


def preload_tensorflow_libraries() -> None:
    """Load TensorFlow's big shared libraries without holding the GIL (Linux only).

    Python imports an extension module while holding the GIL, so the ~0.3 s it takes the
    dynamic loader to bring in TensorFlow's libraries would freeze the viewer's GUI thread
    while a worker imports TensorFlow. `dlopen` called through ctypes releases the GIL; the
    import that follows finds the libraries loaded. Anything unexpected: do nothing (the
    import then loads them itself).
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        spec = importlib.util.find_spec("tensorflow")
        if spec is None or not spec.submodule_search_locations:
            return
        package = Path(next(iter(spec.submodule_search_locations)))
        libc = ctypes.CDLL(None)
        libc.dlopen.argtypes = [ctypes.c_char_p, ctypes.c_int]
        libc.dlopen.restype = ctypes.c_void_p
        for name in _TENSORFLOW_LIBRARIES:
            library = package / name
            if not library.is_file() or not libc.dlopen(os.fsencode(library), _RTLD_NOW):
                return
    except (OSError, AttributeError, ValueError, ImportError) as exc:
        logger.debug("TensorFlow libraries not preloaded: %s", exc)


_RTLD_NOW = 2


def build_model(
    architecture_id: str,
    *,
    imagenet_weights: Path | None = None,
    seed: int | None = None,
    precision: str | None = None,
) -> keras.Model:
    """Build the network `architecture_id` names, with fresh (or ImageNet) weights.

    `seed` seeds Python, NumPy and the backend first, so two builds with one seed start from the
    same weights. `imagenet_weights` is a local ResNet50 "notop" weights file (see
    `find_imagenet_weights`); only architectures with a backbone accept it. `precision` (a Keras
    dtype policy name) builds the layers in that policy; None uses the global one.
    """
    architecture = get_architecture(architecture_id)
    if imagenet_weights is not None and architecture.backbone is None:
        raise ValueError(f"architecture {architecture_id!r} has no pretrained backbone")
    keras = import_keras()
    if seed is not None:
        keras.utils.set_random_seed(seed)
    if precision is not None:
        from spineview.ml.precision import dtype_policy

        with dtype_policy(precision):
            return _build(keras, architecture, imagenet_weights)
    return _build(keras, architecture, imagenet_weights)


def _build(
    keras: ModuleType, architecture: Architecture, imagenet_weights: Path | None
) -> keras.Model:
    if architecture.id == "cnn":
        return _build_cnn(keras, architecture)
    if architecture.id == "levels":
        from spineview.ml.level_model import build_level_network

        return build_level_network(keras, architecture)
    if architecture.id == "grades":
        from spineview.ml.grade_model import build_grade_network

        return build_grade_network(keras, architecture)
    return _build_resnet50(keras, architecture, imagenet_weights)


def _build_cnn(keras: ModuleType, architecture: Architecture) -> keras.Model:
    layers = keras.layers
    size = architecture.input_size

    def l2() -> object:
        return keras.regularizers.L2(CNN_L2)

    inputs = keras.Input((size, size, architecture.channels), name="image")
    x = layers.Conv2D(32, 3, activation="relu", kernel_regularizer=l2(), name="conv1")(inputs)
    x = layers.MaxPooling2D(2, name="pool1")(x)
    x = layers.Conv2D(64, 3, activation="relu", kernel_regularizer=l2(), name="conv2")(x)
    x = layers.MaxPooling2D(2, name="pool2")(x)
    x = layers.Conv2D(128, 3, activation="relu", kernel_regularizer=l2(), name="conv3")(x)
    x = layers.MaxPooling2D(2, name="pool3")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(128, activation="relu", name="dense")(x)
    x = layers.Dropout(architecture.head_dropout, name="dropout")(x)
    # float32 output so a mixed-precision policy still yields float32 probabilities.
    outputs = layers.Dense(1, activation="sigmoid", dtype="float32", name="output")(x)
    return keras.Model(inputs, outputs, name=architecture.id)


def _build_resnet50(
    keras: ModuleType, architecture: Architecture, imagenet_weights: Path | None
) -> keras.Model:
    layers = keras.layers
    size = architecture.input_size
    shape = (size, size, architecture.channels)
    try:
        # Never weights="imagenet": that downloads. A local file or nothing.
        backbone = keras.applications.ResNet50(
            include_top=False,
            weights=str(imagenet_weights) if imagenet_weights is not None else None,
            input_shape=shape,
            name=architecture.backbone,
        )
    except Exception as exc:
        if imagenet_weights is None:
            raise
        raise ModelLoadError(
            f"{imagenet_weights}: not usable as ResNet50 ImageNet weights ({exc}); use the file "
            f"{IMAGENET_NOTOP_FILE_NAME} or train without ImageNet weights"
        ) from exc
    inputs = keras.Input(shape, name="image")
    x = backbone(inputs)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    x = layers.Dense(1024, activation="relu", name="dense1")(x)
    x = layers.Dense(512, activation="relu", name="dense2")(x)
    outputs = layers.Dense(
        architecture.num_classes, activation="softmax", dtype="float32", name="output"
    )(x)
    return keras.Model(inputs, outputs, name=architecture.id)


def keras_home() -> Path:
    """Keras's own folder: `KERAS_HOME`, else ~/.keras (as Keras itself decides)."""
    value = os.environ.get("KERAS_HOME")
    return Path(value).expanduser() if value else Path.home() / ".keras"


def find_imagenet_weights(user_file: Path | None = None) -> Path | None:
    """A local ResNet50 ImageNet "notop" weights file, or None (train from scratch, say so).

    The user's file first when it exists, then Keras's download cache
    (`$KERAS_HOME/models/resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5`). Nothing is
    downloaded.
    """
    if user_file is not None:
        user_file = Path(user_file).expanduser()
        if user_file.is_file():
            return user_file
        logger.warning("ImageNet weights file %s not found; looking in the Keras cache", user_file)
    cached = keras_home() / "models" / IMAGENET_NOTOP_FILE_NAME
    return cached if cached.is_file() else None


def set_backbone_trainable(
    model: keras.Model, *, trainable: bool, last_layers: int | None = None
) -> None:
    """Freeze the pretrained backbone, or unfreeze it (only its last `last_layers` layers).

    The reference recipe trains the head on a frozen backbone first, then unfreezes the last 50
    layers and fine-tunes at a low learning rate. Recompile the model after calling this.

    BatchNormalization layers stay frozen while fine-tuning: in Keras a frozen BatchNormalization
    layer also runs in inference mode, so it keeps normalising with the ImageNet moving statistics.
    Unfrozen, it would re-estimate them from small batches of MRI slices, whose statistics differ
    wildly from ImageNet's and from batch to batch, and that wrecks the pretrained features the
    fine-tuning is meant to adapt gently.
    """
    backbone = _find_backbone(model)
    if last_layers is not None and last_layers < 0:
        raise ValueError(f"last_layers must be >= 0, got {last_layers}")
    if not trainable:
        backbone.trainable = False
        return
    batch_norm = import_keras().layers.BatchNormalization
    backbone.trainable = True
    inner = list(backbone.layers)
    first_unfrozen = 0 if last_layers is None else max(len(inner) - last_layers, 0)
    for index, layer in enumerate(inner):
        layer.trainable = index >= first_unfrozen and not isinstance(layer, batch_norm)


def _find_backbone(model: keras.Model) -> keras.layers.Layer:
    names = sorted({a.backbone for a in ARCHITECTURES.values() if a.backbone is not None})
    for name in names:
        try:
            return model.get_layer(name)
        except ValueError:
            continue
    raise ValueError(f"model {model.name!r} has no pretrained backbone ({', '.join(names)})")


def freeze_features(model: keras.Model, architecture_id: str) -> int:
    """Freeze the layers that extract features (the backbone, or every convolution), so that
    fine-tuning trains the classifier head only. Returns how many layers were frozen; recompile
    the model after calling this."""
    architecture = ARCHITECTURES[architecture_id]
    if architecture.backbone is not None:
        set_backbone_trainable(model, trainable=False)
        return 1
    frozen = 0
    for layer in model.layers:
        if layer.name.startswith("conv"):
            layer.trainable = False
            frozen += 1
    return frozen


def as_network_input(batch: Any, channels: int) -> Any:
    """A grayscale batch (n, size, size, 1) as a network of `channels` input channels takes it:
    the one channel replicated (ResNet50 has 3; a tensor stays a tensor)."""
    import tensorflow as tf

    return tf.repeat(batch, channels, axis=-1) if channels > 1 else batch

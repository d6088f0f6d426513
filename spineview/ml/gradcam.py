"""Class-activation heat maps (HiResCAM, Grad-CAM, Grad-CAM++, Layer-CAM) of a stored model, one
slice at a time.

Two choices make the maps trustworthy:

- The score is the LOGIT of the explained class, computed here from the output layer's input and
  its kernel and bias (sigmoid: z; two-class softmax: z1 - z0; the negative class: minus that),
  never the probability. A confident slice saturates the sigmoid or softmax in float32, its
  gradient becomes exactly zero and the probability's Grad-CAM would be blank precisely on the
  slices a user most wants explained. The logit's gradient does not saturate.
- The target layer may live inside a nested backbone (ResNet50's "conv3_block4_out" sits in the
  "resnet50" sub-model, which `get_layer` on the outer model cannot see). The gradient model is
  built from the layer graph: a sub-model from the backbone's input to [target layer, backbone
  output] (or from the model input to the target layer when it is at the top level), then the
  outer model's remaining layers re-applied in order with `training=False`. On its first build
  the probability it computes is checked against the model's own output, so a head that is not
  a plain chain fails loudly instead of explaining the wrong function.

The gradients run in one `tf.function` per method with a fixed input signature (one trace each),
in the model's own dtype policy (bfloat16 where the classifier computes in it); maps come out
as float32 on the slice's own pixel grid. Pure map maths (`normalise_map`, `upsample_map`) is
numpy only.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

import numpy as np

from spineview.core.heatmap import HeatmapMethod
from spineview.core.preprocess import resize_bilinear
from spineview.errors import ModelLoadError
from spineview.ml.architectures import as_network_input

if TYPE_CHECKING:
    from spineview.ml.inference import Classifier

logger = logging.getLogger(__name__)

Target = Literal["predicted", "positive", "negative"]
TARGETS: tuple[str, ...] = ("predicted", "positive", "negative")

_CHECK_TOLERANCE = 2e-2
"""Largest difference between the gradient model's probability and the model's own output on
the build-time probe (bfloat16 models differ from themselves by a few 1e-3 at most)."""


def _method(method: HeatmapMethod | str) -> HeatmapMethod:
    """`method` as a HeatmapMethod; ValueError naming the methods for an unknown one."""
    try:
        return HeatmapMethod(method)
    except ValueError:
        methods = tuple(choice.value for choice in HeatmapMethod)
        raise ValueError(f"unknown Grad-CAM method {method!r}: use one of {methods}") from None


@dataclass(frozen=True)
class HeatMap:
    """One slice's class-activation map and the forward pass that produced it."""

    values: np.ndarray
    """(rows, cols) float32 in [0, 1] on the slice's own pixel grid."""
    method: HeatmapMethod
    """The class-activation method that made the map."""
    class_name: str
    """The class the map explains (one of the model's class names)."""
    probability: float
    """Raw P(positive class) of the forward pass that produced the map."""
    peak: tuple[int, int]
    """(row, col) of the map's maximum; the slice's centre for a flat map."""
    flat: bool
    """True when the map holds no positive evidence (all zeros)."""


class LayerMap(NamedTuple):
    """A map on the Grad-CAM layer's grid, before normalisation and upsampling."""

    values: np.ndarray
    """(h, w) float32 ≥ 0: ReLU(Σ_k weight_k · A_k) in units of the explained logit."""
    probability: float
    """Raw P(positive class) of the forward pass that produced the map."""
    positive: bool
    """True when the map explains the positive class."""


def normalise_map(cam: np.ndarray) -> np.ndarray:
    """A class-activation map ReLU'd and min-max scaled to [0, 1] (float32).

    A map with no spread after the ReLU (all zeros, negative or constant) and a map holding any
    non-finite value give zeros: no evidence to show, and never NaN.
    """
    values = np.asarray(cam, dtype=np.float32)
    if values.size == 0 or not np.all(np.isfinite(values)):
        return np.zeros(values.shape, dtype=np.float32)
    values = np.maximum(values, 0.0)
    low, high = float(values.min()), float(values.max())
    spread = high - low
    if not spread > np.finfo(np.float32).tiny or not np.isfinite(spread):
        return np.zeros(values.shape, dtype=np.float32)
    scaled = (values - np.float32(low)) / np.float32(spread)
    return np.clip(scaled, 0.0, 1.0).astype(np.float32)


def upsample_map(cam: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """A (h, w) map resized bilinearly (half-pixel centres) to (rows, cols), float32.

    The network's input is the whole slice stretched to its square input size, so the feature
    map covers the whole slice and stretches back onto it the same way.
    """
    values = np.asarray(cam, dtype=np.float32)
    if values.ndim != 2 or min(values.shape) < 1:
        raise ValueError(f"expected a 2-D map, got shape {values.shape}")
    if rows < 1 or cols < 1:
        raise ValueError(f"cannot resize a map to {rows}×{cols}")
    return resize_bilinear(values, rows, cols)


def map_peak(values: np.ndarray) -> tuple[int, int]:
    """(row, col) of the maximum of a 2-D map; its centre when the map is all zeros."""
    rows, cols = values.shape
    if not np.any(values > 0):
        return rows // 2, cols // 2
    row, col = np.unravel_index(int(np.argmax(values)), values.shape)
    return int(row), int(col)


class GradCam:
    """Grad-CAM / Grad-CAM++ of a `Classifier`'s network, one slice at a time.

    The gradient model is built on the first `compute` and kept. `compute` may be called from a
    worker thread (a lock serialises building and calls).
    """

    def __init__(self, classifier: Classifier) -> None:
        self.classifier = classifier
        self._lock = threading.Lock()
        self._functions: dict[HeatmapMethod, Any] | None = None

    @property
    def layer_name(self) -> str:
        return self.classifier.manifest.gradcam_layer

    def compute(
        self,
        pixels: np.ndarray,
        *,
        method: HeatmapMethod | str = HeatmapMethod.GRADCAM,
        target: Target = "predicted",
    ) -> HeatMap:
        """The heat map of one 2-D slice (any size) on that slice's pixel grid.

        `target` "predicted" explains the class the classifier decides (calibrated probability
        ≥ the model's threshold); "positive" and "negative" explain that class whatever the
        decision.
        """
        method = _method(method)
        layer_map = self.layer_map(pixels, method=method, target=target)
        rows, cols = np.shape(pixels)
        values = upsample_map(normalise_map(layer_map.values), rows, cols)
        highest = float(values.max())
        flat = not highest > 0
        if not flat:  # sampling between feature cells can miss the 1.0 itself
            values = np.clip(values / np.float32(highest), 0.0, 1.0).astype(np.float32)
        return HeatMap(
            values=values,
            method=method,
            class_name=self.classifier.class_name(layer_map.positive),
            probability=layer_map.probability,
            peak=map_peak(values),
            flat=flat,
        )

    def layer_map(
        self,
        pixels: np.ndarray,
        *,
        method: HeatmapMethod | str = HeatmapMethod.GRADCAM,
        target: Target = "predicted",
    ) -> LayerMap:
        """The ReLU'd map of one 2-D slice on the Grad-CAM layer's own grid, unnormalised."""
        method = _method(method)
        if target not in TARGETS:
            raise ValueError(f"unknown Grad-CAM target {target!r}: use one of {TARGETS}")
        slice_pixels = np.asarray(pixels)
        if slice_pixels.ndim != 2 or min(slice_pixels.shape) < 1:
            raise ValueError(f"expected a 2-D slice, got shape {slice_pixels.shape}")
        image = self.classifier.prepare(slice_pixels)[None].astype(np.float32, copy=False)
        sign = {"predicted": 0.0, "positive": 1.0, "negative": -1.0}[target]
        with self._lock:
            function = self._ensure_built()[method]
            cam, probability, used = function(image, np.float32(sign), self._decision_logit())
        return LayerMap(
            values=np.asarray(cam, dtype=np.float32),
            probability=float(np.asarray(probability)),
            positive=float(np.asarray(used)) > 0,
        )

    def _decision_logit(self) -> np.float32:
        """The logit at which the classifier decides "positive": its calibrated probability
        sigmoid(logit / T) reaches the threshold (as `SlicePredictions.positive` decides)."""
        threshold = float(self.classifier.manifest.threshold)
        temperature = float(self.classifier.manifest.temperature)
        with np.errstate(divide="ignore"):
            cut = temperature * (np.log(threshold) - np.log1p(-threshold))
        return np.float32(cut)

    # --- the gradient model -----------------------------------------------------------------

    def _ensure_built(self) -> dict[HeatmapMethod, Any]:
        if self._functions is None:
            functions = _build_functions(self.classifier)
            _check_against_model(self.classifier, functions[HeatmapMethod.GRADCAM])
            self._functions = functions
        return self._functions


def _build_functions(classifier: Classifier) -> dict[HeatmapMethod, Any]:
    """One compiled function per method: (image (1, s, s, 1), sign, decision logit) → (raw map
    on the target layer's grid, P(positive), the sign of the class explained)."""
    import tensorflow as tf

    model = classifier.model
    architecture = classifier.architecture
    forward = _feature_and_head(model, classifier.manifest.gradcam_layer)
    output_layer = model.layers[-1]
    kernel = getattr(output_layer, "kernel", None)
    bias = getattr(output_layer, "bias", None)
    if kernel is None or bias is None:
        raise ModelLoadError(
            f"model {model.name!r}: its output layer {output_layer.name!r} is not a Dense layer "
            "with a bias; Grad-CAM cannot compute its logit"
        )
    softmax = architecture.output == "softmax"
    channels = architecture.channels
    size = architecture.input_size

    def features_and_gradients(image: Any, sign: Any, cut: Any) -> tuple[Any, Any, Any, Any]:
        """The target layer's activations, the score's gradients there, P(positive) and the
        sign used (+1 positive class, -1 negative; a `sign` of 0 picks the decided class: the
        logit against `cut`, the threshold as a logit)."""
        batch = as_network_input(image, channels)
        with tf.GradientTape() as tape:
            features, head_input = forward(batch)
            dtype = output_layer.compute_dtype
            pre_activation = tf.matmul(tf.cast(head_input, dtype), tf.cast(kernel, dtype))
            pre_activation = tf.cast(pre_activation + tf.cast(bias, dtype), tf.float32)
            logit = pre_activation[0, 1] - pre_activation[0, 0] if softmax else pre_activation[0, 0]
            decided = tf.where(logit >= cut, 1.0, -1.0)
            used = tf.stop_gradient(tf.where(sign != 0.0, tf.sign(sign), decided))
            score = logit * used
        gradients = tape.gradient(score, features)
        activations = tf.cast(features, tf.float32)[0]
        return activations, tf.cast(gradients, tf.float32)[0], tf.sigmoid(logit), used

    def gradcam(image: Any, sign: Any, cut: Any) -> tuple[Any, Any, Any]:
        activations, grads, probability, used = features_and_gradients(image, sign, cut)
        weights = tf.reduce_mean(grads, axis=(0, 1))
        cam = tf.nn.relu(tf.reduce_sum(activations * weights, axis=-1))
        return cam, probability, used

    def gradcam_plus_plus(image: Any, sign: Any, cut: Any) -> tuple[Any, Any, Any]:
        activations, grads, probability, used = features_and_gradients(image, sign, cut)
        squared = tf.square(grads)
        cubed = squared * grads
        # alpha = g² / (2 g² + Σ_ab A_ab g³), zero where the denominator vanishes
        denominator = 2.0 * squared + tf.reduce_sum(activations, axis=(0, 1)) * cubed
        nonzero = denominator != 0.0
        safe = tf.where(nonzero, denominator, tf.ones_like(denominator))
        alphas = tf.where(nonzero, squared / safe, tf.zeros_like(squared))
        weights = tf.reduce_sum(alphas * tf.nn.relu(grads), axis=(0, 1))
        cam = tf.nn.relu(tf.reduce_sum(activations * weights, axis=-1))
        return cam, probability, used

    def hirescam(image: Any, sign: Any, cut: Any) -> tuple[Any, Any, Any]:
        # gradient × activation per position, summed over channels: no spatial averaging of
        # the gradients, which cancel across positions before a flatten → dense head
        activations, grads, probability, used = features_and_gradients(image, sign, cut)
        cam = tf.nn.relu(tf.reduce_sum(activations * grads, axis=-1))
        return cam, probability, used

    def layercam(image: Any, sign: Any, cut: Any) -> tuple[Any, Any, Any]:
        # as HiResCAM, with only the positive gradients (evidence for the class)
        activations, grads, probability, used = features_and_gradients(image, sign, cut)
        cam = tf.nn.relu(tf.reduce_sum(activations * tf.nn.relu(grads), axis=-1))
        return cam, probability, used

    signature = [
        tf.TensorSpec((1, size, size, 1), tf.float32),
        tf.TensorSpec((), tf.float32),
        tf.TensorSpec((), tf.float32),
    ]
    return {
        HeatmapMethod.GRADCAM: tf.function(gradcam, input_signature=signature),
        HeatmapMethod.GRADCAM_PLUS_PLUS: tf.function(gradcam_plus_plus, input_signature=signature),
        HeatmapMethod.HIRESCAM: tf.function(hirescam, input_signature=signature),
        HeatmapMethod.LAYERCAM: tf.function(layercam, input_signature=signature),
    }


def _feature_and_head(model: Any, layer_name: str) -> Any:
    """A callable: network input → (target layer's output, the output layer's input).

    The target is looked up at the top level first, then inside each nested model (a backbone).
    The layers after it (or after the backbone holding it) up to the output layer are applied in
    the model's layer order with `training=False` (dropout off); `_check_against_model` verifies
    that this reproduces the model.
    """
    import keras

    top_level = {layer.name: layer for layer in model.layers}
    layers = list(model.layers)
    if layer_name in top_level:
        container = top_level[layer_name]
        trunk = keras.Model(model.input, container.output, name=f"{model.name}_gradcam_trunk")

        def run_trunk(batch: Any) -> tuple[Any, Any]:
            features = trunk(batch, training=False)
            return features, features

    else:
        container = _backbone_holding(model, layer_name)
        if any(
            not isinstance(layer, keras.layers.InputLayer)
            for layer in layers[: layers.index(container)]
        ):
            raise ModelLoadError(
                f"model {model.name!r}: Grad-CAM needs the backbone {container.name!r} to take "
                "the model's input directly"
            )
        inner = keras.Model(
            container.input,
            [container.get_layer(layer_name).output, container.output],
            name=f"{container.name}_gradcam",
        )

        def run_trunk(batch: Any) -> tuple[Any, Any]:
            features, backbone_output = inner(batch, training=False)
            return features, backbone_output

    head = layers[layers.index(container) + 1 : -1]
    logger.debug(
        "Grad-CAM of %s at %s, head %s", model.name, layer_name, [layer.name for layer in head]
    )

    def forward(batch: Any) -> tuple[Any, Any]:
        features, x = run_trunk(batch)
        for layer in head:
            x = layer(x, training=False)
        return features, x

    return forward


def _backbone_holding(model: Any, layer_name: str) -> Any:
    for layer in model.layers:
        if not hasattr(layer, "get_layer"):
            continue
        try:
            layer.get_layer(layer_name)
        except ValueError:
            continue
        return layer
    raise ModelLoadError(
        f"model {model.name!r} has no layer {layer_name!r} (the manifest's Grad-CAM layer), "
        "neither at the top level nor inside a nested backbone"
    )


def _check_against_model(classifier: Classifier, function: Any) -> None:
    """The gradient model's P(positive) must match the classifier's on a probe image."""
    size = classifier.input_size
    probe = np.random.default_rng(0).random((1, size, size, 1), dtype=np.float32)
    _, computed, _ = function(probe, np.float32(1.0), np.float32(0.0))
    expected = float(classifier.predict_prepared(probe)[0])
    difference = abs(float(np.asarray(computed)) - expected)
    if not difference <= _CHECK_TOLERANCE:
        raise ModelLoadError(
            f"model {classifier.name!r}: the Grad-CAM graph does not reproduce the model's output "
            f"(P = {float(np.asarray(computed)):.4f} against {expected:.4f}); its layers after "
            f"{classifier.manifest.gradcam_layer!r} are not a plain chain"
        )

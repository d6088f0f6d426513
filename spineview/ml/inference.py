"""Batched inference of a stored model: raw and calibrated P(degenerative) for each slice.

One `Classifier` holds a loaded network and one compiled `tf.function` with a fixed input
signature (any batch length, no retracing), so a series costs one call per batch rather than a
`model.predict` per slice. Slices are preprocessed (numpy, `core.preprocess`) on a helper thread
while TensorFlow computes the previous batch. The network is built in bfloat16 where the CPU
computes it natively (about twice the float32 rate here) with a float32 output layer.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from spineview.core.preprocess import preprocess_slice
from spineview.errors import InferenceCancelled
from spineview.ml.architectures import as_network_input
from spineview.models.architectures import MC_DROPOUT, Architecture, get_architecture
from spineview.models.distribution_check import DistributionCheck
from spineview.models.head_posterior import HeadPosterior, SampledHeads
from spineview.models.manifest import ModelManifest
from spineview.models.metrics import apply_temperature, calibrate_probability
from spineview.models.precision import Precision, resolve_precision
from spineview.models.predictions import UNCERTAINTY_SAMPLES, SlicePredictions

DEFAULT_BATCH_SIZE = 32
InferenceProgress = Callable[[int, int], None]  # (slices done, slices in all)


class Classifier:
    """A stored model, loaded and compiled for batched inference.

    One forward pass gives each slice's probability and its penultimate-layer features: the
    features give the distance to the training data (when the model has a distribution check)
    and the uncertainty samples (Monte-Carlo dropout for a network with dropout before its
    output layer, else draws from the last-layer posterior where the model has one), which
    need only that last layer (a matrix product per batch, no further network passes).
    """

    def __init__(
        self,
        model: Any,
        manifest: ModelManifest,
        folder: Path | None,
        precision: str,
        distribution: DistributionCheck | None = None,
        posterior: HeadPosterior | None = None,
    ) -> None:
        import keras
        import tensorflow as tf

        self.model = model
        self.manifest = manifest
        self.folder = folder
        self.precision = precision
        self.distribution = distribution
        self.architecture: Architecture = get_architecture(manifest.architecture)
        size = self.architecture.input_size
        self._lock = threading.Lock()
        self._two_outputs, self.distribution_width = _two_outputs(keras, model, self.architecture)
        self._forward = tf.function(
            self._probabilities,
            input_signature=[tf.TensorSpec((None, size, size, 1), tf.float32)],
        )
        self._sampled_heads, self.uncertainty_method = _sampled_heads(
            model, self.architecture, posterior
        )

    @classmethod
    def load(cls, folder: Path, *, precision: Precision | str = "auto") -> Classifier:
        """Load a model folder (checked as `store.load_model` checks it, its distribution
        check and head posterior too) for inference."""
        from spineview.ml.store import load_model
        from spineview.models.catalogue import (
            load_distribution_check,
            load_head_posterior,
            require_task,
        )

        require_task(Path(folder), "slices")
        resolved = resolve_precision(precision)
        model, manifest = load_model(Path(folder), precision=resolved)
        check = load_distribution_check(Path(folder), manifest)
        posterior = load_head_posterior(Path(folder), manifest)
        return cls(model, manifest, Path(folder), resolved, check, posterior)

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def identity(self) -> tuple[Path, str]:
        """The model folder and its weights' sha256 (a model retrained in place differs)."""
        return (self.folder or Path(self.name), self.manifest.weights_sha256)

    @property
    def input_size(self) -> int:
        return self.architecture.input_size

    @property
    def positive_class(self) -> str:
        return self.manifest.class_names[1]

    @property
    def negative_class(self) -> str:
        return self.manifest.class_names[0]

    def class_name(self, positive: bool) -> str:
        return self.positive_class if positive else self.negative_class

    def _probabilities(self, batch: Any) -> Any:
        import tensorflow as tf

        batch = as_network_input(batch, self.architecture.channels)
        output, features = self._two_outputs(batch, training=False)
        output = tf.cast(output, tf.float32)
        probability = output[:, 1] if self.architecture.output == "softmax" else output[:, 0]
        return probability, tf.cast(features, tf.float32)

    def warm_up(self) -> None:
        """Trace and run the compiled function once, so the first series is not slowed by it."""
        size = self.input_size
        self.predict_prepared(np.zeros((1, size, size, 1), dtype=np.float32))

    def prepare(self, pixels: np.ndarray) -> np.ndarray:
        """One 2-D slice as the network's (size, size, 1) input."""
        return preprocess_slice(
            pixels, self.input_size, channels=1, scaling=self.manifest.intensity_scaling
        )

    def predict_prepared(self, batch: np.ndarray) -> np.ndarray:
        """Raw P(positive) for a (n, size, size, 1) batch of prepared slices (float64)."""
        return self.predict_with_features(batch)[0]

    def predict_with_features(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Raw P(positive) (float64) and the features (n × feature_count, float64) of a
        (n, size, size, 1) batch of prepared slices, from one forward pass: the first
        `distribution_width` columns are what the distribution check measures, the rest the
        output layer's input (for the uncertainty samples; see `head_features`)."""
        if len(batch) == 0:
            return np.zeros(0), np.zeros((0, self.feature_count))
        with self._lock:  # one compiled call at a time: the worker and a Grad-CAM may share it
            output, features = self._forward(np.ascontiguousarray(batch, dtype=np.float32))
        return np.asarray(output, dtype=np.float64), np.asarray(features, dtype=np.float64)

    @property
    def feature_count(self) -> int:
        return int(self._two_outputs.outputs[1].shape[-1])

    def head_features(self, features: np.ndarray) -> np.ndarray:
        """The output layer's input: the columns of `features` after the distribution
        features (none where the architecture names no `head_input_layer`)."""
        return features[:, self.distribution_width :]

    def uncertainty_samples(self, features: np.ndarray) -> np.ndarray | None:
        """(n, UNCERTAINTY_SAMPLES) calibrated probabilities under the sampled output layers;
        None when the model has no way to sample them."""
        if self._sampled_heads is None:
            return None
        logits = self._sampled_heads.logits(self.head_features(features))
        calibrated = apply_temperature(logits.ravel(), self.manifest.temperature)
        return np.asarray(calibrated).reshape(logits.shape)

    def calibrate(self, raw: np.ndarray) -> np.ndarray:
        """The model's temperature scaling; NaN stays NaN."""
        raw = np.asarray(raw, dtype=np.float64)
        calibrated = np.full(raw.shape, np.nan)
        finite = np.isfinite(raw)
        if not finite.any():
            return calibrated
        calibrated[finite] = calibrate_probability(raw[finite], self.manifest.temperature)
        return calibrated

    def classify(
        self,
        slices: Iterable[np.ndarray],
        *,
        count: int | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        progress: InferenceProgress | None = None,
        cancel: threading.Event | None = None,
    ) -> SlicePredictions:
        """Classify 2-D slices in order. `count` (the number of slices) lets progress report a
        total; `cancel` is checked between batches and raises InferenceCancelled."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        total = count if count is not None else 0
        raw: list[np.ndarray] = []
        features: list[np.ndarray] = []
        done = 0
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="prepare") as pool:
            batches = _batches(iter(slices), batch_size)
            pending: Future[tuple[np.ndarray, np.ndarray]] | None = pool.submit(
                self._prepare_next, batches
            )
            while pending is not None:
                images, valid = pending.result()
                if len(valid) == 0:
                    break
                pending = pool.submit(self._prepare_next, batches)  # overlaps the network
                if cancel is not None and cancel.is_set():
                    raise InferenceCancelled("classification cancelled")
                probabilities = np.full(len(valid), np.nan)
                batch_features = np.full((len(valid), self.feature_count), np.nan)
                probabilities[valid], batch_features[valid] = self.predict_with_features(
                    images[valid]
                )
                raw.append(probabilities)
                features.append(batch_features)
                done += len(valid)
                if progress is not None:
                    progress(done, max(total, done))
        values = np.concatenate(raw) if raw else np.zeros(0)
        return self.predictions(
            values,
            np.concatenate(features) if features else np.zeros((0, self.feature_count)),
        )

    def predictions(self, raw: np.ndarray, features: np.ndarray) -> SlicePredictions:
        """SlicePredictions from raw probabilities and their features (NaN rows: no result)."""
        valid = np.isfinite(raw)
        samples = None
        if self._sampled_heads is not None:
            samples = np.full((len(raw), UNCERTAINTY_SAMPLES), np.nan)
            if valid.any():
                samples[valid] = self.uncertainty_samples(features[valid])
        distances = None
        if self.distribution is not None:
            distances = np.full(len(raw), np.nan)
            if valid.any():
                distances[valid] = self.distribution.distances(
                    features[valid, : self.distribution_width]
                )
        return SlicePredictions(
            raw,
            self.calibrate(raw),
            float(self.manifest.threshold),
            distances,
            samples,
            self.uncertainty_method if samples is not None else "",
        )

    def classify_volume(
        self,
        volume: np.ndarray,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        progress: InferenceProgress | None = None,
        cancel: threading.Event | None = None,
    ) -> SlicePredictions:
        """Classify every slice of a (slices, rows, columns) volume."""
        return self.classify(
            iter(volume),
            count=len(volume),
            batch_size=batch_size,
            progress=progress,
            cancel=cancel,
        )

    def _prepare_next(self, batches: Iterator[list[np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
        size = self.input_size
        chunk = next(batches, [])
        images = np.zeros((len(chunk), size, size, 1), dtype=np.float32)
        valid = np.zeros(len(chunk), dtype=bool)
        for i, pixels in enumerate(chunk):
            if np.isfinite(pixels).any():
                images[i] = self.prepare(pixels)
                valid[i] = True
        return images, valid


def _two_outputs(keras: Any, model: Any, architecture: Architecture) -> tuple[Any, int]:
    """A model giving [output, features] and the width of the distribution features: each of
    `architecture.distribution_layers` averaged over the image (in float32), then the output
    layer's input where the architecture names it (`head_input_layer`)."""
    parts = []
    for name in architecture.distribution_layers:
        values = keras.ops.cast(model.get_layer(name).output, "float32")
        parts.append(keras.ops.mean(values, axis=(1, 2)) if len(values.shape) == 4 else values)
    width = sum(int(part.shape[-1]) for part in parts)
    if architecture.head_input_layer:
        head = model.get_layer(architecture.head_input_layer).output
        parts.append(keras.ops.cast(head, "float32"))
    features = parts[0] if len(parts) == 1 else keras.ops.concatenate(parts, axis=-1)
    return keras.Model(model.inputs, [model.outputs[0], features]), width


def head_logit(model: Any, architecture: Architecture) -> tuple[np.ndarray, float]:
    """The weights (d,) and bias of the positive class's logit in the output layer (for a
    two-class softmax, the difference of the two classes': softmax of two is the sigmoid of
    their difference)."""
    kernel, bias = (
        np.asarray(values, dtype=np.float64) for values in model.get_layer("output").get_weights()
    )
    if architecture.output == "sigmoid":
        return kernel[:, 0], float(bias[0])
    return kernel[:, 1] - kernel[:, 0], float(bias[1] - bias[0])


def _sampled_heads(
    model: Any, architecture: Architecture, posterior: HeadPosterior | None
) -> tuple[SampledHeads | None, str]:
    """The sampled output layers and how they were drawn: fixed dropout masks (the same series
    always gets the same uncertainty) for a network with dropout before its output layer,
    else draws from the last-layer posterior; (None, "") for neither."""
    method = architecture.uncertainty_method(posterior is not None)
    if method == MC_DROPOUT:
        rate = architecture.head_dropout
        weights, bias = head_logit(model, architecture)
        rng = np.random.default_rng(0)
        keep = rng.random((UNCERTAINTY_SAMPLES, len(weights))) >= rate
        masked = keep / (1.0 - rate) * weights  # kept units scaled as Keras does in training
        return SampledHeads(masked, np.full(UNCERTAINTY_SAMPLES, bias)), MC_DROPOUT
    if posterior is not None and method:
        centre = head_logit(model, architecture)
        return posterior.sampled_heads(UNCERTAINTY_SAMPLES, centre), method
    return None, ""


def _batches(slices: Iterator[np.ndarray], size: int) -> Iterator[list[np.ndarray]]:
    batch: list[np.ndarray] = []
    for pixels in slices:
        batch.append(pixels)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch

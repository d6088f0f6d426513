"""Batched inference of a stored model: raw and calibrated P(degenerative) for each slice.

One `Classifier` holds a loaded network and one compiled `tf.function` with a fixed input
signature (any batch length, no retracing), so a series costs one call per batch rather than a
`model.predict` per slice. Slices are preprocessed (numpy, `ml.preprocess`) on a helper thread
while TensorFlow computes the previous batch. The network is built in bfloat16 where the CPU
computes it natively (about twice the float32 rate here) with a float32 output layer.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from spineview.errors import SpineViewError
from spineview.ml.architectures import Architecture, get_architecture
from spineview.ml.manifest import ModelManifest
from spineview.ml.metrics import calibrate_probability
from spineview.ml.precision import Precision, resolve_precision
from spineview.ml.preprocess import preprocess_slice

DEFAULT_BATCH_SIZE = 32
InferenceProgress = Callable[[int, int], None]  # (slices done, slices in all)


class InferenceCancelled(SpineViewError):
    """The user cancelled a classification."""


@dataclass(frozen=True)
class SlicePredictions:
    """Per-slice results in slice order; NaN where a slice holds no finite pixel."""

    raw: np.ndarray
    """P(positive class) as the network outputs it (float64)."""
    calibrated: np.ndarray
    """The same after the model's temperature scaling: the confidence the UI shows."""
    threshold: float

    @property
    def positive(self) -> np.ndarray:
        """True where the calibrated probability reaches the threshold (False for NaN)."""
        with np.errstate(invalid="ignore"):
            return np.asarray(self.calibrated >= self.threshold)

    @property
    def valid(self) -> np.ndarray:
        return np.isfinite(self.calibrated)

    def __len__(self) -> int:
        return len(self.raw)


class Classifier:
    """A stored model, loaded and compiled for batched inference."""

    def __init__(
        self, model: Any, manifest: ModelManifest, folder: Path | None, precision: str
    ) -> None:
        import tensorflow as tf

        self.model = model
        self.manifest = manifest
        self.folder = folder
        self.precision = precision
        self.architecture: Architecture = get_architecture(manifest.architecture)
        size = self.architecture.input_size
        self._lock = threading.Lock()
        self._forward = tf.function(
            self._probabilities,
            input_signature=[tf.TensorSpec((None, size, size, 1), tf.float32)],
        )

    @classmethod
    def load(cls, folder: Path, *, precision: Precision | str = "auto") -> Classifier:
        """Load a model folder (checked as `store.load_model` checks it) for inference."""
        from spineview.ml.store import load_model

        resolved = resolve_precision(precision)
        model, manifest = load_model(Path(folder), precision=resolved)
        return cls(model, manifest, Path(folder), resolved)

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

        if self.architecture.channels == 3:
            batch = tf.repeat(batch, 3, axis=-1)
        output = tf.cast(self.model(batch, training=False), tf.float32)
        return output[:, 1] if self.architecture.output == "softmax" else output[:, 0]

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
        if len(batch) == 0:
            return np.zeros(0)
        with self._lock:  # one compiled call at a time: the worker and a Grad-CAM may share it
            output = self._forward(np.ascontiguousarray(batch, dtype=np.float32))
        return np.asarray(output, dtype=np.float64)

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
                probabilities[valid] = self.predict_prepared(images[valid])
                raw.append(probabilities)
                done += len(valid)
                if progress is not None:
                    progress(done, max(total, done))
        values = np.concatenate(raw) if raw else np.zeros(0)
        return SlicePredictions(values, self.calibrate(values), float(self.manifest.threshold))

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


def _batches(slices: Iterator[np.ndarray], size: int) -> Iterator[list[np.ndarray]]:
    batch: list[np.ndarray] = []
    for pixels in slices:
        batch.append(pixels)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch

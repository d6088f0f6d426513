"""Finding a study's disc levels on one of its sagittal series with a level model.

The model reads the mid-sagittal slice and its two neighbours; which slice is the midline is not
known (the spine is rarely at the exact centre of the slab), so the middle slice and one to each
side are each read and the answer whose levels are most concentrated is kept, as the model's
test figures were measured. The points found are turned into patient coordinates through that
slice's plane and checked (`models.level_decision`) before any is named.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from spineview.core.levels import LEVELS, LevelMap
from spineview.core.series import Series
from spineview.data.level_examples import LEVEL_CHANNELS, level_input
from spineview.ml.task_model import TaskModel
from spineview.models.level_decision import answer_problem, doubt_text, series_problem
from spineview.models.level_result import FoundLevel, StudyLevels

CENTRE_CANDIDATES = (0, -1, 1)
"""Offsets from the middle slice read as the possible midline."""
PREDICT_BATCH = 32


@dataclass
class LevelLocator(TaskModel):
    """A loaded level model, ready to read sagittal series."""

    TASK = "levels"
    _features: Any = None

    def predict(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Points (n, 5, 2) as fractions, confidences (n, 5) and the image-averaged bottleneck
        features (n, d) of preprocessed inputs (n, size, size, 3)."""
        from spineview.ml.level_model import decode_heatmaps

        if self._features is None:
            import keras

            bottleneck = self.model.get_layer("bottleneck").output
            pooled = keras.layers.GlobalAveragePooling2D(dtype="float32")(bottleneck)
            self._features = keras.Model(self.model.inputs[0], [self.model.output, pooled])
        parts = [(np.zeros((0, len(LEVELS), 2)), np.zeros((0, len(LEVELS))), np.zeros((0, 0)))]
        for start in range(0, len(images), PREDICT_BATCH):
            batch = np.asarray(images[start : start + PREDICT_BATCH], dtype=np.float32)
            logits, features = self._features(batch, training=False)
            points, confidence, _maps = decode_heatmaps(np.asarray(logits))
            parts.append((points, confidence, np.asarray(features, dtype=np.float64)))
        if len(parts) > 1:
            parts = parts[1:]
        return (
            np.concatenate([p[0] for p in parts]),
            np.concatenate([p[1] for p in parts]),
            np.concatenate([p[2] for p in parts]),
        )

    def locate(
        self,
        series: Series,
        *,
        study_uid: str,
        source_key: str | None = None,
    ) -> StudyLevels:
        """The disc levels `series` shows (each on an instance of `series.instance_numbers`),
        or the reason none is named."""
        problem = series_problem(series)
        if problem:
            return self._declined(study_uid, source_key, problem)
        centres = _centres(series.n_slices)
        size = self.manifest.input_size
        images = np.stack([
            level_input(_neighbour_slices(series.volume, centre), size,
                        self.manifest.intensity_scaling)
            for centre in centres
        ])  # fmt: skip
        points, confidence, features = self.predict(images)
        best = int(np.argmax(confidence.mean(axis=1)))
        centre = centres[best]
        plane = series.plane(centre)
        if plane is None or series.pixel_spacing is None:  # series_problem rules this out
            return self._declined(study_uid, source_key, "the middle slice has no plane")
        rows, columns = series.volume.shape[1:]
        confidences = {level: float(confidence[best, i]) for i, level in enumerate(LEVELS)}
        pixels = {
            level: (plane, series.pixel_spacing, float(points[best, i, 0] * columns),
                    float(points[best, i, 1] * rows))
            for i, level in enumerate(LEVELS)
        }  # fmt: skip
        levels = LevelMap.from_pixels(pixels, confidences)
        distance = threshold = None
        if self.check is not None:
            distance = float(self.check.distances(features[best : best + 1])[0])
            threshold = self.check.threshold
        refusal = answer_problem(levels, confidences, distance, threshold)
        if refusal:
            return self._declined(study_uid, source_key, refusal)
        number = _instance_number(series.instance_numbers, centre)
        found = tuple(
            FoundLevel(point.level, number, pixels[point.level][2], pixels[point.level][3],
                       point.position, point.confidence)
            for point in levels.points
        )  # fmt: skip
        where = f"series {series.series_number}" if series.series_number is not None else "series"
        description = f" ({series.description})" if series.description else ""
        doubt = doubt_text(confidences)
        reason = f"{self.name} on {where}{description}, slice {centre + 1}" + (
            f"; {doubt}" if doubt else ""
        )
        return StudyLevels(study_uid, levels, reason, source_key, found, self.name)

    def _declined(self, study_uid: str, source_key: str | None, reason: str) -> StudyLevels:
        return StudyLevels(study_uid, None, f"No disc levels: {reason}", source_key, (), self.name)


def _centres(count: int) -> list[int]:
    middle = count // 2
    return list(dict.fromkeys(min(max(middle + k, 0), count - 1) for k in CENTRE_CANDIDATES))


def _neighbour_slices(volume: np.ndarray, centre: int) -> list[np.ndarray]:
    half = LEVEL_CHANNELS // 2
    last = volume.shape[0] - 1
    return [volume[min(max(centre + k, 0), last)] for k in range(-half, half + 1)]


def _instance_number(numbers: Sequence[int | None], index: int) -> int:
    """The slice's InstanceNumber, else its 1-based position (a series built without them)."""
    if index < len(numbers) and numbers[index] is not None:
        return int(numbers[index])  # type: ignore[arg-type]
    return index + 1

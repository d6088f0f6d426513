"""Training examples for level localisation, from an RSNA-layout dataset.

One example per sagittal T2/STIR series with spinal-canal coordinates: the instance most of
its disc levels are marked on (the midline) and its two neighbours as three channels, resized
to a square, and for each of the five levels the marked point as fractions of the image's
width and height (the model regresses them), with a mask for levels the dataset leaves out.
The pixel spacing of the image is kept, so errors can be given in millimetres.

The slices of a sagittal series are parallel, so a point marked on one instance has the same
pixel coordinates on its neighbours: every mark of the series is a target, and training may
also centre an example one or two instances off the midline (`centre_offsets`), as inference,
which does not know the midline, has to.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from spineview.core.levels import LEVELS
from spineview.core.preprocess import preprocess_slice
from spineview.data.rsna import RsnaDataset
from spineview.data.rsna_format import SAGITTAL_T2_STIR
from spineview.data.rsna_levels import LEVEL_CONDITION
from spineview.dicom.decode import decode_frame
from spineview.dicom.header import FileHeader, read_header
from spineview.errors import DicomLoadError

LEVEL_INPUT_SIZE = 128
LEVEL_CHANNELS = 3
"""The marked instance and its neighbours on either side (the marked one repeated at an end)."""


@dataclass(frozen=True)
class LevelExample:
    study_id: str
    series_id: str
    instance_number: int
    image: np.ndarray
    """(LEVEL_INPUT_SIZE, LEVEL_INPUT_SIZE, LEVEL_CHANNELS) float32 in [0, 1]."""
    targets: np.ndarray
    """(5, 2): (x / columns, y / rows) of each level in the marked instance."""
    mask: np.ndarray
    """(5,) bool: which levels are marked."""
    shape: tuple[int, int]
    """(rows, columns) of the instance."""
    pixel_spacing: tuple[float, float] | None


def level_input(
    slices: list[np.ndarray], size: int = LEVEL_INPUT_SIZE, scaling: str = "percentile"
) -> np.ndarray:
    """The network input from LEVEL_CHANNELS 2-D slices (centre in the middle): each scaled on
    its own and resized to (size, size), stacked as channels."""
    return np.concatenate([preprocess_slice(pixels, size, 1, scaling) for pixels in slices], axis=2)


def level_examples(
    dataset: RsnaDataset,
    *,
    size: int = LEVEL_INPUT_SIZE,
    scaling: str = "percentile",
    centre_offsets: tuple[int, ...] = (0,),
) -> tuple[list[LevelExample], list[str]]:
    """The examples of `dataset` (one per series and centre offset) and a sentence for each
    series that had marks but could not be used (a file missing or unreadable)."""
    marks: dict[tuple[str, str], list[tuple[int, str, float, float]]] = {}
    for point in dataset.coordinates:
        if point.condition == LEVEL_CONDITION and point.level in LEVELS:
            key = (point.study_id, point.series_id)
            marks.setdefault(key, []).append((point.instance_number, point.level, point.x, point.y))
    examples: list[LevelExample] = []
    problems: list[str] = []
    for (study_id, series_id), points in sorted(marks.items()):
        series = dataset.series(study_id, series_id)
        if series is None or (series.description and series.description != SAGITTAL_T2_STIR):
            continue
        instance = Counter(number for number, *_ in points).most_common(1)[0][0]
        numbers = sorted(series.instance_numbers) or [instance]
        middle = numbers.index(instance) if instance in numbers else 0
        centres = dict.fromkeys(
            numbers[min(max(middle + offset, 0), len(numbers) - 1)] for offset in centre_offsets
        )
        targets = np.zeros((len(LEVELS), 2), dtype=np.float32)
        mask = np.zeros(len(LEVELS), dtype=bool)
        for centre in centres:
            try:
                read = [_read(series.file(n)) for n in _neighbours(numbers, centre, LEVEL_CHANNELS)]
            except DicomLoadError as error:
                problems.append(f"study {study_id} series {series_id}: {error}")
                break
            header, middle_pixels = read[LEVEL_CHANNELS // 2]
            rows, columns = middle_pixels.shape
            if any(pixels.shape != (rows, columns) for _, pixels in read):
                problems.append(
                    f"study {study_id} series {series_id}: neighbouring instances differ in size"
                )
                break
            if not mask.any():
                for _number, level, x, y in points:  # parallel slices: same pixels on each
                    index = LEVELS.index(level)
                    targets[index] = (x / columns, y / rows)
                    mask[index] = True
            examples.append(
                LevelExample(
                    study_id,
                    series_id,
                    centre,
                    level_input([pixels for _, pixels in read], size, scaling),
                    targets.copy(),
                    mask.copy(),
                    (rows, columns),
                    header.pixel_spacing,
                )
            )
    return examples, problems


def _neighbours(numbers: list[int], centre: int, count: int) -> list[int]:
    """`count` instance numbers centred on `centre` (the ends repeat where the series ends)."""
    position = numbers.index(centre) if centre in numbers else 0
    half = count // 2
    chosen = [numbers[min(max(position + k, 0), len(numbers) - 1)] for k in range(-half, half + 1)]
    return chosen[:count]


def _read(path: Path) -> tuple[FileHeader, np.ndarray]:
    header = read_header(path)
    return header, np.asarray(decode_frame(header, 0), dtype=np.float32)

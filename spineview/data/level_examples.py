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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from spineview.core.geometry import SlicePlane, row_col_normal
from spineview.core.levels import LEVELS, LevelMap
from spineview.core.preprocess import preprocess_slice
from spineview.data.rsna import RsnaDataset, RsnaSeries
from spineview.data.rsna_format import SAGITTAL_T1, SAGITTAL_T2_STIR
from spineview.data.rsna_levels import LEVEL_CONDITION, study_level_maps
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
    description: str = ""
    """The series' type as the descriptions CSV gives it ("Sagittal T2/STIR", ...)."""


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
    with_t1: bool = False,
) -> tuple[list[LevelExample], list[str]]:
    """The examples of `dataset` (one per series and centre offset) and a sentence for each
    series that had marks but could not be used (a file missing or unreadable).

    With `with_t1`, each study's sagittal T1 series too: the study's marked discs (on its
    sagittal T2/STIR, in patient coordinates: `rsna_levels.study_level_maps`) projected onto
    the T1 slice nearest to them, so one model learns both contrasts from the same marks."""
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

        def marked(_header: FileHeader, rows: int, columns: int, points: list = points) -> _Targets:
            targets, mask = _no_targets()
            for _number, level, x, y in points:  # parallel slices: same pixels on each
                targets[LEVELS.index(level)] = (x / columns, y / rows)
                mask[LEVELS.index(level)] = True
            return targets, mask

        _add_examples(series, instance, centre_offsets, marked, size, scaling, examples, problems)
    if with_t1:
        maps, map_problems = study_level_maps(dataset)
        problems += map_problems
        for study_id, level_map in sorted(maps.items()):
            for series in dataset.studies[study_id].series_of_type(SAGITTAL_T1):
                _add_projected(series, level_map, centre_offsets, size, scaling, examples, problems)
    return examples, problems


_Targets = tuple[np.ndarray, np.ndarray]
"""(5, 2) targets as fractions and the (5,) mask of the levels given."""


def _no_targets() -> _Targets:
    return np.zeros((len(LEVELS), 2), dtype=np.float32), np.zeros(len(LEVELS), dtype=bool)


def _add_projected(
    series: RsnaSeries,
    level_map: LevelMap,
    centre_offsets: tuple[int, ...],
    size: int,
    scaling: str,
    examples: list[LevelExample],
    problems: list[str],
) -> None:
    """Examples of a series the discs were not marked on: centred on its slice nearest to the
    discs, each disc projected onto the slice's plane (an off-image disc left unmarked)."""
    where = f"study {series.study_id} series {series.series_id}"
    try:
        planes = {n: _plane(read_header(series.file(n))) for n in series.instance_numbers}
    except DicomLoadError as error:
        problems.append(f"{where}: {error}")
        return
    if not planes or any(plane is None for plane, _ in planes.values()):
        problems.append(f"{where}: an instance has no position, orientation or pixel spacing")
        return
    discs = np.mean([point.position for point in level_map.points], axis=0)
    nearest = min(planes, key=lambda n: _off_plane(planes[n][0], discs))  # type: ignore[arg-type]

    def projected(header: FileHeader, rows: int, columns: int) -> _Targets:
        targets, mask = _no_targets()
        plane, spacing = _plane(header)
        if plane is None or spacing is None:
            return targets, mask
        for label in level_map.in_image(plane, spacing):
            x, y = label.column / columns, label.row / rows
            if 0.0 < x < 1.0 and 0.0 < y < 1.0:
                targets[LEVELS.index(label.level)] = (x, y)
                mask[LEVELS.index(label.level)] = True
        return targets, mask

    _add_examples(series, nearest, centre_offsets, projected, size, scaling, examples, problems)


def _plane(header: FileHeader) -> tuple[SlicePlane | None, tuple[float, float] | None]:
    position = header.frame_positions[0] if header.frame_positions else None
    orientation = header.frame_orientations[0] if header.frame_orientations else None
    if position is None or orientation is None or header.pixel_spacing is None:
        return None, None
    return SlicePlane(position, orientation), header.pixel_spacing


def _off_plane(plane: SlicePlane, point: np.ndarray) -> float:
    normal = row_col_normal(plane.orientation)[2]
    return abs(float((point - np.asarray(plane.position)) @ normal))


def _add_examples(
    series: RsnaSeries,
    instance: int,
    centre_offsets: tuple[int, ...],
    targets_of: Callable[[FileHeader, int, int], _Targets],
    size: int,
    scaling: str,
    examples: list[LevelExample],
    problems: list[str],
) -> None:
    """One example per centre offset from `instance`: it and its neighbours as channels, the
    targets `targets_of(header of the centre, rows, columns)` gives."""
    where = f"study {series.study_id} series {series.series_id}"
    numbers = sorted(series.instance_numbers) or [instance]
    middle = numbers.index(instance) if instance in numbers else 0
    centres = dict.fromkeys(
        numbers[min(max(middle + offset, 0), len(numbers) - 1)] for offset in centre_offsets
    )
    for centre in centres:
        try:
            read = [_read(series.file(n)) for n in _neighbours(numbers, centre, LEVEL_CHANNELS)]
        except DicomLoadError as error:
            problems.append(f"{where}: {error}")
            return
        header, middle_pixels = read[LEVEL_CHANNELS // 2]
        rows, columns = middle_pixels.shape
        if any(pixels.shape != (rows, columns) for _, pixels in read):
            problems.append(f"{where}: neighbouring instances differ in size")
            return
        targets, mask = targets_of(header, rows, columns)
        if not mask.any():
            continue
        examples.append(
            LevelExample(
                series.study_id,
                series.series_id,
                centre,
                level_input([pixels for _, pixels in read], size, scaling),
                targets,
                mask,
                (rows, columns),
                header.pixel_spacing,
                series.description,
            )
        )


def _neighbours(numbers: list[int], centre: int, count: int) -> list[int]:
    """`count` instance numbers centred on `centre` (the ends repeat where the series ends)."""
    position = numbers.index(centre) if centre in numbers else 0
    half = count // 2
    chosen = [numbers[min(max(position + k, 0), len(numbers) - 1)] for k in range(-half, half + 1)]
    return chosen[:count]


def _read(path: Path) -> tuple[FileHeader, np.ndarray]:
    header = read_header(path)
    return header, np.asarray(decode_frame(header, 0), dtype=np.float32)

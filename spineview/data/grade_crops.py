"""The crops a grading model reads: one small stack of slices around each finding, placed from
the study's disc levels in patient coordinates.

- spinal canal: the sagittal T2/STIR, slices around the one nearest to the disc point;
- neural foramen, left and right: the sagittal T1 (T2/STIR where there is no T1), slices from
  the one FORAMEN_MM to that side of the disc point outwards (channels run medial to lateral on
  both sides);
- subarticular zone, left and right: the axial T2 slices nearest to the disc (over all axial
  series), centred SUBARTICULAR_MM to that side of the canal; a right crop is mirrored so the
  lateral side lies on the same side of the image for both.

Every crop covers CROP_MM × CROP_MM in the patient, whatever the pixel spacing, sampled on
CACHE_PX × CACHE_PX (a margin around the CROP_PX the model reads, so training can jitter the
crop in position) from CACHE_SLICES slices (the model reads SLICES of them: jitter in slice).
Each slice is scaled between its own 0.5th and 99.5th percentile first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from spineview.core.geometry import row_col_normal
from spineview.core.levels import LevelMap
from spineview.core.preprocess import scale_intensity
from spineview.core.series import Series
from spineview.data.rsna_format import CONDITIONS

CROP_PX = 64
CACHE_PX = 80
SLICES = 5
CACHE_SLICES = 7
CROP_MM = 48.0
"""Side of the region the model reads: a disc with the canal behind it and its neighbours'
endplates (an adult lumbar disc is about 40 mm deep)."""
FORAMEN_MM = 12.0
"""From the disc point (mid-canal) to the first foraminal slice, to each side."""
SUBARTICULAR_MM = 8.0
"""From the canal centre to the crop centre, to each side, on the axial slice."""

CANAL, LEFT_FORAMEN, RIGHT_FORAMEN, LEFT_SUBARTICULAR, RIGHT_SUBARTICULAR = CONDITIONS
LEFT = np.array([1.0, 0.0, 0.0])
"""LPS: +x is the patient's left."""


@dataclass(frozen=True)
class GradeCrop:
    condition: str
    level: str
    pixels: np.ndarray
    """(CACHE_PX, CACHE_PX, CACHE_SLICES) float32 in [0, 1]."""
    series_key: str
    """The crop's series (`Series.key`)."""
    slice_index: int
    """The centre slice in the series' sorted order."""
    box: tuple[float, float, float, float]
    """(x0, y0, x1, y1) of the CROP_PX region in pixels of the centre slice."""


def grade_crops(
    levels: LevelMap,
    *,
    sagittal_t2: Series | None,
    sagittal_t1: Series | None,
    axials: Sequence[Series],
) -> list[GradeCrop]:
    """Every crop the series allow for the discs of `levels` (a finding without its series, or
    whose slice is too far from the disc, gets none)."""
    crops: list[GradeCrop] = []
    foramen_series = sagittal_t1 if _usable(sagittal_t1) else sagittal_t2
    for point in levels.points:
        disc = np.asarray(point.position, dtype=np.float64)
        if _usable(sagittal_t2):
            crops += _stack(sagittal_t2, CANAL, point.level, disc, disc, side=0)  # type: ignore[arg-type]
        if _usable(foramen_series):
            for condition, side in ((LEFT_FORAMEN, 1), (RIGHT_FORAMEN, -1)):
                start = disc + side * FORAMEN_MM * LEFT
                crops += _stack(foramen_series, condition, point.level, start, disc, side)  # type: ignore[arg-type]
        axial = _nearest_axial(axials, disc, levels.reach_mm)
        if axial is not None:
            series, index = axial
            for condition, side in ((LEFT_SUBARTICULAR, 1), (RIGHT_SUBARTICULAR, -1)):
                centre = disc + side * SUBARTICULAR_MM * LEFT
                crops += _axial_stack(series, index, condition, point.level, centre, side)
    return crops


def _usable(series: Series | None) -> bool:
    return (
        series is not None
        and series.has_geometry
        and series.pixel_spacing is not None
        and series.n_slices >= 1
    )


def _nearest_slice(series: Series, point: np.ndarray) -> tuple[int, float]:
    normal = row_col_normal(series.orientation)[2]  # type: ignore[arg-type]
    distances = (point - series.positions) @ normal
    index = int(np.argmin(np.abs(distances)))
    return index, float(distances[index])


def _stack(
    series: Series, condition: str, level: str, start: np.ndarray, centre: np.ndarray, side: int
) -> list[GradeCrop]:
    """A sagittal stack: from the slice nearest `start` over CACHE_SLICES slices (centred on it
    for the canal, `side` = 0; outwards to that side for a foramen), in-plane around `centre`."""
    index, distance = _nearest_slice(series, start)
    spacing = series.slice_spacing or 1.0
    if abs(distance) > max(spacing, 3.0):
        return []  # the series does not reach the finding
    normal = row_col_normal(series.orientation)[2]  # type: ignore[arg-type]
    if side == 0:
        indices = [index + k for k in range(-(CACHE_SLICES // 2), CACHE_SLICES // 2 + 1)]
    else:
        step = 1 if float(normal @ LEFT) * side > 0 else -1  # outwards along the slice order
        indices = [index + step * (k - 1) for k in range(CACHE_SLICES)]  # one medial of start
    return [_crop(series, condition, level, indices, index, centre, flip=False)]


def _nearest_axial(
    axials: Sequence[Series], disc: np.ndarray, reach_mm: float
) -> tuple[Series, int] | None:
    best: tuple[float, Series, int] | None = None
    for series in axials:
        if not _usable(series):
            continue
        index, distance = _nearest_slice(series, disc)
        if abs(distance) <= reach_mm and (best is None or abs(distance) < best[0]):
            best = (abs(distance), series, index)
    return None if best is None else (best[1], best[2])


def _axial_stack(
    series: Series, index: int, condition: str, level: str, centre: np.ndarray, side: int
) -> list[GradeCrop]:
    """Axial slices around `index` (only those within one disc block: an axial series may hold
    several blocks), the right side mirrored so both sides look alike."""
    normal = row_col_normal(series.orientation)[2]  # type: ignore[arg-type]
    along = series.positions @ normal
    gap = 2.5 * (np.median(np.abs(np.diff(np.sort(along)))) if series.n_slices > 1 else 1.0)
    indices = []
    for k in range(-(CACHE_SLICES // 2), CACHE_SLICES // 2 + 1):
        candidate = int(np.clip(index + k, 0, series.n_slices - 1))
        # a slice from the neighbouring disc's block is replaced by the nearest of this one
        indices.append(candidate if abs(along[candidate] - along[index]) <= gap * abs(k) else index)
    row_dir = np.asarray(series.orientation[:3], dtype=np.float64)  # type: ignore[index]
    lateral_is_column = float(row_dir @ LEFT) * side > 0
    return [_crop(series, condition, level, indices, index, centre, flip=not lateral_is_column)]


def _crop(
    series: Series,
    condition: str,
    level: str,
    indices: list[int],
    index: int,
    centre: np.ndarray,
    *,
    flip: bool,
) -> GradeCrop:
    from scipy.ndimage import map_coordinates

    spacing = series.pixel_spacing or (1.0, 1.0)
    row_dir, col_dir, _normal = row_col_normal(series.orientation)  # type: ignore[arg-type]
    origin = np.asarray(series.positions[index], dtype=np.float64)
    offset = centre - origin
    centre_row = float(offset @ col_dir) / spacing[0]
    centre_column = float(offset @ row_dir) / spacing[1]
    cache_mm = CROP_MM * CACHE_PX / CROP_PX
    grid = (np.arange(CACHE_PX) + 0.5) / CACHE_PX * cache_mm - cache_mm / 2
    rows = centre_row + grid[:, None] / spacing[0] + 0 * grid[None, :]
    columns = centre_column + grid[None, :] / spacing[1] + 0 * grid[:, None]
    channels = []
    for slice_index in indices:
        clamped = int(np.clip(slice_index, 0, series.n_slices - 1))
        image = scale_intensity(
            np.nan_to_num(series.volume[clamped].astype(np.float32)), "percentile"
        )
        sampled = map_coordinates(image, [rows, columns], order=1, mode="constant", cval=0.0)
        channels.append(sampled[:, ::-1] if flip else sampled)
    half_rows = CROP_MM / 2 / spacing[0]
    half_columns = CROP_MM / 2 / spacing[1]
    box = (
        centre_column - half_columns,
        centre_row - half_rows,
        centre_column + half_columns,
        centre_row + half_rows,
    )
    return GradeCrop(
        condition,
        level,
        np.stack(channels, axis=-1).astype(np.float32),
        series.key,
        index,
        box,
    )


def model_view(pixels: np.ndarray, dy: int = 0, dx: int = 0, dz: int = 0) -> np.ndarray:
    """The (CROP_PX, CROP_PX, SLICES) the model reads from a cached crop, shifted by (dy, dx)
    pixels and dz slices from the centre (training's jitter; 0 at inference)."""
    margin = (CACHE_PX - CROP_PX) // 2
    first = (CACHE_SLICES - SLICES) // 2 + dz
    return pixels[
        margin + dy : margin + dy + CROP_PX,
        margin + dx : margin + dx + CROP_PX,
        first : first + SLICES,
    ]

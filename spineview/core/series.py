"""The `Series` dataclass: one loaded image series, the object every layer passes around."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from spineview.core.geometry import SlicePlane, distances_along, row_col_normal, typical_spacing
from spineview.core.windowing import VoiLut, WindowPreset


@dataclass(frozen=True)
class StudyContext:
    """Study and patient attributes shown in a viewer's corner (hidden on request)."""

    study_uid: str = ""
    study_date: str = ""
    study_description: str = ""
    patient_name: str = ""
    patient_id: str = ""


@dataclass
class Series:
    """A decoded series: float32 volume after the modality LUT, plus its geometry.

    `volume` is (slices, rows, columns) in the order of `positions` (sorted along the slice
    normal when the geometry allows, see `order_uncertain`). `pixel_spacing` is (row spacing,
    column spacing) in mm, as in the DICOM attribute. Slices that could not be decoded are NaN
    and listed in `problems`.

    Built, it checks its own shapes (`__post_init__`, ValueError naming the bad value): a 3-D
    floating volume with at least one pixel; `positions` of shape (slices, 3), floating (NaN
    rows are slices without a position); `orientation` None or 6 cosines; `pixel_spacing`
    None or two lengths and `slice_thickness` None or one length (finite, above zero: see
    `is_length`); `slice_tags`, `source_files`, `overlays` and `instance_numbers` empty or one
    per slice. Values
    inside the arrays are not examined (no pass over the volume).
    """

    series_uid: str
    description: str
    series_number: int | None
    modality: str
    series_type: str
    volume: np.ndarray
    pixel_spacing: tuple[float, float] | None
    slice_thickness: float | None
    positions: np.ndarray
    orientation: np.ndarray | None
    photometric: str
    voi_presets: list[WindowPreset] = field(default_factory=list)
    voi_luts: list[VoiLut] = field(default_factory=list)
    slice_tags: list[dict[str, str]] = field(default_factory=list)
    source_files: list[Path] = field(default_factory=list)
    order_uncertain: bool = False
    order_note: str = ""
    problems: list[str] = field(default_factory=list)
    study: StudyContext = field(default_factory=StudyContext)
    body_part: str = ""
    """BodyPartExamined of the first slice (a hint only)."""
    presentation_lut_shape: str = ""
    """PresentationLUTShape of the first slice (INVERSE: shown inverted)."""
    key: str = ""
    """The index key it was loaded from (`SeriesInfo.key`): unique where the UID is not (a
    series split by orientation or time point shares its UID)."""
    instance_numbers: list[int | None] = field(default_factory=list)
    """InstanceNumber of each slice (empty when not known)."""
    overlays: list[dict[int, np.ndarray]] = field(default_factory=list)
    """Per slice, DICOM overlay group (0x6000…) → bool mask on the slice's pixel grid; an
    empty dict where the slice has none. Empty or one per slice."""

    def __post_init__(self) -> None:
        problem = self._shape_problem()
        if problem:
            raise ValueError(f"Series {self.series_uid or '(no UID)'}: {problem}")

    def _shape_problem(self) -> str:
        """What is wrong with the fields' shapes, or "" (cheap: shapes and scalars only)."""
        volume = self.volume
        if not isinstance(volume, np.ndarray):
            return f"volume is a {type(volume).__name__}; expected a numpy array"
        if volume.ndim != 3 or 0 in volume.shape:
            return f"volume has shape {volume.shape}; expected (slices, rows, columns), none 0 long"
        if not np.issubdtype(volume.dtype, np.floating):
            return f"volume has dtype {volume.dtype}; expected floating point (NaN: lost slice)"
        n = volume.shape[0]
        positions = self.positions
        if not isinstance(positions, np.ndarray):
            return f"positions is a {type(positions).__name__}; expected an array of shape ({n}, 3)"
        if positions.shape != (n, 3):
            return f"positions has shape {positions.shape}; expected ({n}, 3), one per slice"
        if not np.issubdtype(positions.dtype, np.floating):
            return f"positions has dtype {positions.dtype}; expected floating point (NaN: none)"
        orientation = self.orientation
        if orientation is not None and not (
            isinstance(orientation, np.ndarray)
            and orientation.shape == (6,)
            and orientation.dtype.kind in "fiu"
        ):
            return (
                f"orientation is {orientation!r}; expected None or an array of 6 numbers "
                "(row and column direction cosines)"
            )
        spacing = self.pixel_spacing
        if spacing is not None and not (
            isinstance(spacing, tuple | list) and len(spacing) == 2 and all(map(is_length, spacing))
        ):
            return (
                f"pixel_spacing is {spacing!r}; expected None or two finite numbers above zero "
                "(row, column spacing in mm)"
            )
        thickness = self.slice_thickness
        if thickness is not None and not is_length(thickness):
            return f"slice_thickness is {thickness!r}; expected None or a finite number above zero"
        for name in ("slice_tags", "source_files", "overlays", "instance_numbers"):
            count = len(getattr(self, name))
            if count not in (0, n):
                return f"{name} has {count} entries; expected 0 or {n}, one per slice"
        return ""

    @property
    def n_slices(self) -> int:
        return int(self.volume.shape[0])

    @property
    def shape(self) -> tuple[int, int, int]:
        n, rows, cols = self.volume.shape
        return int(n), int(rows), int(cols)

    @property
    def overlay_groups(self) -> list[int]:
        """The overlay groups any slice has a mask for, in order."""
        return sorted({group for masks in self.overlays for group in masks})

    @property
    def normal(self) -> np.ndarray | None:
        return None if self.orientation is None else row_col_normal(self.orientation)[2]

    @property
    def has_geometry(self) -> bool:
        return self.orientation is not None and bool(np.isfinite(self.positions).all())

    def slice_distances(self) -> np.ndarray | None:
        """Distance (mm) of each slice along the normal, or None without geometry."""
        normal = self.normal
        if normal is None or not self.has_geometry:
            return None
        return distances_along(self.positions, normal)

    @property
    def slice_spacing(self) -> float | None:
        distances = self.slice_distances()
        return None if distances is None else typical_spacing(distances)

    def plane(self, index: int) -> SlicePlane | None:
        """The plane of slice `index`, or None without geometry."""
        if self.orientation is None or not np.isfinite(self.positions[index]).all():
            return None
        x, y, z = (float(v) for v in self.positions[index])
        o = tuple(float(v) for v in self.orientation)
        return SlicePlane((x, y, z), (o[0], o[1], o[2], o[3], o[4], o[5]))


def is_length(value: Any) -> bool:
    """A usable length in mm (spacing, thickness): a real number, finite and above zero."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        return False
    return bool(math.isfinite(value) and value > 0)

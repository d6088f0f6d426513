"""The `Series` dataclass: one loaded image series, the object every layer passes around."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

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

    @property
    def n_slices(self) -> int:
        return int(self.volume.shape[0])

    @property
    def shape(self) -> tuple[int, int, int]:
        n, rows, cols = self.volume.shape
        return int(n), int(rows), int(cols)

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

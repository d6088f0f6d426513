"""The disc levels of each study of an RSNA-layout dataset, in patient space.

`train_label_coordinates.csv` marks each disc level with a point on one instance of a series:
the spinal-canal rows on the sagittal T2/STIR series (the canal at the disc), which is what
level localisation learns from. Turned into patient coordinates through that instance's own
header, the points label every series of the study (`core.levels`).
"""

from __future__ import annotations

from pathlib import Path

from spineview.core.geometry import SlicePlane
from spineview.core.levels import LevelMap
from spineview.data.rsna import RsnaDataset
from spineview.data.rsna_format import SAGITTAL_T2_STIR
from spineview.dicom.header import FileHeader, read_header
from spineview.errors import DicomLoadError

LEVEL_CONDITION = "Spinal Canal Stenosis"
"""The condition whose coordinates mark the disc levels (on sagittal T2/STIR)."""


def study_level_maps(dataset: RsnaDataset) -> tuple[dict[str, LevelMap], list[str]]:
    """Each study's disc levels from its spinal-canal coordinates, and a sentence for each
    study that has some but whose points could not be placed (a missing or unreadable
    instance, no geometry in its header)."""
    by_study: dict[str, dict[str, tuple[SlicePlane, tuple[float, float], float, float]]] = {}
    problems: list[str] = []
    headers: dict[Path, FileHeader] = {}  # the levels of a study are marked on one instance
    for point in dataset.coordinates:
        if point.condition != LEVEL_CONDITION:
            continue
        series = dataset.series(point.study_id, point.series_id)
        if series is None or (series.description and series.description != SAGITTAL_T2_STIR):
            continue
        path = series.file(point.instance_number)
        try:
            if path not in headers:
                headers[path] = read_header(path)
        except DicomLoadError as error:
            problems.append(f"study {point.study_id} {point.level}: {error}")
            continue
        header = headers[path]
        position = header.frame_positions[0] if header.frame_positions else None
        orientation = header.frame_orientations[0] if header.frame_orientations else None
        if position is None or orientation is None or header.pixel_spacing is None:
            problems.append(
                f"study {point.study_id} {point.level}: {path} has no position, orientation or "
                "pixel spacing, so the point cannot be placed in the patient"
            )
            continue
        plane = SlicePlane(position, orientation)
        by_study.setdefault(point.study_id, {})[point.level] = (
            plane,
            header.pixel_spacing,
            point.x,
            point.y,
        )
    return {study: LevelMap.from_pixels(points) for study, points in by_study.items()}, problems

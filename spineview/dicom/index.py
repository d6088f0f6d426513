"""Group file headers into studies and series, and sort each series along its slice normal.

Pure functions over `FileHeader`s: no file access here (see `scan` for that).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from spineview.core.geometry import Plane, distances_along, plane_of, slice_normal
from spineview.dicom.header import FileHeader, Orientation, Vector3
from spineview.dicom.series_type import SequenceFacts, SeriesType, classify_series

_ORIENTATION_DECIMALS = 2  # cosines equal to 0.01 belong to the same stack


@dataclass(frozen=True)
class SliceRef:
    """One 2-D image of the index: a frame of a file, with its geometry."""

    header: FileHeader
    frame: int
    position: Vector3 | None
    orientation: Orientation | None

    @property
    def path(self) -> Path:
        return self.header.path


@dataclass
class SeriesInfo:
    """A series as the header index sees it: sorted slices, type, and what is odd about it."""

    key: str
    series_uid: str
    study_uid: str
    description: str
    series_number: int | None
    modality: str
    slices: list[SliceRef]
    plane: Plane | None
    obliquity: float
    series_type: SeriesType
    order_uncertain: bool = False
    order_note: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def first(self) -> FileHeader:
        return self.slices[0].header

    @property
    def n_slices(self) -> int:
        return len(self.slices)

    @property
    def matrix(self) -> tuple[int, int]:
        return self.first.rows, self.first.columns

    @property
    def files(self) -> list[Path]:
        return list(dict.fromkeys(ref.path for ref in self.slices))

    @property
    def transfer_syntaxes(self) -> list[str]:
        return sorted({ref.header.transfer_syntax_name for ref in self.slices})


@dataclass
class StudyInfo:
    study_uid: str
    study_date: str
    study_time: str
    description: str
    patient_name: str
    patient_id: str
    series: list[SeriesInfo] = field(default_factory=list)


def group_headers(headers: Iterable[FileHeader]) -> list[StudyInfo]:
    """Studies (by date) holding their series (by number), each series sorted."""
    by_study: dict[str, list[FileHeader]] = defaultdict(list)
    for header in headers:
        by_study[_study_key(header)].append(header)
    studies = [_build_study(key, members) for key, members in by_study.items()]
    studies.sort(key=lambda s: (s.study_date, s.study_time, s.study_uid))
    return studies


def _study_key(header: FileHeader) -> str:
    return header.study_uid or f"folder:{header.path.parent}"


def _series_key(header: FileHeader) -> str:
    if header.series_uid:
        return header.series_uid
    return f"folder:{header.path.parent}|{header.series_number}|{header.series_description}"


def _build_study(key: str, headers: list[FileHeader]) -> StudyInfo:
    first = min(headers, key=lambda h: str(h.path))
    study = StudyInfo(
        study_uid=first.study_uid or key,
        study_date=first.study_date,
        study_time=first.study_time,
        description=first.study_description,
        patient_name=first.patient_name,
        patient_id=first.patient_id,
    )
    by_series: dict[str, list[FileHeader]] = defaultdict(list)
    for header in headers:
        by_series[_series_key(header)].append(header)
    for series_key, members in by_series.items():
        study.series.extend(_split_series(series_key, study.study_uid, members))
    study.series.sort(key=lambda s: (s.series_number is None, s.series_number or 0, s.key))
    return study


def _stack_key(ref: SliceRef) -> tuple[object, ...]:
    orientation = (
        tuple(round(v, _ORIENTATION_DECIMALS) + 0.0 for v in ref.orientation)
        if ref.orientation
        else None
    )
    return orientation, ref.header.rows, ref.header.columns


def _split_series(key: str, study_uid: str, headers: list[FileHeader]) -> list[SeriesInfo]:
    """One SeriesInfo per stack: a series whose orientation or matrix changes is split."""
    stacks: dict[tuple[object, ...], list[SliceRef]] = defaultdict(list)
    for header in sorted(headers, key=lambda h: _natural_key(h.path)):
        for frame in range(header.frames):
            ref = SliceRef(
                header, frame, header.frame_positions[frame], header.frame_orientations[frame]
            )
            stacks[_stack_key(ref)].append(ref)
    ordered = sorted(stacks.values(), key=lambda refs: _natural_key(refs[0].path))
    result = []
    for part, refs in enumerate(ordered, start=1):
        info = _build_series(key if len(ordered) == 1 else f"{key}#{part}", study_uid, refs)
        if len(ordered) > 1:
            info.notes.append(
                f"stack {part} of {len(ordered)}: the series changes orientation or matrix"
            )
        result.append(info)
    return result


def _build_series(key: str, study_uid: str, refs: list[SliceRef]) -> SeriesInfo:
    first = refs[0].header
    orientation = refs[0].orientation
    plane, obliquity = plane_of(orientation) if orientation else (None, 0.0)
    ordered, uncertain, note = sort_slices(refs)
    series_type = classify_series(
        SequenceFacts(
            modality=first.modality,
            plane=plane,
            description=first.series_description or first.protocol_name,
            image_type=first.image_type,
            echo_time=first.echo_time,
            repetition_time=first.repetition_time,
            inversion_time=first.inversion_time,
            scanning_sequence=first.scanning_sequence,
        )
    )
    notes = sorted({n for ref in refs for n in ref.header.notes})
    return SeriesInfo(
        key=key,
        series_uid=first.series_uid,
        study_uid=study_uid,
        description=first.series_description or first.protocol_name,
        series_number=first.series_number,
        modality=first.modality,
        slices=ordered,
        plane=plane,
        obliquity=obliquity,
        series_type=series_type,
        order_uncertain=uncertain,
        order_note=note,
        notes=notes,
    )


def sort_slices(refs: list[SliceRef]) -> tuple[list[SliceRef], bool, str]:
    """Sort along the slice normal; fall back to InstanceNumber, then file name.

    Returns (sorted slices, order uncertain, a note saying how they were sorted). Ties in
    position (several echoes or phases at one location) keep InstanceNumber/frame order.
    """
    if len(refs) <= 1:
        return list(refs), False, ""
    orientation = refs[0].orientation
    if orientation is not None and all(ref.position is not None for ref in refs):
        normal = slice_normal(orientation)
        positions = np.array([ref.position for ref in refs], dtype=np.float64)
        distances = distances_along(positions, normal)
        order = sorted(
            range(len(refs)),
            key=lambda i: (round(float(distances[i]), 3), _instance_key(refs[i]), refs[i].frame),
        )
        repeats = len(refs) - len(np.unique(np.round(distances, 3)))
        note = "sorted by position along the slice normal"
        if repeats:
            note += f"; {repeats} slices repeat a position (echoes or phases?)"
        return [refs[i] for i in order], False, note
    if all(ref.header.instance_number is not None for ref in refs):
        ordered = sorted(refs, key=lambda r: (_instance_key(r), r.frame))
        return ordered, True, "no position/orientation: sorted by InstanceNumber"
    ordered = sorted(refs, key=lambda r: (_natural_key(r.path), r.frame))
    return ordered, True, "no position/orientation or InstanceNumber: sorted by file name"


def _instance_key(ref: SliceRef) -> int:
    number = ref.header.instance_number
    return number if number is not None else 0


def _natural_key(path: Path) -> tuple[object, ...]:
    """'IM2' before 'IM10': digit runs compare as numbers."""
    parts = re.split(r"(\d+)", str(path))
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in parts)

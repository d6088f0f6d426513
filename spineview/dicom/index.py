"""Group file headers into studies and series, and sort each series along its slice normal.

A series is split into stacks (one per orientation and matrix) and, where positions repeat and
a temporal attribute tells the repeats apart, into one stack per time point; repeats nothing
tells apart are kept together and noted. Pure functions over `FileHeader`s: no file access here
(see `scan` for that).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from spineview.core.geometry import Plane, SlicePlane, distances_along, plane_of, slice_normal
from spineview.core.series import StudyContext
from spineview.dicom.header import FileHeader, FrameTime, Orientation, Vector3
from spineview.dicom.series_type import SequenceFacts, SeriesType, classify_series

_ORIENTATION_DECIMALS = 2  # cosines equal to 0.01 belong to the same stack
_POSITION_DECIMALS = 3  # slices within 1 µm along the normal share a position

# What can tell apart slices taken at one position at different times, most specific first.
_TIME_ATTRIBUTES: tuple[tuple[str, Callable[[FrameTime], int | float | None]], ...] = (
    ("temporal position", lambda t: t.temporal_index),
    ("acquisition number", lambda t: t.acquisition),
    ("trigger time", lambda t: t.trigger_time),
)


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

    @property
    def plane(self) -> SlicePlane | None:
        """The image plane, or None without a position or an orientation."""
        if self.position is None or self.orientation is None:
            return None
        return SlicePlane(self.position, self.orientation)


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
    time_point: tuple[int, int] | None = None
    """(number, count) when the series was split by time point (number from 1)."""

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


def study_context(source: StudyInfo | FileHeader) -> StudyContext:
    """The study and patient attributes a viewport's corner shows, from an indexed study or,
    before the index exists (the first image previewed during a scan), from one header."""
    description = source.description if isinstance(source, StudyInfo) else source.study_description
    return StudyContext(
        source.study_uid, source.study_date, description, source.patient_name, source.patient_id
    )


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
        for info in _split_time_points(
            key if len(ordered) == 1 else f"{key}#{part}", study_uid, refs
        ):
            if len(ordered) > 1:
                info.notes.append(
                    f"stack {part} of {len(ordered)}: the series changes orientation or matrix"
                )
            result.append(info)
    return result


def _split_time_points(key: str, study_uid: str, refs: list[SliceRef]) -> list[SeriesInfo]:
    """One SeriesInfo per time point when positions repeat and a temporal attribute tells the
    repeats apart; else one, with a note when positions repeat (echoes, phases, copies).

    A single position over time (a one-slice cine) stays one series, in time order: a stack
    per time point would hold one image each.
    """
    places = position_keys(refs)
    if places is None or len(set(places)) == len(places):
        return [_build_series(key, study_uid, refs)]
    split = _time_split(refs, places)
    if split is None:
        info = _build_series(key, study_uid, refs)
        info.notes.append(_shared_position_note(places))
        return [info]
    attribute, groups = split
    count = len(groups)
    if len(set(places)) == 1:
        info = _build_series(key, study_uid, refs)
        info.slices = [ref for group in groups for ref in group]  # time order at one position
        info.order_note = f"one position over {count} time points, in {attribute} order"
        info.notes.append(f"positions repeat: {count} time points of one position (a cine)")
        return [info]
    width = len(str(count))  # "#t02" sorts before "#t10"
    result = []
    for number, group in enumerate(groups, start=1):
        info = _build_series(f"{key}#t{number:0{width}d}", study_uid, group)
        info.time_point = (number, count)
        info.description = f"{info.description} (time point {number} of {count})".strip()
        info.notes.append(f"split by {attribute}: {count} time points at the same positions")
        result.append(info)
    return result


def position_keys(refs: Sequence[SliceRef]) -> list[float] | None:
    """Each slice's distance along the stack's normal, rounded so that equal means the same
    position; None when a slice has no position or the stack no orientation."""
    orientation = refs[0].orientation if refs else None
    if orientation is None or any(ref.position is None for ref in refs):
        return None
    positions = np.array([ref.position for ref in refs], dtype=np.float64)
    distances = distances_along(positions, slice_normal(orientation))
    return [round(float(d), _POSITION_DECIMALS) + 0.0 for d in distances]


def _time_split(
    refs: list[SliceRef], places: list[float]
) -> tuple[str, list[list[SliceRef]]] | None:
    """(attribute, slices per time point in time order), or None when no attribute fits.

    An attribute fits when every slice has it, no position repeats within one of its values,
    and it has as many values as the most repeated position has slices (so an attribute that
    changes with every slice, e.g. a per-slice trigger time, is not taken for time points).
    """
    most = max(Counter(places).values())
    for attribute, value_of in _TIME_ATTRIBUTES:
        groups: dict[int | float, list[int]] = defaultdict(list)
        for index, ref in enumerate(refs):
            value = value_of(ref.header.frame_time(ref.frame))
            if value is None:
                break
            groups[value].append(index)
        else:  # every slice has the attribute
            distinct = all(
                len({places[i] for i in members}) == len(members) for members in groups.values()
            )
            if distinct and len(groups) == most:
                return attribute, [[refs[i] for i in groups[v]] for v in sorted(groups)]
    return None


def _shared_position_note(places: Sequence[float]) -> str:
    """ "positions repeat: 10 slices share 5 positions (...)": counts the slices that share."""
    counts = Counter(places)
    shared = sum(n for n in counts.values() if n > 1)
    repeated = sum(1 for n in counts.values() if n > 1)
    where = "a position" if repeated == 1 else f"{repeated} positions"
    return f"positions repeat: {shared} slices share {where} (echoes, phases or copies?)"


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
    places = position_keys(refs)
    if places is not None:
        order = sorted(
            range(len(refs)), key=lambda i: (places[i], _instance_key(refs[i]), refs[i].frame)
        )
        repeats = len(refs) - len(set(places))
        note = "sorted by position along the slice normal"
        if repeats:
            note += (
                f"; {repeats} slices repeat a position (those at one position in "
                "InstanceNumber/frame order)"
            )
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

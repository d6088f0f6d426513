"""Load an indexed series into a `Series`: decode slice by slice into one float32 volume.

The volume is allocated once and each file is decoded and copied in before the next is opened,
so a large series never sits in memory twice (raw and converted). A file that fails leaves its
slices as NaN and a line in `Series.problems`; only a series with no decodable slice raises.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator

import numpy as np
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

from spineview.core.series import Series, StudyContext
from spineview.core.windowing import VoiLut, WindowPreset
from spineview.dicom.decode import PendingFrames, iter_frames, open_for_pixels, start_decoding
from spineview.dicom.failures import file_boundary
from spineview.dicom.header import FileHeader
from spineview.dicom.index import SeriesInfo, SliceRef
from spineview.dicom.limits import DEFAULT_LIMITS, SafetyLimits
from spineview.dicom.overlays import FileOverlays, read_overlays
from spineview.errors import (
    CorruptPixelDataError,
    DicomLoadError,
    LoadCancelled,
    SafetyLimitError,
)

logger = logging.getLogger(__name__)

SliceCallback = Callable[[int, int], None]  # (slice index, slices decoded so far)

_TAG_VALUE_LIMIT = 160
_FILES_AHEAD = 8
"""Compressed files handed to the decoder processes ahead of the one being stored."""
_BINARY_VRS = frozenset({"SQ", "OB", "OW", "OF", "OD", "OL", "OV", "UN"})


def load_series(
    info: SeriesInfo,
    *,
    study: StudyContext | None = None,
    limits: SafetyLimits = DEFAULT_LIMITS,
    on_slice: SliceCallback | None = None,
    cancel: threading.Event | None = None,
) -> Series:
    """Decode every slice of `info` (sorted order) into a `Series`.

    `on_slice(index, decoded)` runs after each slice is stored, so a viewer can show the first
    slice while the rest decodes; `cancel` is checked between files.
    """
    series = new_series(info, study=study, limits=limits)
    fill_series(series, info, limits=limits, on_slice=on_slice, cancel=cancel)
    return series


def new_series(
    info: SeriesInfo, *, study: StudyContext | None = None, limits: SafetyLimits = DEFAULT_LIMITS
) -> Series:
    """A `Series` with its geometry and an all-NaN volume, ready for `fill_series`.

    Split from loading so a viewer can hold the series (and draw decoded slices) while a
    worker thread fills it.
    """
    n, rows, cols = info.n_slices, *info.matrix
    if n * rows * cols * 4 > limits.max_series_volume_bytes:
        raise SafetyLimitError(
            info.first.path,
            f"series of {n}×{rows}×{cols} would need {n * rows * cols * 4 / 2**30:.1f} GiB",
        )
    volume = np.full((n, rows, cols), np.nan, dtype=np.float32)
    return _make_series(info, volume=volume, study=study)


def fill_series(
    series: Series,
    info: SeriesInfo,
    *,
    limits: SafetyLimits = DEFAULT_LIMITS,
    on_slice: SliceCallback | None = None,
    cancel: threading.Event | None = None,
) -> None:
    """Decode the slices of `info` into `series.volume`, one file at a time, middle first.

    A file that fails leaves its slices NaN and a line in `series.problems`; if no slice at all
    could be decoded, the first error is raised.
    """
    decoded = 0
    for index, ok in decode_into(series, info, limits=limits, cancel=cancel):
        if ok:
            decoded += 1
            if on_slice is not None:
                on_slice(index, decoded)


def decode_into(
    series: Series,
    info: SeriesInfo,
    *,
    limits: SafetyLimits = DEFAULT_LIMITS,
    cancel: threading.Event | None = None,
    middle_first: bool = True,
) -> Iterator[tuple[int, bool]]:
    """Decode the slices of `info` into `series.volume`, yielding (index, decoded) per slice.

    Each slice index is yielded once, right after its pixels are stored (decoded True) or its
    file failed (False: the slice stays NaN, the reason goes to `series.problems`). Files are
    opened once each, in the order of their middle-most slice (`middle_first`, for a viewer)
    or of their first slice; inside a multi-frame file indices come in frame order, so use
    `stream_slices` where strict slice order matters. Raises the first error when no slice
    could be decoded, LoadCancelled when `cancel` is set between files.
    """
    rows, cols = info.matrix
    decoded = 0
    first_error: DicomLoadError | None = None
    files = list(_slices_by_file(info.slices, middle_first=middle_first).items())
    pending: dict[int, PendingFrames] = {}
    try:
        for number, (header, wanted) in enumerate(files):
            if cancel is not None and cancel.is_set():
                raise LoadCancelled(f"loading series {info.description or info.key} cancelled")
            _start_ahead(files, number, pending, limits)
            stored: list[int] = []
            try:
                for index, ref, frame, tags, overlays in _decoded_slices(
                    header, wanted, pending.pop(number), series
                ):
                    if frame.shape != (rows, cols):
                        raise CorruptPixelDataError(
                            header.path, f"frame {ref.frame + 1} decoded as {frame.shape}"
                        )
                    series.volume[index] = frame
                    multi = header.frames > 1
                    series.slice_tags[index] = (
                        {**tags, "Frame": str(ref.frame + 1)} if multi else tags
                    )
                    if series.overlays:
                        series.overlays[index] = overlays.masks(ref.frame, (rows, cols))
                    decoded += 1
                    stored.append(index)
                    yield index, True
            except DicomLoadError as error:
                first_error = first_error or error
                series.problems.append(str(error))
                logger.warning("slice decode failed (%s): %s", error.kind, header.path.name)
                for index, _ in wanted:
                    if index not in stored:
                        yield index, False
    finally:
        for waiting in pending.values():  # cancelled or stopped early: drop queued work
            waiting.cancel()
    if decoded == 0 and first_error is not None:
        raise first_error


def _start_ahead(
    files: list[tuple[FileHeader, list[tuple[int, SliceRef]]]],
    number: int,
    pending: dict[int, PendingFrames],
    limits: SafetyLimits,
) -> None:
    """Start file `number` and the next `_FILES_AHEAD - 1` that have not started: compressed
    ones begin decoding in the decoder processes while earlier files are stored."""
    for ahead in range(number, min(number + _FILES_AHEAD, len(files))):
        if ahead not in pending:
            header, wanted = files[ahead]
            pending[ahead] = start_decoding(header, [ref.frame for _, ref in wanted], limits)


def _decoded_slices(
    header: FileHeader,
    wanted: list[tuple[int, SliceRef]],
    pending: PendingFrames,
    series: Series,
) -> Iterator[tuple[int, SliceRef, np.ndarray, dict[str, str], FileOverlays]]:
    """(slice index, ref, frame, tags, overlay planes) of one file: one read of the file here
    (the header part only when the decoder processes have the pixels). A damaged overlay plane
    is a line in `series.problems`, never a failed slice."""
    with file_boundary(header.path, "cannot read the file"):
        ds = open_for_pixels(header, pending.limits, pixels=not pending.isolated)
        tags = dataset_tags(ds)
        if not series.voi_luts:
            series.voi_luts.extend(voi_luts_of(ds))
    overlays = read_overlays(ds, header.path, (header.rows, header.columns))
    series.problems.extend(overlays.notes)
    frames: Iterable[np.ndarray] = (
        pending.frames(ds) if pending.isolated else iter_frames(ds, header, pending.indices)
    )
    for (index, ref), frame in zip(wanted, frames, strict=False):
        yield index, ref, frame, tags, overlays


def stream_slices(
    series: Series,
    info: SeriesInfo,
    *,
    limits: SafetyLimits = DEFAULT_LIMITS,
    cancel: threading.Event | None = None,
) -> Iterator[np.ndarray]:
    """Decode into `series.volume` and yield its slices strictly in slice order, each as soon
    as it and every slice before it are stored (a slice that failed is yielded NaN)."""
    ready = np.zeros(series.n_slices, dtype=bool)
    next_index = 0
    for index, _decoded in decode_into(
        series, info, limits=limits, cancel=cancel, middle_first=False
    ):
        ready[index] = True
        while next_index < len(ready) and ready[next_index]:
            yield series.volume[next_index]
            next_index += 1
    for remaining in range(next_index, series.n_slices):  # a file that stopped short: NaN
        yield series.volume[remaining]


def _slices_by_file(
    slices: list[SliceRef], *, middle_first: bool = True
) -> dict[FileHeader, list[tuple[int, SliceRef]]]:
    """Slice indices grouped per file (each file is opened once), middle slices first.

    A viewer opens a series on its middle slice (the midline of a sagittal stack), so decoding
    outwards from the middle puts the useful image on screen first.
    """
    middle = (len(slices) - 1) / 2

    def rank(item: tuple[int, SliceRef]) -> float:
        return abs(item[0] - middle) if middle_first else item[0]

    grouped: dict[FileHeader, list[tuple[int, SliceRef]]] = defaultdict(list)
    for index, ref in sorted(enumerate(slices), key=rank):
        grouped[ref.header].append((index, ref))
    for members in grouped.values():
        members.sort(key=lambda item: item[1].frame)
    return grouped


def _make_series(info: SeriesInfo, *, volume: np.ndarray, study: StudyContext | None) -> Series:
    first = info.first
    positions = np.array(
        [ref.position if ref.position is not None else (np.nan,) * 3 for ref in info.slices],
        dtype=np.float64,
    )
    orientation = info.slices[0].orientation
    return Series(
        series_uid=info.series_uid,
        key=info.key,
        description=info.description,
        series_number=info.series_number,
        modality=info.modality,
        series_type=info.series_type.label,
        body_part=info.first.body_part_examined,
        volume=volume,
        pixel_spacing=first.pixel_spacing,
        slice_thickness=first.slice_thickness,
        positions=positions,
        orientation=None if orientation is None else np.asarray(orientation, dtype=np.float64),
        photometric=first.photometric,
        presentation_lut_shape=first.presentation_lut_shape,
        voi_presets=header_presets(first),
        voi_luts=[],
        slice_tags=[{} for _ in info.slices],
        source_files=[ref.path for ref in info.slices],
        instance_numbers=[ref.header.instance_number for ref in info.slices],
        overlays=[{} for _ in info.slices],
        order_uncertain=info.order_uncertain,
        order_note=info.order_note,
        problems=list(info.notes),
        study=study or StudyContext(study_uid=info.study_uid),
    )


def header_presets(header: FileHeader) -> list[WindowPreset]:
    """The window centre/width pairs a header recommends, named by their explanation."""
    presets = []
    function = (
        header.voi_function if header.voi_function in ("LINEAR_EXACT", "SIGMOID") else "LINEAR"
    )
    pairs = zip(header.window_centers, header.window_widths, strict=False)
    for number, (center, width) in enumerate(pairs, start=1):
        if width <= 0:
            continue
        explanations = header.window_explanations
        name = explanations[number - 1] if number <= len(explanations) else ""
        presets.append(
            WindowPreset(center, width, name or f"Header {number}", function)  # type: ignore[arg-type]
        )
    return presets


def voi_luts_of(ds: Dataset) -> list[VoiLut]:
    """The VOI LUT Sequence items of a dataset that are complete enough to apply."""
    luts = []
    for item in ds.get("VOILUTSequence") or []:
        descriptor = item.get("LUTDescriptor")
        data = item.get("LUTData")
        if not descriptor or data is None or len(descriptor) < 3:
            continue
        values = np.frombuffer(data, dtype="<u2") if isinstance(data, bytes) else np.asarray(data)
        if values.size == 0:
            continue
        try:
            luts.append(
                VoiLut(
                    first_mapped=int(descriptor[1]),
                    bits=int(descriptor[2]),
                    data=values.astype(np.int64),
                    explanation=str(item.get("LUTExplanation", "")),
                )
            )
        except ValueError as error:
            logger.debug("VOI LUT item ignored: %s", error)
    return luts


def dataset_tags(ds: Dataset) -> dict[str, str]:
    """Top-level attributes as short strings (no pixel data, binary values or sequences)."""
    tags: dict[str, str] = {}
    for tag in list(ds.keys()):
        try:
            element = ds[tag]
            if element.VR in _BINARY_VRS or not element.keyword:
                continue
            value = element.value
        except Exception:  # pydicom converts lazily; an unparsable value must not stop the load
            continue
        text = "\\".join(str(v) for v in value) if isinstance(value, MultiValue) else str(value)
        tags[element.keyword] = text[:_TAG_VALUE_LIMIT]
    return tags


def preview_series(header: FileHeader, pixels: np.ndarray, study: StudyContext) -> Series:
    """A one-slice `Series` for the first image of a folder, shown while the scan goes on."""
    position = header.frame_positions[0]
    orientation = header.frame_orientations[0]
    return Series(
        series_uid=header.series_uid,
        description=header.series_description or header.path.name,
        series_number=header.series_number,
        modality=header.modality,
        series_type="preview",
        volume=pixels[np.newaxis].astype(np.float32, copy=False),
        pixel_spacing=header.pixel_spacing,
        slice_thickness=header.slice_thickness,
        positions=np.array([position if position is not None else (np.nan,) * 3], dtype=float),
        orientation=None if orientation is None else np.asarray(orientation, dtype=np.float64),
        photometric=header.photometric,
        presentation_lut_shape=header.presentation_lut_shape,
        voi_presets=header_presets(header),
        slice_tags=[{}],
        source_files=[header.path],
        study=study,
    )

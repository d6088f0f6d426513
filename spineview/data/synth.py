"""Synthetic lumbar MRI studies in the exact RSNA 2024 layout, with ground truth.

`synthesize(out, options)` writes `train_images/<study>/<series>/<instance>.dcm`, the three
RSNA CSVs, and per-series lesion masks under `masks/` (outside `train_images`). Each study samples
one `anatomy.SpineModel` on a Sagittal T1, a Sagittal T2/STIR and Axial T2 slices, so the series
agree geometrically. Grades in train.csv are computed from the drawn geometry (the fraction of
canal, foramen or lateral recess left), and every coordinate row points at the series, instance
and pixel where the finding is drawn. The same seed gives the same files.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import shutil
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
from pydicom.uid import generate_uid

from spineview.data import anatomy, rsna_format
from spineview.data.anatomy import LevelDegeneration, SpineModel
from spineview.data.mr_contrast import TIMING, Contrast, smooth_noise, to_signal
from spineview.dicom.write import SeriesSpec, build_slice_dataset
from spineview.errors import DatasetError

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int], None]

FORMAT_VERSION = 1
HEALTHY_SPINE_FRACTION = 0.3
DEGENERATION_SCALE = 3.1
MAX_PIXEL = 4095  # 12 bits stored


@dataclass(frozen=True)
class SynthOptions:
    studies: int = 10
    seed: int = 0
    size: int = 256  # base matrix of the sagittal series (sites vary around it)
    difficulty: float = 0.5  # 0: clean images; 1: noisy, biased, tilted
    missing_series_rate: float = 0.03
    second_axial_rate: float = 0.15
    empty_label_rate: float = 0.02
    stir_rate: float = 0.3
    fov_shift_mm: float = 0.0
    """Up to this far (mm, uniform, head-feet and front-back) the sagittal field of view is moved
    off the spine, once per study (0: centred as ever; the same seed then gives the same files
    as before this option existed). Where the spine lies in the image then varies as it does
    between real studies, so a level model must find it rather than learn one place."""


@dataclass(frozen=True)
class Site:
    """Scanner habits of one synthetic hospital: matrices, fields of view, names, scaling."""

    name: str
    manufacturer: str
    matrix_scale: float
    sagittal_fov: float
    axial_fov: float
    sagittal_spacing: float
    sagittal_thickness: float
    intensity_scale: float
    noise: float
    names: dict[str, str] = field(default_factory=dict)


SITES: tuple[Site, ...] = (
    Site("A", "SIEMENS", 1.0, 300.0, 200.0, 4.4, 4.0, 1800.0, 0.018,
         {"T1": "t1_tse_sag", "T2": "t2_tse_sag", "STIR": "t2_tirm_sag", "AX": "t2_tse_tra"}),
    Site("B", "GE MEDICAL SYSTEMS", 1.25, 280.0, 180.0, 4.0, 3.5, 1200.0, 0.025,
         {"T1": "SAG T1 FSE", "T2": "SAG T2 FSE", "STIR": "SAG STIR", "AX": "AX T2 FSE"}),
    Site("C", "Philips", 0.875, 320.0, 220.0, 4.8, 4.0, 2600.0, 0.022,
         {"T1": "T1W_TSE_SAG", "T2": "T2W_TSE_SAG", "STIR": "STIR_SAG", "AX": "T2W_TSE_TRA"}),
)  # fmt: skip


@dataclass
class SliceGeometry:
    position: np.ndarray  # ImagePositionPatient of the first pixel's centre
    row: np.ndarray  # direction of increasing column index
    col: np.ndarray  # direction of increasing row index
    instance_number: int = 0

    @property
    def normal(self) -> np.ndarray:
        return np.cross(self.row, self.col)


@dataclass
class SeriesPlan:
    series_id: str
    description: str  # the RSNA normalised description
    contrast: Contrast
    scanner_name: str
    number: int
    rows: int
    cols: int
    spacing: float
    thickness: float
    slices: list[SliceGeometry]

    def patient_grid(self, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        geometry = self.slices[index]
        r = np.arange(self.rows, dtype=np.float32)[:, None] * self.spacing
        c = np.arange(self.cols, dtype=np.float32)[None, :] * self.spacing
        x, y, z = (
            np.float32(geometry.position[axis])
            + np.float32(geometry.row[axis]) * c
            + np.float32(geometry.col[axis]) * r
            for axis in range(3)
        )
        return x, y, z

    def pixel_of(self, index: int, point: np.ndarray) -> tuple[float, float]:
        """(column, row) of a patient point projected on slice `index`."""
        geometry = self.slices[index]
        offset = point - geometry.position
        return float(offset @ geometry.row / self.spacing), float(
            offset @ geometry.col / self.spacing
        )

    def nearest_slice(self, point: np.ndarray) -> int:
        distances = [abs(float((point - g.position) @ g.normal)) for g in self.slices]
        return int(np.argmin(distances))


@dataclass
class StudyResult:
    study_id: str
    labels: dict[str, str]
    coordinates: list[dict[str, str]]
    series: list[tuple[str, str]]  # (series_id, description)


# --- public entry point --------------------------------------------------------------------


def synthesize(
    out: Path,
    options: SynthOptions,
    *,
    workers: int | None = None,
    progress: ProgressCallback | None = None,
) -> list[StudyResult]:
    """Write `options.studies` studies to `out` (which must not exist or be empty)."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise DatasetError(f"{out}: already exists and is not empty; choose a new folder")
    if options.studies < 1:
        raise DatasetError(f"{out}: --studies must be at least 1")
    staging = out.with_name(f".{out.name}.partial-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    study_ids = _study_ids(options)
    jobs = [(staging, options, index, study_ids[index]) for index in range(options.studies)]
    results: list[StudyResult] = []
    pool_size = workers if workers is not None else min(os.cpu_count() or 1, 4)
    try:
        if pool_size > 1 and options.studies > 1:
            with ProcessPoolExecutor(pool_size, mp_context=get_context("spawn")) as pool:
                for done, result in enumerate(pool.map(_generate_study, jobs), start=1):
                    results.append(result)
                    if progress is not None:
                        progress(done, options.studies)
        else:
            for done, job in enumerate(jobs, start=1):
                results.append(_generate_study(job))
                if progress is not None:
                    progress(done, options.studies)
        _write_csvs(staging, results)
        manifest = {"format_version": FORMAT_VERSION, "generator": "spineview synth",
                    "options": asdict(options)}  # fmt: skip
        (staging / "synth_manifest.json").write_text(json.dumps(manifest, indent=2))
        if out.exists():
            out.rmdir()
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return results


def synthetic_source(dataset: Path) -> dict[str, Any] | None:
    """How `spineview synth` made the dataset (its options, seed included), so that a model's
    test split can be rebuilt later; None for any other dataset or an unreadable record."""
    try:
        record = json.loads((dataset / "synth_manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("generator") != "spineview synth":
        return None
    return record


def _study_ids(options: SynthOptions) -> list[str]:
    rng = np.random.default_rng([options.seed, 0xD1])
    ids: list[str] = []
    seen: set[int] = set()
    while len(ids) < options.studies:
        value = int(rng.integers(10_000_000, 4_294_967_295))
        if value not in seen:
            seen.add(value)
            ids.append(str(value))
    return ids


# --- one study -----------------------------------------------------------------------------


def _generate_study(job: tuple[Path, SynthOptions, int, str]) -> StudyResult:
    root, options, index, study_id = job
    rng = np.random.default_rng([options.seed, index])
    site = SITES[int(rng.integers(len(SITES)))]
    model = random_spine(rng, options.difficulty)
    plans = plan_series(rng, model, site, options, study_id)
    study_uid = generate_uid(entropy_srcs=[f"synth-{options.seed}-{study_id}"])
    identity = {
        "patient_name": f"SYNTHETIC^{study_id}",
        "patient_id": study_id,
        "study_uid": study_uid,
        "study_date": f"20{int(rng.integers(18, 25)):02d}{int(rng.integers(1, 13)):02d}"
        f"{int(rng.integers(1, 29)):02d}",
    }
    for plan in plans:
        lesions = _write_series(root, study_id, plan, model, site, rng, options, identity)
        _write_mask(root, study_id, plan, lesions)
    labels = grade_labels(model, rng, options.empty_label_rate)
    coordinates = label_coordinates(model, plans, labels, study_id)
    return StudyResult(study_id, labels, coordinates,
                       [(plan.series_id, plan.description) for plan in plans])  # fmt: skip


def random_spine(rng: np.random.Generator, difficulty: float) -> SpineModel:
    """A patient: body and disc sizes, curvature, fat, and per-level degeneration."""
    age = float(rng.beta(2.0, 2.2))  # 0 young .. 1 old
    # About a third of patients have a spine without relevant degeneration (every label
    # Normal/Mild); the others degenerate with age, mostly at L4/L5 and L5/S1.
    healthy = rng.random() < HEALTHY_SPINE_FRACTION
    scale = 0.12 if healthy else DEGENERATION_SCALE
    propensity = np.array([0.25, 0.35, 0.5, 0.85, 0.75]) * (0.3 + 1.1 * age) * scale
    levels = []
    for level in range(5):
        p = float(propensity[level])

        def score(scale: float = 1.0, p: float = p) -> float:
            # most levels healthy; a minority clearly degenerate
            return float(np.clip(rng.beta(0.7, 3.2) * p * scale, 0.0, 1.0))

        disc = score(1.2)
        levels.append(
            LevelDegeneration(
                disc=disc,
                canal=score() * (0.6 + 0.6 * disc),
                foramen_left=score(),
                foramen_right=score(),
                recess_left=score(0.9),
                recess_right=score(0.9),
            )
        )
    tilt = 1.0 + difficulty
    return SpineModel(
        body_heights=np.array([25.0, 26.0, 27.0, 27.5, 27.0, 30.0]) * rng.uniform(0.9, 1.1),
        disc_heights=np.array([8.5, 9.5, 10.5, 11.0, 10.0]) * rng.uniform(0.85, 1.15),
        degeneration=levels,
        lordosis_depth=float(rng.uniform(6.0, 16.0)),
        scoliosis=float(rng.normal(0.0, 2.0 * tilt)),
        centre_y=float(rng.normal(0.0, 4.0)),
        body_half_width=float(rng.uniform(20.0, 24.0)),
        body_half_depth=float(rng.uniform(14.5, 17.5)),
        canal_half_width=float(rng.uniform(10.5, 12.5)),
        canal_half_depth=float(rng.uniform(7.0, 9.0)),
        torso_half_width=float(rng.uniform(140.0, 185.0)),
        torso_half_depth=float(rng.uniform(100.0, 135.0)),
        fat_thickness=float(rng.uniform(8.0, 35.0)),
        psoas_growth=float(rng.uniform(0.7, 1.2)),
        warp_phases=tuple(float(v) for v in rng.uniform(0, 2 * np.pi, 6)),
    )


def _series_id(rng: np.random.Generator) -> str:
    return str(int(rng.integers(100_000, 4_294_967_295)))


def plan_series(
    rng: np.random.Generator, model: SpineModel, site: Site, options: SynthOptions, study_id: str
) -> list[SeriesPlan]:
    """The series of one study: Sag T1, Sag T2/STIR, one or two Axial T2 (rarely one missing)."""
    matrix = int(round(options.size * site.matrix_scale / 16) * 16)
    stir = rng.random() < options.stir_rate
    shift = np.zeros(3)
    if options.fov_shift_mm > 0:  # drawn only then: unshifted studies stay byte-identical
        shift[1:] = rng.uniform(-options.fov_shift_mm, options.fov_shift_mm, size=2)
    plans = [
        _sagittal(rng, model, site, matrix, "T1", rsna_format.SAGITTAL_T1, 1, shift),
        _sagittal(
            rng,
            model,
            site,
            matrix,
            "STIR" if stir else "T2",
            rsna_format.SAGITTAL_T2_STIR,
            2,
            shift,
        ),
    ]
    if rng.random() < options.second_axial_rate:
        plans += [
            _axial(rng, model, site, matrix, (0, 1, 2), 3),
            _axial(rng, model, site, matrix, (2, 3, 4), 4),
        ]
    else:
        plans.append(_axial(rng, model, site, matrix, (0, 1, 2, 3, 4), 3))
    if rng.random() < options.missing_series_rate:
        plans.pop(int(rng.integers(3)))
    return plans


def _numbering(rng: np.random.Generator, count: int) -> list[int]:
    """Instance numbers: spatial order or reversed, sometimes not starting at 1."""
    start = 1 if rng.random() < 0.8 else int(rng.integers(2, 40))
    numbers = list(range(start, start + count))
    return numbers[::-1] if rng.random() < 0.5 else numbers


def _sagittal(
    rng: np.random.Generator,
    model: SpineModel,
    site: Site,
    matrix: int,
    contrast: Contrast,
    description: str,
    number: int,
    shift: np.ndarray,
) -> SeriesPlan:
    count = int(rng.integers(15, 20))
    spacing_between = site.sagittal_spacing * float(rng.uniform(0.92, 1.08))
    yaw = np.radians(rng.normal(0.0, 2.0))  # small rotation about the long axis
    row = np.array([np.sin(yaw), np.cos(yaw), 0.0])  # towards the back
    col = np.array([0.0, 0.0, -1.0])  # downwards
    normal = np.cross(row, col)
    pixel = site.sagittal_fov / matrix
    mid_z = float((model.segments[0] + model.segments[-1]) / 2)
    cx, cy, _ = model.centre(np.array([mid_z]))
    centre = np.array([float(cx[0]) + rng.normal(0, 2.0), float(cy[0]) + 12.0, mid_z - 10.0])
    centre += shift
    corner = centre - row * pixel * (matrix - 1) / 2 - col * pixel * (matrix - 1) / 2
    first = corner - normal * spacing_between * (count - 1) / 2
    numbers = _numbering(rng, count)
    slices = [
        SliceGeometry(first + normal * spacing_between * k, row, col, numbers[k])
        for k in range(count)
    ]
    return SeriesPlan(_series_id(rng), description, contrast, "", number, matrix, matrix, pixel,
                      site.sagittal_thickness, slices)  # fmt: skip


def _axial(
    rng: np.random.Generator,
    model: SpineModel,
    site: Site,
    matrix: int,
    levels: tuple[int, ...],
    number: int,
) -> SeriesPlan:
    """Blocks of slices parallel to each disc, as planned on the sagittal scout."""
    pixel = site.axial_fov / matrix
    per_level = int(rng.integers(3, 6))
    gap = float(rng.uniform(3.5, 4.5))
    geometries: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for level in levels:
        x, y, z = model.disc_centre(level)
        slope = model.spine_slope(z)
        norm = float(np.hypot(1.0, slope))
        row = np.array([1.0, 0.0, 0.0])
        col = np.array([0.0, 1.0 / norm, -slope / norm])  # perpendicular to the spine
        normal = np.cross(row, col)
        centre = np.array([x, y - 15.0, z])
        for k in range(per_level):
            offset = (k - (per_level - 1) / 2) * gap
            slice_centre = centre + normal * offset
            corner = slice_centre - row * pixel * (matrix - 1) / 2 - col * pixel * (matrix - 1) / 2
            geometries.append((corner, row, col))
    geometries.reverse()  # acquired from the bottom up, so ascending along the normal
    numbers = _numbering(rng, len(geometries))
    slices = [SliceGeometry(g[0], g[1], g[2], numbers[k]) for k, g in enumerate(geometries)]
    return SeriesPlan(_series_id(rng), rsna_format.AXIAL_T2, "T2", "", number, matrix, matrix,
                      pixel, 4.0, slices)  # fmt: skip


def _write_series(
    root: Path,
    study_id: str,
    plan: SeriesPlan,
    model: SpineModel,
    site: Site,
    rng: np.random.Generator,
    options: SynthOptions,
    identity: dict[str, str],
) -> np.ndarray:
    folder = root / rsna_format.IMAGES_FOLDER / study_id / plan.series_id
    folder.mkdir(parents=True, exist_ok=True)
    noise = site.noise * (0.6 + 1.2 * options.difficulty)
    scale = site.intensity_scale * float(rng.uniform(0.8, 1.2))
    lesions = np.zeros((len(plan.slices), plan.rows, plan.cols), dtype=np.uint8)
    images = []
    for index in range(len(plan.slices)):
        x, y, z = plan.patient_grid(index)
        tissue, lesion = model.sample(x, y, z)
        lesions[index] = lesion
        back = model.centre_y + model.canal_half_depth
        coil = np.clip(1.0 + (y - back) / 260.0, 0.6, 1.25)  # posterior spine coil
        bias = coil * (1.0 + 0.12 * (0.5 + options.difficulty) * smooth_noise(tissue.shape, rng, 3))
        signal = to_signal(tissue, plan.contrast, rng, bias=bias.astype(np.float32),
                           noise_level=noise, texture=smooth_noise(tissue.shape, rng))  # fmt: skip
        images.append(np.clip(signal * scale, 0, MAX_PIXEL).astype(np.uint16))
    middle = images[len(images) // 2]
    low, high = np.percentile(middle[middle > 0.05 * scale], [1, 99]) if middle.any() else (0, 1)
    timing = TIMING[plan.contrast]
    key = "AX" if plan.description == rsna_format.AXIAL_T2 else plan.contrast
    base = SeriesSpec(
        rows=plan.rows,
        cols=plan.cols,
        pixel_spacing=(plan.spacing, plan.spacing),
        slice_thickness=plan.thickness,
        description=site.names[key],
        series_number=plan.number,
        repetition_time=timing[0],
        echo_time=timing[1],
        inversion_time=timing[2],
        scanning_sequence="IR" if plan.contrast == "STIR" else "SE",
        study_uid=identity["study_uid"],
        series_uid=generate_uid(entropy_srcs=[identity["study_uid"], plan.series_id]),
        study_description="LUMBAR SPINE (synthetic)",
        study_date=identity["study_date"],
        patient_name=identity["patient_name"],
        patient_id=identity["patient_id"],
        window=(float((low + high) / 2), float(max(high - low, 1.0))),
        extra={
            "Manufacturer": site.manufacturer,
            "InstitutionName": f"Synthetic site {site.name}",
            "BodyPartExamined": "LSPINE",
        },
    )
    for index, geometry in enumerate(plan.slices):
        spec = replace(
            base,
            orientation=(*map(float, geometry.row), *map(float, geometry.col)),  # type: ignore[arg-type]
            first_position=tuple(float(v) for v in geometry.position),  # type: ignore[arg-type]
        )
        sop_uid = generate_uid(entropy_srcs=[base.series_uid, str(geometry.instance_number)])
        ds = build_slice_dataset(
            spec, 0, images[index], sop_uid=sop_uid, instance_number=geometry.instance_number
        )
        ds.save_as(folder / f"{geometry.instance_number}.dcm", enforce_file_format=True)
    return lesions


def _write_mask(root: Path, study_id: str, plan: SeriesPlan, lesions: np.ndarray) -> None:
    folder = root / "masks" / study_id
    folder.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        folder / f"{plan.series_id}.npz",
        lesion_bits=lesions,
        instance_numbers=np.array([g.instance_number for g in plan.slices], dtype=np.int32),
        bit_conditions=np.array(MASK_BITS),
    )


MASK_BITS = (
    "1: Spinal Canal Stenosis",
    "2: Left Neural Foraminal Narrowing",
    "4: Right Neural Foraminal Narrowing",
    "8: Left Subarticular Stenosis",
    "16: Right Subarticular Stenosis",
)


# --- grades and coordinates ----------------------------------------------------------------

# Fraction of the structure left → grade: ≥ MODERATE_BELOW is Normal/Mild, below SEVERE_BELOW
# is Severe, between the two Moderate.
GRADE_THRESHOLDS: dict[str, tuple[float, float]] = {
    "canal": (0.72, 0.48),
    "foramen": (0.68, 0.42),
    "recess": (0.7, 0.45),
}


def grade(remaining: float, kind: str) -> str:
    moderate_below, severe_below = GRADE_THRESHOLDS[kind]
    if remaining >= moderate_below:
        return rsna_format.SEVERITIES[0]
    return rsna_format.SEVERITIES[2] if remaining < severe_below else rsna_format.SEVERITIES[1]


def measured_remaining(model: SpineModel, condition: str, level: int) -> tuple[float, str]:
    side = "left" if condition.startswith("Left") else "right"
    if condition == "Spinal Canal Stenosis":
        return model.canal_remaining(level), "canal"
    if "Foraminal" in condition:
        return model.foramen_remaining(level, side), "foramen"
    return model.recess_remaining(level, side), "recess"


def grade_labels(model: SpineModel, rng: np.random.Generator, empty_rate: float) -> dict[str, str]:
    labels = {}
    for condition in rsna_format.CONDITIONS:
        for level, name in enumerate(rsna_format.LEVELS):
            remaining, kind = measured_remaining(model, condition, level)
            text = grade(remaining, kind)
            labels[rsna_format.label_column(condition, name)] = (
                "" if rng.random() < empty_rate else text
            )
    return labels


def finding_point(model: SpineModel, condition: str, level: int) -> np.ndarray:
    """Patient point (mm) where a grader would click for this finding."""
    x, y, z = model.disc_centre(level)
    slope = model.spine_slope(z)
    side = 1.0 if condition.startswith("Left") else -1.0  # patient left is +x
    if condition == "Spinal Canal Stenosis":
        return np.array([x, y, z])
    if "Foraminal" in condition:
        wall = -(model.canal_half_depth + 1.5)
        v = (wall + model.canal_half_depth) / 2
        s = float(model.segments[2 * level + 1]) + 1.0
        return np.array([x + side * (model.canal_half_width + 6.0), y + v, s - slope * v])
    v = 2.0
    return np.array([x + side * (model.canal_half_width - 2.0), y + v, z - slope * v])


def label_coordinates(
    model: SpineModel, plans: list[SeriesPlan], labels: dict[str, str], study_id: str
) -> list[dict[str, str]]:
    rows = []
    for condition in rsna_format.CONDITIONS:
        wanted = rsna_format.SERIES_FOR_CONDITION[condition]
        for level, name in enumerate(rsna_format.LEVELS):
            if not labels[rsna_format.label_column(condition, name)]:
                continue
            point = finding_point(model, condition, level)
            candidates = [plan for plan in plans if plan.description == wanted]
            if not candidates:
                continue
            best = min(candidates, key=lambda plan: _distance(plan, point))
            index = best.nearest_slice(point)
            column, row = best.pixel_of(index, point)
            rows.append({
                "study_id": study_id,
                "series_id": best.series_id,
                "instance_number": str(best.slices[index].instance_number),
                "condition": condition,
                "level": name,
                "x": f"{column:.3f}",
                "y": f"{row:.3f}",
            })  # fmt: skip
    return rows


def _distance(plan: SeriesPlan, point: np.ndarray) -> float:
    index = plan.nearest_slice(point)
    geometry = plan.slices[index]
    return abs(float((point - geometry.position) @ geometry.normal))


# --- CSVs ----------------------------------------------------------------------------------


def _write_csvs(root: Path, results: list[StudyResult]) -> None:
    ordered = sorted(results, key=lambda r: int(r.study_id))
    with (root / rsna_format.TRAIN_CSV).open("w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(rsna_format.TRAIN_COLUMNS)
        for result in ordered:
            writer.writerow(
                [result.study_id, *(result.labels[c] for c in rsna_format.LABEL_COLUMNS)]
            )
    with (root / rsna_format.COORDINATES_CSV).open("w", newline="") as stream:
        dict_writer = csv.DictWriter(stream, fieldnames=list(rsna_format.COORDINATE_COLUMNS))
        dict_writer.writeheader()
        for result in ordered:
            dict_writer.writerows(result.coordinates)
    with (root / rsna_format.SERIES_DESCRIPTIONS_CSV).open("w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(rsna_format.SERIES_DESCRIPTION_COLUMNS)
        for result in ordered:
            for series_id, description in result.series:
                writer.writerow([result.study_id, series_id, description])


__all__ = ["SynthOptions", "anatomy", "synthesize"]

"""Build tiny datasets in the RSNA 2024 layout for the tests: real DICOM files, hand-made CSVs.

`standard_studies()` is the reference fixture (3 studies × 3 series of 5–8 slices, 32×32):

- 1001: every label Normal/Mild (healthy).
- 1002: Severe spinal canal stenosis at L4/L5 (points on the Sagittal T2/STIR series, whose
  instance numbers are NOT in spatial order) and Moderate left foraminal narrowing at L4/L5
  (points on the Sagittal T1 series, instance 2); the rest Normal/Mild.
- 1003: Normal/Mild, but two label cells are empty.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from pydicom.uid import generate_uid

from spineview.data.rsna_format import (
    AXIAL_T2,
    CONDITIONS,
    COORDINATE_COLUMNS,
    COORDINATES_CSV,
    IMAGES_FOLDER,
    LABEL_COLUMNS,
    LEVELS,
    SAGITTAL_T1,
    SAGITTAL_T2_STIR,
    SERIES_DESCRIPTION_COLUMNS,
    SERIES_DESCRIPTIONS_CSV,
    SERIES_FOR_CONDITION,
    TRAIN_COLUMNS,
    TRAIN_CSV,
)
from spineview.dicom.write import (
    SeriesSpec,
    build_slice_dataset,
    phantom_pixels,
    write_series,
)

MATRIX = 32
# Study 1002's Sagittal T2/STIR series: instance number of each slice, in spatial order.
SHUFFLED_T2_INSTANCES = (4, 1, 6, 2, 5, 3)
SPINAL_POINT_INSTANCE = 6  # spatial neighbours: 1 and 2; instance-number neighbour: 5


@dataclass
class SeriesPlan:
    series_id: str
    description: str
    n_slices: int
    instance_numbers: tuple[int, ...] | None = None  # per spatial position; None: 1..n
    geometry: bool = True  # False: no ImagePositionPatient (slice order unknown)

    @property
    def plane(self) -> str:
        return "axial" if self.description == AXIAL_T2 else "sagittal"

    @property
    def instances(self) -> tuple[int, ...]:
        return self.instance_numbers or tuple(range(1, self.n_slices + 1))


@dataclass
class StudyPlan:
    study_id: str
    series: list[SeriesPlan]
    grades: dict[str, str] = field(default_factory=dict)  # column → text; others Normal/Mild
    points: list[tuple[str, int, str, str, float, float]] = field(default_factory=list)

    def series_of(self, description: str) -> SeriesPlan:
        return next(s for s in self.series if s.description == description)


def default_points(plan: StudyPlan) -> list[tuple[str, int, str, str, float, float]]:
    """One point per condition and level, on the usual series type (as graders place them)."""
    points = []
    for condition in CONDITIONS:
        series = plan.series_of(SERIES_FOR_CONDITION[condition])
        spatial = series.instances
        for k, level in enumerate(LEVELS):
            if series.description == SAGITTAL_T2_STIR:
                instance = spatial[(len(spatial) - 1) // 2]
            elif series.description == SAGITTAL_T1:
                instance = spatial[1] if condition.startswith("Left") else spatial[-2]
            else:
                instance = spatial[min(k + 1, len(spatial) - 1)]
            points.append((series.series_id, instance, condition, level, 12.5 + k, 8.0 + 3 * k))
    return points


def standard_studies() -> list[StudyPlan]:
    def three(study_id: str, sizes: tuple[int, int, int]) -> list[SeriesPlan]:
        return [
            SeriesPlan(f"{study_id}001", SAGITTAL_T1, sizes[0]),
            SeriesPlan(f"{study_id}002", SAGITTAL_T2_STIR, sizes[1]),
            SeriesPlan(f"{study_id}003", AXIAL_T2, sizes[2]),
        ]

    healthy = StudyPlan("1001", three("1001", (6, 6, 8)))
    sick_series = three("1002", (7, 6, 8))
    sick_series[1] = replace(sick_series[1], instance_numbers=SHUFFLED_T2_INSTANCES)
    sick = StudyPlan(
        "1002",
        sick_series,
        grades={
            "spinal_canal_stenosis_l4_l5": "Severe",
            "left_neural_foraminal_narrowing_l4_l5": "Moderate",
        },
    )
    gaps = StudyPlan(
        "1003",
        three("1003", (5, 5, 6)),
        grades={"left_subarticular_stenosis_l1_l2": "", "right_subarticular_stenosis_l5_s1": ""},
    )
    for plan in (healthy, sick, gaps):
        plan.points = default_points(plan)
    assert SHUFFLED_T2_INSTANCES[(len(SHUFFLED_T2_INSTANCES) - 1) // 2] == SPINAL_POINT_INSTANCE
    return [healthy, sick, gaps]


def write_rsna(root: Path, studies: list[StudyPlan]) -> Path:
    """Write `studies` under `root` in the RSNA layout; return `root`."""
    root.mkdir(parents=True, exist_ok=True)
    write_rows(
        root / TRAIN_CSV,
        [list(TRAIN_COLUMNS)]
        + [[p.study_id] + [p.grades.get(c, "Normal/Mild") for c in LABEL_COLUMNS] for p in studies],
    )
    write_rows(
        root / SERIES_DESCRIPTIONS_CSV,
        [list(SERIES_DESCRIPTION_COLUMNS)]
        + [[p.study_id, s.series_id, s.description] for p in studies for s in p.series],
    )
    write_rows(
        root / COORDINATES_CSV,
        [list(COORDINATE_COLUMNS)]
        + [
            [p.study_id, series_id, str(n), condition, level, f"{x:.2f}", f"{y:.2f}"]
            for p in studies
            for series_id, n, condition, level, x, y in p.points
        ],
    )
    for plan in studies:
        study_uid = generate_uid(entropy_srcs=["study", plan.study_id])
        for number, series in enumerate(plan.series, start=1):
            write_series_plan(root / IMAGES_FOLDER / plan.study_id, study_uid, number, series)
    return root


def write_series_plan(study_folder: Path, study_uid: str, number: int, plan: SeriesPlan) -> None:
    spec = SeriesSpec(
        n_slices=plan.n_slices,
        rows=MATRIX,
        cols=MATRIX,
        plane=plan.plane,  # type: ignore[arg-type]
        pixel_spacing=(8.0, 8.0),
        first_position=(-20.0, -128.0, 128.0) if plan.plane == "sagittal" else (-128.0, -128.0, 0),
        description=plan.description,
        series_number=number,
        study_uid=study_uid,
        series_uid=generate_uid(entropy_srcs=["series", plan.series_id]),
        window=None,
    )
    folder = study_folder / plan.series_id
    if plan.instance_numbers is None and plan.geometry:
        write_series(folder, spec, naming="instance")
        return
    folder.mkdir(parents=True, exist_ok=True)
    for index, instance in enumerate(plan.instances):
        sop_uid = generate_uid(entropy_srcs=[spec.series_uid, str(index)])
        ds = build_slice_dataset(spec, index, phantom_pixels(index, spec), sop_uid=sop_uid)
        ds.InstanceNumber = instance
        if not plan.geometry:
            del ds.ImagePositionPatient
        ds.save_as(folder / f"{instance}.dcm", enforce_file_format=True)


def read_rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as stream:
        return list(csv.reader(stream))


def write_rows(path: Path, rows: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as stream:
        csv.writer(stream, lineterminator="\n").writerows(rows)


def edit_rows(path: Path, edit: Callable[[list[list[str]]], list[list[str]]]) -> None:
    """Rewrite a CSV through `edit(rows) -> rows`."""
    write_rows(path, edit(read_rows(path)))

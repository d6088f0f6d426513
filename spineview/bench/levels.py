"""`spineview bench levels`: how well and how fast a level model finds the discs of studies it
has never seen (fresh synthetic studies, their field of view moved off the spine as real ones
are), read exactly as `spineview levels` reads them.

Both sagittal series of each study are read, the T1 against the discs marked on the T2/STIR
(in patient coordinates). The error of a level is measured in the plane of the sagittal series
(the marks of `train_label_coordinates.csv` are 2-D points on one instance; the model may read
a neighbouring instance, 3-5 mm to the side, which says nothing about where along the spine it
put the disc); the 3-D distance is reported beside it.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from spineview.core.geometry import row_col_normal
from spineview.core.levels import LevelMap
from spineview.data.rsna import read_rsna_dataset
from spineview.data.rsna_format import SAGITTAL_T1, SAGITTAL_T2_STIR
from spineview.data.rsna_images import rsna_ids
from spineview.data.rsna_levels import study_level_maps
from spineview.data.synth import SynthOptions, synthesize
from spineview.dicom.load import load_series
from spineview.dicom.scan import scan_paths
from spineview.models.level_metrics import WITHIN_MM
from spineview.models.metrics import wilson_interval

if TYPE_CHECKING:
    from spineview.dicom.index import SeriesInfo
    from spineview.ml.level_inference import LevelLocator

BENCH_SEED = 9_117
"""Not a seed any bundled model was trained on."""
FOV_SHIFT_MM = 40.0


@dataclass
class _Tally:
    """What one series type's reads came to."""

    in_plane: list[float] = field(default_factory=list)
    spatial: list[float] = field(default_factory=list)
    read: int = 0
    located: int = 0
    in_order: int = 0
    locate_seconds: float = 0.0
    decode_seconds: float = 0.0
    declined: list[str] = field(default_factory=list)

    def report(self) -> dict[str, Any]:
        errors = np.asarray(self.in_plane)
        hits = int(np.sum(errors <= WITHIN_MM))
        missed = 5 * (self.read - self.located)
        return {
            "series": self.read,
            "series_located": self.located,
            "declined": self.declined,
            "levels_compared": len(errors),
            "within_mm": WITHIN_MM,
            "within": round(hits / len(errors), 4) if len(errors) else None,
            "within_ci": wilson_interval(hits, len(errors)),
            "within_counting_declined_as_missed": (
                round(hits / (len(errors) + missed), 4) if len(errors) + missed else None
            ),
            "mean_mm": round(float(errors.mean()), 2) if len(errors) else None,
            "p90_mm": round(float(np.percentile(errors, 90)), 2) if len(errors) else None,
            "mean_3d_mm": round(float(np.mean(self.spatial)), 2) if self.spatial else None,
            "order_accuracy": round(self.in_order / self.located, 4) if self.located else None,
            "seconds_per_series_locate": round(self.locate_seconds / max(self.read, 1), 3),
            "seconds_per_series_decode": round(self.decode_seconds / max(self.read, 1), 3),
        }


def measure_levels(studies: int, model_folder: Path) -> dict[str, Any]:
    """Each sagittal T2/STIR and T1 series of `studies` fresh studies read by the level model
    in `model_folder`, against the discs marked on the T2/STIR series."""
    from spineview.ml.level_inference import LevelLocator

    locator = LevelLocator.load(model_folder)
    tallies = {SAGITTAL_T2_STIR: _Tally(), SAGITTAL_T1: _Tally()}
    with tempfile.TemporaryDirectory(prefix="spineview-bench-levels-") as scratch:
        root = Path(scratch) / "data"
        options = SynthOptions(studies=studies, seed=BENCH_SEED, fov_shift_mm=FOV_SHIFT_MM)
        synthesize(root, options)
        truth, problems = study_level_maps(read_rsna_dataset(root))
        for study in scan_paths([root / "train_images"]).studies:
            for info in study.series:
                study_id, _series_id = rsna_ids(info)
                tally = tallies.get(info.series_type.label)
                if tally is not None and study_id in truth:
                    _read_one(locator, info, truth[study_id], study_id, tally)
    return {
        "model": locator.name,
        "studies": studies,
        "seed": BENCH_SEED,
        "fov_shift_mm": FOV_SHIFT_MM,
        **{kind: tally.report() for kind, tally in tallies.items()},
        "truth_problems": problems,
    }


def _read_one(
    locator: LevelLocator, info: SeriesInfo, truth: LevelMap, study_id: str, tally: _Tally
) -> None:
    began = time.perf_counter()
    series = load_series(info)
    loaded = time.perf_counter()
    result = locator.locate(
        series, study_uid=info.study_uid, source_key=info.key,
    )  # fmt: skip
    tally.locate_seconds += time.perf_counter() - loaded
    tally.decode_seconds += loaded - began
    tally.read += 1
    if result.levels is None:
        tally.declined.append(f"study {study_id}: {result.reason}")
        return
    tally.located += 1
    normal = row_col_normal(series.orientation)[2]  # type: ignore[arg-type]
    marked = {point.level: np.asarray(point.position) for point in truth.points}
    found = {point.level: np.asarray(point.position) for point in result.levels.points}
    for level, position in marked.items():
        if level in found:
            difference = found[level] - position
            tally.spatial.append(float(np.linalg.norm(difference)))
            tally.in_plane.append(
                float(np.linalg.norm(difference - (difference @ normal) * normal))
            )
    tally.in_order += int(result.levels.in_order() and set(marked) <= set(found))

"""`spineview bench levels`: how well and how fast a level model finds the discs of studies it
has never seen (fresh synthetic studies, their field of view moved off the spine as real ones
are), read exactly as `spineview levels` reads them.

The error of a level is measured in the plane of the sagittal series (the marks of
`train_label_coordinates.csv` are 2-D points on one instance; the model may read a neighbouring
instance, 3-5 mm to the side, which says nothing about where along the spine it put the disc);
the 3-D distance is reported beside it.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from spineview.core.geometry import row_col_normal
from spineview.data.rsna import read_rsna_dataset
from spineview.data.rsna_format import SAGITTAL_T2_STIR
from spineview.data.rsna_levels import study_level_maps
from spineview.data.synth import SynthOptions, synthesize
from spineview.dicom.load import load_series
from spineview.dicom.scan import scan_paths
from spineview.locate_tree import rsna_ids
from spineview.models.level_metrics import WITHIN_MM
from spineview.models.metrics import wilson_interval

BENCH_SEED = 9_117
"""Not a seed any bundled model was trained on."""
FOV_SHIFT_MM = 40.0


def measure_levels(studies: int, model_folder: Path) -> dict[str, Any]:
    from spineview.ml.level_inference import LevelLocator

    locator = LevelLocator.load(model_folder)
    with tempfile.TemporaryDirectory(prefix="spineview-bench-levels-") as scratch:
        root = Path(scratch) / "data"
        options = SynthOptions(studies=studies, seed=BENCH_SEED, fov_shift_mm=FOV_SHIFT_MM)
        synthesize(root, options)
        truth, problems = study_level_maps(read_rsna_dataset(root))
        scan = scan_paths([root / "train_images"])
        in_plane: list[float] = []
        spatial: list[float] = []
        series_in_order = series_read = series_located = 0
        load_seconds = locate_seconds = 0.0
        declined: list[str] = []
        for study in scan.studies:
            for info in study.series:
                study_id, _series_id = rsna_ids(info)
                if info.series_type.label != SAGITTAL_T2_STIR:
                    continue
                if study_id not in truth:
                    continue
                began = time.perf_counter()
                series = load_series(info)
                loaded = time.perf_counter()
                result = locator.locate(
                    series, study_uid=info.study_uid, source_key=info.key,
                    instance_numbers=[ref.header.instance_number for ref in info.slices],
                )  # fmt: skip
                locate_seconds += time.perf_counter() - loaded
                load_seconds += loaded - began
                series_read += 1
                if result.levels is None:
                    declined.append(f"study {study_id}: {result.reason}")
                    continue
                series_located += 1
                normal = row_col_normal(series.orientation)[2]  # type: ignore[arg-type]
                marked = {
                    point.level: np.asarray(point.position) for point in truth[study_id].points
                }
                found = {point.level: np.asarray(point.position) for point in result.levels.points}
                for level, position in marked.items():
                    if level in found:
                        difference = found[level] - position
                        spatial.append(float(np.linalg.norm(difference)))
                        in_plane.append(
                            float(np.linalg.norm(difference - (difference @ normal) * normal))
                        )
                series_in_order += int(result.levels.in_order() and set(marked) <= set(found))
    errors = np.asarray(in_plane)
    hits = int(np.sum(errors <= WITHIN_MM))
    return {
        "model": locator.name,
        "studies": studies,
        "seed": BENCH_SEED,
        "fov_shift_mm": FOV_SHIFT_MM,
        "sagittal_t2_series": series_read,
        "declined": declined,
        "levels_compared": len(errors),
        "within_mm": WITHIN_MM,
        "within": round(hits / len(errors), 4) if len(errors) else None,
        "within_ci": wilson_interval(hits, len(errors)),
        "mean_mm": round(float(errors.mean()), 2) if len(errors) else None,
        "p90_mm": round(float(np.percentile(errors, 90)), 2) if len(errors) else None,
        "mean_3d_mm": round(float(np.mean(spatial)), 2) if spatial else None,
        "series_in_order": series_in_order,
        "series_located": series_located,
        "order_accuracy": round(series_in_order / series_located, 4) if series_located else None,
        "levels_declined": 5 * (series_read - series_located),
        "within_counting_declined_as_missed": (
            round(hits / (len(errors) + 5 * (series_read - series_located)), 4)
            if series_read
            else None
        ),
        "seconds_per_series_locate": round(locate_seconds / max(series_read, 1), 3),
        "seconds_per_series_decode": round(load_seconds / max(series_read, 1), 3),
        "truth_problems": problems,
    }

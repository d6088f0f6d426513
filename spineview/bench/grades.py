"""`spineview bench grade`: seconds to grade one study (disc levels + 25 findings, decoding
included, after the models are loaded) and training throughput, on fresh synthetic studies,
with the grades scored against the constant prior of those studies' labels."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from spineview.data.synth import SynthOptions, synthesize
from spineview.dicom.scan import scan_paths

BENCH_SEED = 9_119
FOV_SHIFT_MM = 40.0


def measure_grading(studies: int, model_folder: Path, levels_folder: Path) -> dict[str, Any]:
    from spineview.data.rsna_format import TRAIN_CSV
    from spineview.grade_tree import grade_study
    from spineview.ml.grade_inference import Grader
    from spineview.ml.grade_training import GradeTrainingConfig, train_grades
    from spineview.ml.level_inference import LevelLocator
    from spineview.models.rsna_metric import read_train_labels, rsna_score, solution_from_labels

    grader = Grader.load(model_folder)
    locator = LevelLocator.load(levels_folder)
    with tempfile.TemporaryDirectory(prefix="spineview-bench-grade-") as scratch:
        root = Path(scratch) / "data"
        synthesize(root, SynthOptions(studies=studies, seed=BENCH_SEED, fov_shift_mm=FOV_SHIFT_MM))
        scan = scan_paths([root / "train_images"])
        seconds, graded = [], []
        for study in scan.studies:
            started = time.perf_counter()
            graded.append(grade_study(study, grader, locator))
            seconds.append(time.perf_counter() - started)
        labels, _problems = read_train_labels(root / TRAIN_CSV)
        ids = [entry.study_id for entry in graded]
        solution = solution_from_labels(labels, ids)
        rows = np.stack([entry.rows for entry in graded])
        score = rsna_score(solution, rows).score
        prior = rsna_score(solution, np.broadcast_to(grader.prior, rows.shape)).score
        started = time.perf_counter()
        trained = train_grades(
            GradeTrainingConfig(root, "bench", Path(scratch) / "model", epochs=2)
        )
        training_seconds = time.perf_counter() - started
    rates = [row["crops_per_second"] for row in trained.history]
    return {
        "model": grader.name,
        "levels_model": locator.name,
        "studies": studies,
        "seed": BENCH_SEED,
        "seconds_per_study": round(float(np.mean(seconds)), 3),
        "seconds_per_study_max": round(float(np.max(seconds)), 3),
        "declined": [
            f"study {entry.study_id}: {entry.grades.reason}"
            for entry in graded
            if entry.grades.decision == "declined"
        ],
        "score": None if score is None else round(score, 4),
        "score_of_the_models_training_prior": None if prior is None else round(prior, 4),
        "training_crops_per_second": rates,
        "training_seconds_two_epochs_with_crops": round(training_seconds, 1),
    }

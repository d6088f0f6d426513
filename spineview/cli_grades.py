"""`spineview evaluate`: score an RSNA 2024 submission, beside a constant per-level prior.

The studies scored are the dataset's test split (the study-grouped split of
`models.rsna_metric.study_split`, seed 0 unless `--seed`) or the ones `--studies` names; the prior
is always fitted on the train split, and the output says how many scored studies it saw.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from spineview.cli_options import line_printer, task_training_fields
from spineview.data.rsna_format import TRAIN_CSV
from spineview.models.rsna_metric import (
    PRIOR_SMOOTHING,
    fit_prior,
    prior_submission,
    read_submission,
    read_train_labels,
    rsna_score,
    solution_from_labels,
    split_studies,
    study_split,
    write_submission,
)

EXIT_OK, EXIT_ERROR, EXIT_NO_IMAGES = 0, 1, 2
DEFAULT_GRADE_MODEL = "grades-demo"
MAX_NOTES = 10


def add_evaluate_parser(commands: Any) -> None:
    evaluate = commands.add_parser(
        "evaluate",
        help="score an RSNA 2024 submission CSV with the competition metric; prints JSON",
    )
    evaluate.add_argument(
        "dataset", type=Path, metavar="DATASET", help="a folder in the RSNA 2024 layout"
    )
    evaluate.add_argument(
        "--submission", type=Path, metavar="FILE",
        help="CSV with row_id,normal_mild,moderate,severe (25 rows per study)",
    )  # fmt: skip
    evaluate.add_argument(
        "--studies", metavar="ID,...",
        help="score these studies (default: the dataset's test split)",
    )  # fmt: skip
    evaluate.add_argument(
        "--seed", type=int, default=0, help="seed of the study split (default: %(default)s)"
    )
    evaluate.add_argument(
        "--write-prior", type=Path, metavar="FILE",
        help="also write the constant prior as a submission for the scored studies",
    )  # fmt: skip


def add_grade_parser(commands: Any) -> None:
    grade = commands.add_parser(
        "grade", help="grade the 25 RSNA 2024 findings of every study under DICOM paths"
    )
    grade.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="files or folders")
    grade.add_argument(
        "--model",
        default=DEFAULT_GRADE_MODEL,
        help="grading model name or folder (default: %(default)s)",
    )
    grade.add_argument(
        "--levels-model", default="levels-demo",
        help="level model name or folder that places the crops (default: %(default)s)",
    )  # fmt: skip
    grade.add_argument(
        "--out", type=Path, required=True, help="submission CSV: row_id,normal_mild,moderate,severe"
    )
    grade.add_argument(
        "--json", action="store_true",
        help="also write OUT with .json: each finding's series, instance, crop box, confidence "
        "and each study's decision",
    )  # fmt: skip


def command_grade(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from spineview.dicom.scan import scan_paths
    from spineview.grade_tree import grade_scan, write_grades
    from spineview.ml.grade_inference import Grader
    from spineview.ml.level_inference import LevelLocator
    from spineview.models.catalogue import find_model
    from spineview.terminal import TerminalProgress

    if args.out.suffix.lower() != ".csv":
        print(f"spineview grade: {args.out}: the submission must end in .csv", file=err)
        return EXIT_ERROR
    grader = Grader.load(find_model(args.model).path)
    locator = LevelLocator.load(find_model(args.levels_model).path)
    usability = grader.manifest.usability
    if not usability.usable:
        print(f"warning: model not usable: {usability.reason}", file=err)
    scan_progress = TerminalProgress(err)
    scan = scan_paths(list(args.paths), progress=scan_progress)
    scan_progress.finish()
    if not scan.studies:
        print("spineview grade: no DICOM images found", file=err)
        return EXIT_NO_IMAGES
    progress = TerminalProgress(err, label="grading", unit="studies")
    graded = grade_scan(scan, grader, locator, progress=progress)
    progress.finish()
    json_path = write_grades(graded, args.out, with_json=args.json, model=grader.name)
    for study in graded:
        if study.grades.decision == "declined":
            print(f"study {study.study_id}: {study.grades.reason} (the prior for all 25)", file=err)
    written = f" and {json_path}" if json_path is not None else ""
    out.write(f"{len(graded)} studies, {25 * len(graded)} rows written to {args.out}{written}\n")
    return EXIT_OK


def command_train_grades(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from spineview.ml.grade_training import GradeTrainingConfig, train_grades

    fields = task_training_fields(args, err, ("epochs", "learning_rate"))
    if fields is None:
        return EXIT_ERROR
    if args.levels_model is not None:
        from spineview.models.catalogue import find_model, require_task

        fields["levels_model"] = find_model(args.levels_model).path
        require_task(fields["levels_model"], "levels")
    result = train_grades(GradeTrainingConfig(**fields), progress=line_printer(out))
    test = result.metrics.get("test", {})
    usability = result.info.manifest.usability
    interval = test.get("difference_ci") or [float("nan")] * 2
    out.write(
        f"\nsaved {result.info.path} (temperature {result.info.manifest.temperature:g})\n"
        f"test ({test.get('studies', 0)} studies, {test.get('rows_scored', 0)} rows): score "
        f"{test.get('score', float('nan')):.4f}, constant prior "
        f"{test.get('prior', {}).get('score', float('nan')):.4f}, ratio "
        f"{test.get('ratio_to_prior', float('nan')):.2f}; difference 95 % interval "
        f"{interval[0]:+.3f} to {interval[1]:+.3f}\n"
        f"quality gate: {'usable' if usability.usable else 'NOT USABLE'}: {usability.reason}\n"
    )
    for problem in result.problems:
        out.write(f"note: {problem}\n")
    return EXIT_OK


def command_evaluate(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if args.submission is None and args.write_prior is None:
        print("spineview evaluate: give --submission FILE (or --write-prior FILE)", file=err)
        return EXIT_ERROR
    if (
        args.submission is not None
        and args.write_prior is not None
        and args.submission.resolve() == args.write_prior.resolve()
    ):
        print("spineview evaluate: --write-prior would overwrite the submission", file=err)
        return EXIT_ERROR
    root: Path = args.dataset
    if not (root / TRAIN_CSV).is_file():
        print(f"spineview evaluate: {root}: no {TRAIN_CSV} (not an RSNA 2024 layout)", file=err)
        return EXIT_ERROR
    labels, problems = read_train_labels(root / TRAIN_CSV)
    for problem in problems[:MAX_NOTES]:
        print(f"note: {problem}", file=err)
    if len(problems) > MAX_NOTES:
        print(f"note: ... and {len(problems) - MAX_NOTES} more problems", file=err)
    split = study_split(labels, seed=args.seed)
    train = split_studies(split, "train")
    if args.studies is not None:
        evaluated = _parse_studies(args.studies)
        unknown = [s for s in evaluated if s not in labels]
        if not evaluated or unknown:
            what = f"not in {TRAIN_CSV}: {', '.join(unknown[:10])}" if unknown else "none given"
            print(f"spineview evaluate: --studies: {what}", file=err)
            return EXIT_ERROR
        source = "--studies"
    else:
        evaluated, source = split_studies(split, "test"), "test split"
    solution = solution_from_labels(labels, evaluated)
    prior = fit_prior(solution_from_labels(labels, train))
    prior_rows = np.broadcast_to(prior, (len(evaluated), *prior.shape))
    result: dict[str, Any] = {
        "dataset": str(root),
        "studies": len(evaluated),
        "rows_scored": solution.rows_labelled,
    }
    if args.submission is not None:
        submission = read_submission(args.submission)
        scored = rsna_score(solution, submission.rows_for(solution))
        result["submission"] = str(args.submission)
        result.update(scored.as_json())
        result["studies_in_submission_not_scored"] = len(submission.studies_not_in(solution))
    if args.write_prior is not None:
        write_submission(args.write_prior, prior_submission(prior, evaluated))
    result["prior"] = {
        **rsna_score(solution, prior_rows).as_json(),
        "what": "per condition and level, the grade frequencies of the train split's labelled "
        f"rows, each count plus {PRIOR_SMOOTHING:g} (Laplace)",
        "written_to": None if args.write_prior is None else str(args.write_prior),
    }
    result["split"] = {
        "seed": args.seed,
        "scored": source,
        "scored_studies": len(evaluated),
        "prior_fitted_on": "train split",
        "prior_studies": len(train),
        "scored_studies_in_prior_training": len(set(evaluated) & set(train)),
    }
    json.dump(result, out, indent=2)
    out.write("\n")
    return EXIT_OK


def _parse_studies(text: str) -> list[str]:
    ids = [part.strip() for part in text.split(",") if part.strip()]
    return list(dict.fromkeys(ids))

"""The level commands of the CLI: `spineview train --task levels` and `spineview levels`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, TextIO

from spineview.cli_options import line_printer, refuse_levels_model, task_training_fields
from spineview.terminal import TerminalProgress

DEFAULT_LEVEL_MODEL = "levels-demo"
EXIT_OK, EXIT_ERROR, EXIT_NO_IMAGES = 0, 1, 2


def add_levels_parser(commands: Any) -> None:
    levels = commands.add_parser(
        "levels", help="find the disc levels L1/L2…L5/S1 of every study under DICOM paths"
    )
    levels.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="files or folders")
    levels.add_argument(
        "--model",
        default=DEFAULT_LEVEL_MODEL,
        help="level model name or folder (default: %(default)s)",
    )
    levels.add_argument(
        "--out", type=Path, required=True,
        help="results file: .csv (one row per series and level) or .json (with every reason)",
    )  # fmt: skip


def command_train_levels(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from spineview.ml.level_training import LevelTrainingConfig, train_levels

    fields = task_training_fields(args, err, ("epochs", "batch_size", "learning_rate"))
    if fields is None or refuse_levels_model(args, err):
        return EXIT_ERROR
    result = train_levels(LevelTrainingConfig(**fields), progress=line_printer(out))
    test = result.metrics.get("test", {})
    usability = result.info.manifest.usability
    verdict = "usable" if usability.usable else "NOT USABLE"
    interval = test.get("within_ci") or [float("nan")] * 2
    baseline = test.get("mean_position_baseline", {})
    out.write(
        f"\nsaved {result.info.path}\n"
        f"test ({test.get('series', 0)} series, {test.get('levels', 0)} levels): mean error "
        f"{test.get('mean_mm', float('nan')):.1f} mm, 90th percentile "
        f"{test.get('p90_mm', float('nan')):.1f} mm, within {test.get('within_mm', 5):g} mm "
        f"{test.get('within', 0):.1%} (95 % interval {interval[0]:.1%}–{interval[1]:.1%}), "
        f"order {test.get('order_accuracy') or 0:.1%}\n"
        f"baseline (each level at its training mean position): within "
        f"{baseline.get('within', 0):.1%}, mean error "
        f"{baseline.get('mean_mm', float('nan')):.1f} mm\n"
        f"quality gate: {verdict}: {usability.reason}\n"
    )
    for problem in result.problems:
        out.write(f"note: {problem}\n")
    return EXIT_OK


def command_levels(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from spineview.dicom.scan import scan_paths
    from spineview.locate_tree import locate_levels, write_levels
    from spineview.ml.level_inference import LevelLocator
    from spineview.models.catalogue import find_model, require_task

    if args.out.suffix.lower() not in (".csv", ".json"):
        print(f"spineview levels: {args.out}: the results file must end in .csv or .json", file=err)
        return EXIT_ERROR
    info = find_model(args.model)
    require_task(info.path, "levels")
    scan_progress = TerminalProgress(err)
    scan = scan_paths(list(args.paths), progress=scan_progress)
    scan_progress.finish()
    if not scan.studies:
        print("spineview levels: no DICOM images found", file=err)
        return EXIT_NO_IMAGES
    locator = LevelLocator.load(info.path)
    progress = TerminalProgress(err, label="finding levels", unit="series")
    report = locate_levels(scan, locator, progress=progress)
    progress.finish()
    write_levels(report, args.out)
    found = sum(1 for entry in report.series if entry.result.levels is not None)
    for entry in report.series:
        if entry.result.levels is None:
            print(
                f"study {entry.study_id} series {entry.series_id}: {entry.result.reason}", file=err
            )
    for study in report.studies_without_sagittal:
        print(f"study {study}: no sagittal T2/STIR or T1 series, so no levels", file=err)
    out.write(
        f"{found} of {len(report.series)} sagittal series with levels "
        f"({len(report.rows())} rows) written to {args.out}\n"
    )
    return EXIT_OK

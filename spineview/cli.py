"""Headless commands: info, dataset, synth, train, models, classify and the benchmarks.

Output for people goes to stdout, progress to stderr, and JSON (with --json) to stdout alone, so
`spineview info DIR --json | jq` works.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from spineview import __version__, cli_grades, cli_levels, cli_options
from spineview.core.heatmap import DEFAULT_HEATMAP_METHOD, HeatmapMethod
from spineview.core.text import format_dicom_date, format_probability
from spineview.dicom.index import SeriesInfo, StudyInfo
from spineview.dicom.scan import ScanResult, scan_paths
from spineview.errors import ModelLoadError, SpineViewError
from spineview.models.training_plan import (
    FROM_MODEL_LEARNING_RATE,
    RECIPES,
    TrainConfig,
    recipe_config,
)
from spineview.terminal import TerminalProgress

if TYPE_CHECKING:
    from spineview.classify_tree import SeriesResult

EXIT_OK, EXIT_ERROR, EXIT_NO_IMAGES = 0, 1, 2
COMMANDS = (
    "info", "dataset", "synth", "train", "models", "classify", "levels", "grade", "evaluate",
    "bench",
)  # fmt: skip


def build_gui_parser() -> argparse.ArgumentParser:
    """`spineview [PATH ...] [--demo]`: the viewer (any other first word is a command)."""
    parser = argparse.ArgumentParser(
        prog="spineview",
        description="Open the viewer. Commands: " + ", ".join(COMMANDS) + " (spineview --help).",
    )
    parser.add_argument("paths", nargs="*", type=Path, metavar="PATH", help="files or folders")
    parser.add_argument("--demo", action="store_true", help="open a synthetic lumbar study")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="spineview",
        description="Lumbar spine MRI viewer and classifier (DICOM). "
        "`spineview [PATH ...] [--demo]` opens the viewer; the commands below run headless.",
    )
    parser.add_argument("--version", action="version", version=f"spineview {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    info = commands.add_parser("info", help="list the studies and series in DICOM files or folders")
    info.add_argument("paths", nargs="*", type=Path, metavar="PATH", help="files or folders")
    info.add_argument("--json", action="store_true", help="machine-readable output")
    info.add_argument(
        "--demo", action="store_true", help="describe a synthetic lumbar study (RSNA layout)"
    )
    info.add_argument("--all-problems", action="store_true", help="list every problem file")

    dataset = commands.add_parser(
        "dataset",
        help="check a training dataset (RSNA layout or class folders) and show its slice "
        "examples and split",
    )
    dataset.add_argument("root", type=Path, help="dataset folder")
    dataset.add_argument("--seed", type=int, default=0, help="split seed (default 0)")
    dataset.add_argument(
        "--min-severity", choices=("moderate", "severe"), default="moderate",
        help="grade that makes a slice degenerative (default moderate)",
    )  # fmt: skip
    dataset.add_argument(
        "--neighbours", type=int, default=1, help="slices either side of a point (default 1)"
    )
    dataset.add_argument("--all-problems", action="store_true", help="list every problem")

    synth = commands.add_parser(
        "synth", help="write synthetic lumbar MRI studies in the RSNA 2024 layout"
    )
    synth.add_argument("out", nargs="?", type=Path, help="new folder to write (must not exist)")
    synth.add_argument("--studies", type=int, default=10, help="number of studies (default 10)")
    synth.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    synth.add_argument("--size", type=int, default=256, help="base image matrix (default 256)")
    synth.add_argument(
        "--difficulty", type=float, default=0.5, help="0 clean .. 1 noisy/tilted (default 0.5)"
    )
    synth.add_argument(
        "--fov-shift", type=float, default=0.0, metavar="MM",
        help="move each study's sagittal field of view up to MM off the spine (default 0)",
    )  # fmt: skip
    synth.add_argument("--workers", type=int, default=None, help="processes (default: cores)")
    synth.add_argument(
        "--preview", type=Path, metavar="PNG", help="also write a montage of the first studies"
    )

    _add_train_parser(commands)
    models = commands.add_parser("models", help="list the bundled and user models")
    model_commands = models.add_subparsers(dest="models_command")
    fit_check = model_commands.add_parser(
        "fit-check",
        help="fit a model's in-distribution check (and, for a network without dropout, its "
        "last-layer posterior) on the data it was trained on (weights untouched; for models "
        "made before these existed)",
    )
    fit_check.add_argument("model", help="model name or folder")
    fit_check.add_argument("dataset", type=Path, help="the dataset the model was trained on")
    heatmaps = model_commands.add_parser(
        "measure-heatmaps",
        help="measure where each heatmap method's peak falls on fresh synthetic studies with "
        "known lesions; the figures go into the model's report and details",
    )
    heatmaps.add_argument("model", help="model name or folder")
    heatmaps.add_argument("--studies", type=int, default=12, help="synthetic studies (default 12)")
    heatmaps.add_argument("--seed", type=int, default=5, help="generator seed (default 5)")
    heatmaps.add_argument("--max-slices", type=int, default=200, help="slices evaluated at most")
    _add_classify_parser(commands)
    cli_levels.add_levels_parser(commands)
    cli_grades.add_evaluate_parser(commands)
    cli_grades.add_grade_parser(commands)

    _add_bench_parser(commands)
    return parser


def _add_bench_parser(commands: Any) -> None:
    bench = commands.add_parser("bench", help="measure speed; prints JSON")
    bench_commands = bench.add_subparsers(dest="bench_command", metavar="BENCH", required=True)
    scan = bench_commands.add_parser(
        "scan", help="header index speed against a bare pydicom loop on a generated folder"
    )
    scan.add_argument("--files", type=int, default=2000, help="number of files (default 2000)")
    scan.add_argument("--matrix", type=int, default=256, help="rows and columns (default 256)")
    scan.add_argument("--repeats", type=int, default=3, help="best of N runs (default 3)")
    bench_synth = bench_commands.add_parser("synth", help="synthetic study generation speed")
    bench_synth.add_argument("--studies", type=int, default=100, help="studies (default 100)")
    bench_synth.add_argument("--size", type=int, default=256, help="base matrix (default 256)")
    bench_train = bench_commands.add_parser(
        "train", help="training throughput: reference-style vs spineview pipeline vs bare step"
    )
    bench_train.add_argument(
        "--epochs", type=int, default=10,
        help="epochs per pipeline (default 10: a training run of the default recipe's length)",
    )  # fmt: skip
    bench_train.add_argument("--slices", type=int, default=640, help="about N slices")
    infer = bench_commands.add_parser(
        "infer", help="series classification (decode + preprocess + infer) vs raw float32 Keras"
    )
    infer.add_argument("--studies", type=int, default=6, help="synthetic studies (default 6)")
    infer.add_argument("--model", default="cnn-demo", help="model name or folder")
    gradcam = bench_commands.add_parser(
        "gradcam", help="Grad-CAM peak-in-lesion fraction and cost against one forward pass"
    )
    gradcam.add_argument("--studies", type=int, default=12, help="synthetic studies (default 12)")
    gradcam.add_argument("--max-slices", type=int, default=200, help="slices evaluated at most")
    gradcam.add_argument("--model", default="cnn-demo", help="model name or folder")
    learn = bench_commands.add_parser(
        "learn", help="test ROC AUC of the training recipes on a matrix of unfamiliar datasets"
    )
    learn.add_argument(
        "--studies", type=int, default=200, help="synthetic studies to train from (default 200)"
    )
    learn.add_argument(
        "--test-studies", type=int, default=60, help="other studies to test on (default 60)"
    )
    learn.add_argument("--epochs", type=int, default=10, help="epochs at most (default 10)")
    learn.add_argument(
        "--recipes", default="default,reference,light-augmentation", help="comma-separated recipes"
    )
    learn.add_argument("--cells", help="comma-separated cell names (default: all)")
    ui = bench_commands.add_parser(
        "ui", help="longest event-loop stall while the window opens a generated folder"
    )
    ui.add_argument("--files", type=int, default=2000, help="number of files (default 2000)")
    ui.add_argument("--matrix", type=int, default=256, help="rows and columns (default 256)")
    load = bench_commands.add_parser(
        "load", help="compressed series load time: decoder processes vs in-process"
    )
    load.add_argument("--files", type=int, default=400, help="number of files (default 400)")
    load.add_argument("--matrix", type=int, default=512, help="rows and columns (default 512)")
    levels = bench_commands.add_parser(
        "levels", help="level model error (mm, order) and speed on fresh synthetic studies"
    )
    levels.add_argument("--studies", type=int, default=20, help="synthetic studies (default 20)")
    levels.add_argument("--model", default="levels-demo", help="level model name or folder")
    grade = bench_commands.add_parser(
        "grade", help="seconds per study (levels + 25 findings) and training crops/s"
    )
    grade.add_argument("--studies", type=int, default=10, help="synthetic studies (default 10)")
    grade.add_argument("--model", default="grades-demo", help="grading model name or folder")
    grade.add_argument("--levels-model", default="levels-demo", help="level model")


def _add_train_parser(commands: Any) -> None:
    train = commands.add_parser("train", help="train a slice classifier or a level model")
    train.add_argument("dataset", type=Path, help="RSNA-layout folder or one folder per class")
    train.add_argument(
        "--task", choices=("slices", "levels", "grades"), default="slices",
        help="slices: a slice classifier (default); levels: a disc level model; grades: a "
        "grading model of the 25 RSNA findings (both need the RSNA layout)",
    )  # fmt: skip
    train.add_argument("--name", required=True, help="model name (letters, digits, - _ .)")
    train.add_argument(
        "--recipe", choices=RECIPES, default="default",
        help="training recipe; the options below override its values (default: default)",
    )  # fmt: skip
    train.add_argument(
        "--from", dest="start_from", metavar="MODEL",
        help="fine-tune this model (name or folder): its architecture and weights are the start",
    )  # fmt: skip
    train.add_argument(
        "--freeze-features", action="store_true",
        help="with --from: keep the feature layers, train the classifier head only",
    )  # fmt: skip
    train.add_argument("--arch", choices=("cnn", "resnet50"), help="default: cnn, or --from's")
    train.add_argument("--epochs", type=int)
    train.add_argument("--batch-size", type=int)
    train.add_argument(
        "--learning-rate", type=float,
        help=f"default: the recipe's, or {FROM_MODEL_LEARNING_RATE:g} with --from",
    )  # fmt: skip
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--augmentation", choices=("light", "reference", "none"))
    train.add_argument("--precision", choices=("auto", "float32", "mixed_bfloat16"), default="auto")
    train.add_argument("--max-examples", type=int, help="train on a subsample of about N slices")
    train.add_argument(
        "--patience", type=int,
        help=f"epochs without a better validation figure before stopping "
        f"(default {TrainConfig.patience})",
    )  # fmt: skip
    train.add_argument("--imagenet-weights", type=Path, help="local ResNet50 ImageNet .h5 file")
    train.add_argument("--out", type=Path, help="models folder (default: the user models folder)")
    train.add_argument(
        "--levels-model", metavar="NAME|FOLDER",
        help="--task grades: place the training crops where this level model finds the discs "
        "(default: at the marked levels)",
    )  # fmt: skip
    train.add_argument("--demo", action="store_true", help="mark as a demo model (synthetic data)")


def run_bench(args: argparse.Namespace) -> dict[str, Any]:
    """The report of `spineview bench NAME` (benchmarks import what they measure lazily)."""
    from spineview.bench import commands as bench

    runners: dict[str, Callable[[], dict[str, Any]]] = {
        "scan": lambda: bench.bench_scan(
            files=args.files, matrix=args.matrix, repeats=args.repeats
        ),
        "synth": lambda: bench.bench_synth(studies=args.studies, size=args.size),
        "train": lambda: bench.bench_train(epochs=args.epochs, max_examples=args.slices),
        "infer": lambda: bench.bench_infer(studies=args.studies, model=args.model),
        "gradcam": lambda: bench.bench_gradcam(
            studies=args.studies, max_slices=args.max_slices, model=args.model
        ),
        "ui": lambda: bench.bench_ui(files=args.files, matrix=args.matrix),
        "learn": lambda: bench.bench_learn(
            studies=args.studies,
            test_studies=args.test_studies,
            epochs=args.epochs,
            recipes=args.recipes.split(","),
            cells=args.cells.split(",") if args.cells else None,
        ),
        "load": lambda: bench.bench_load(files=args.files, matrix=args.matrix),
        "levels": lambda: bench.bench_levels(studies=args.studies, model=args.model),
        "grade": lambda: bench.bench_grade(
            studies=args.studies, model=args.model, levels_model=args.levels_model
        ),
    }
    return runners[args.bench_command]()


def _add_classify_parser(commands: Any) -> None:
    classify = commands.add_parser(
        "classify", help="classify every series under DICOM files or folders"
    )
    classify.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="files or folders")
    classify.add_argument("--model", default="cnn-demo", help="model name or folder")
    classify.add_argument(
        "--out", type=Path, help="results file: .csv (one row per slice) or .json (everything)"
    )
    classify.add_argument("--gradcam", type=Path, metavar="DIR", help="write heatmap PNGs here")
    classify.add_argument(
        "--method",
        choices=tuple(method.value for method in HeatmapMethod),
        default=DEFAULT_HEATMAP_METHOD.value,
        help="heatmap method (default: %(default)s)",
    )
    classify.add_argument(
        "--healthy-maps", action="store_true",
        help="with --gradcam, also map slices decided healthy (default: degenerative ones only)",
    )  # fmt: skip
    classify.add_argument(
        "--force", action="store_true",
        help="give the verdict of declined series too (marked: shown on request)",
    )  # fmt: skip
    classify.add_argument(
        "--skip-incompatible", action="store_true",
        help="leave out series the model was not trained on (default: classify with a warning)",
    )  # fmt: skip


def run(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "info":
            return command_info(args, sys.stdout, sys.stderr)
        if args.command == "bench":
            print(json.dumps(run_bench(args), indent=2))
            return EXIT_OK
        if args.command == "dataset":
            return command_dataset(args, sys.stdout)
        if args.command == "train":
            if args.task == "levels":
                return cli_levels.command_train_levels(args, sys.stdout, sys.stderr)
            if args.task == "grades":
                return cli_grades.command_train_grades(args, sys.stdout, sys.stderr)
            return command_train(args, sys.stdout, sys.stderr)
        if args.command == "levels":
            return cli_levels.command_levels(args, sys.stdout, sys.stderr)
        if args.command == "grade":
            return cli_grades.command_grade(args, sys.stdout, sys.stderr)
        if args.command == "evaluate":
            return cli_grades.command_evaluate(args, sys.stdout, sys.stderr)
        if args.command == "models":
            if args.models_command == "fit-check":
                return command_fit_check(args, sys.stdout, sys.stderr)
            if args.models_command == "measure-heatmaps":
                return command_measure_heatmaps(args, sys.stdout, sys.stderr)
            return command_models(sys.stdout)
        if args.command == "classify":
            return command_classify(args, sys.stdout, sys.stderr)
        if args.command == "synth":
            return command_synth(args, sys.stdout, sys.stderr)
    except (SpineViewError, OSError) as error:
        print(f"spineview: {error}", file=sys.stderr)
        return EXIT_ERROR
    parser.print_help()
    return EXIT_OK


# --- info ----------------------------------------------------------------------------------


def command_info(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    paths: list[Path] = list(args.paths)
    with tempfile.TemporaryDirectory(prefix="spineview-demo-") as demo_dir:
        if args.demo:
            from spineview.data.synth import SynthOptions, synthesize

            synthesize(Path(demo_dir) / "study", SynthOptions(studies=1, seed=7), workers=1)
            paths.append(Path(demo_dir) / "study" / "train_images")
        if not paths:
            print("spineview info: give a file or folder (or --demo)", file=err)
            return EXIT_ERROR
        progress = None if args.json else TerminalProgress(err)
        result = scan_paths(paths, progress=progress)
        if progress is not None:
            progress.finish()
        if args.json:
            json.dump(scan_to_json(result), out, indent=2)
            out.write("\n")
        else:
            write_table(result, out, all_problems=args.all_problems)
    if result.series_count == 0:
        if not args.json:
            where = ", ".join(str(p) for p in paths)
            print(f"spineview: no DICOM images found in {where}", file=err)
        return EXIT_NO_IMAGES
    return EXIT_OK


def command_dataset(args: argparse.Namespace, out: TextIO) -> int:
    """Validate a dataset and show what training would use: examples, rule, split balance."""
    from spineview.data.class_folders import read_class_folders
    from spineview.data.rsna import read_rsna_dataset
    from spineview.data.rsna_format import TRAIN_CSV
    from spineview.data.slice_examples import SliceRule, slice_examples
    from spineview.data.splits import grouped_split

    root: Path = args.root
    if (root / TRAIN_CSV).is_file():
        dataset = read_rsna_dataset(root)
        out.write(f"RSNA layout: {root}\n")
        for line in dataset.summary().lines():
            out.write(f"  {line}\n")
        _write_file_list(out, "Problems", dataset.problems, args.all_problems)
        rule = SliceRule(
            min_severity=2 if args.min_severity == "severe" else 1,
            neighbour_distance=args.neighbours,
        )
        examples = slice_examples(dataset, rule)
        out.write(f"\nSlice examples: {examples.rule_text}\n")
        for line in examples.counts.lines():
            out.write(f"  {line}\n")
        groups, labels, names = examples.groups, examples.labels, ["healthy", "degenerative"]
    else:
        folders = read_class_folders(root)
        out.write(f"Class folders: {root} ({', '.join(folders.class_names)})\n")
        for name, count in zip(folders.class_names, folders.class_counts(), strict=True):
            out.write(f"  {name}: {count} files\n")
        if folders.skipped_non_dicom:
            out.write(f"  {folders.skipped_non_dicom} non-DICOM files skipped\n")
        groups, labels, names = folders.groups, folders.labels, folders.class_names
    if len(set(groups)) < 3 or len(set(labels)) < 2:
        out.write("\nNot enough groups or classes for a train/validation/test split.\n")
        return EXIT_ERROR
    split = grouped_split(groups, labels, seed=args.seed)
    out.write(f"\nSplit by study/patient (seed {args.seed}):\n{split.summary(names)}\n")
    return EXIT_OK


def _train_config(args: argparse.Namespace) -> TrainConfig:
    """The recipe's config with the options given on the command line over it."""
    given = {
        "epochs": args.epochs, "batch_size": args.batch_size,
        "learning_rate": args.learning_rate, "augmentation": args.augmentation,
        "patience": args.patience, "max_examples": args.max_examples,
        "imagenet_weights": args.imagenet_weights, "start_from": args.start_from,
    }  # fmt: skip
    fields = {key: value for key, value in given.items() if value is not None}
    architecture = args.arch
    if architecture is None and args.start_from:
        from spineview.models.catalogue import find_model

        architecture = find_model(args.start_from).manifest.architecture
    return recipe_config(
        args.recipe, args.dataset, args.name,
        architecture=architecture or "cnn", seed=args.seed, precision=args.precision,
        demo=args.demo, freeze_features=args.freeze_features, **fields,
    )  # fmt: skip


def command_train(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from spineview.ml.train import TrainingStage, TrainProgress, train_model
    from spineview.models.quality_gate import judge_usability

    if cli_options.refuse_levels_model(args, err):
        return EXIT_ERROR
    try:
        config = _train_config(args)
    except ModelLoadError as error:
        print(f"spineview train: {error}", file=err)
        return EXIT_ERROR
    bar = TerminalProgress(err, label="decoding slices", unit="slices")

    def report(progress: TrainProgress) -> None:
        if progress.stage == TrainingStage.READING:
            bar(progress.done, progress.total)
        elif progress.stage == TrainingStage.EPOCH:
            logs = "  ".join(f"{k} {v:.4f}" for k, v in sorted(progress.logs.items()))
            out.write(f"epoch {progress.epoch}/{progress.epochs}  {logs}\n")
            out.flush()
        elif progress.stage in (TrainingStage.EVALUATING, TrainingStage.SAVING):
            bar.finish()
            out.write(f"{progress.message}\n")

    result = train_model(config, models_dir=args.out, progress=report)
    metrics = result.metrics
    calibrated = metrics.get("calibrated", metrics)
    auc, interval = calibrated.get("roc_auc"), calibrated.get("roc_auc_ci")
    auc_text = "n/a (one class in the test split)" if auc is None else f"{auc:.3f}"
    if auc is not None and interval:
        auc_text += f" (95 % interval {interval[0]:.3f}–{interval[1]:.3f})"
    usability = judge_usability(metrics)
    verdict = "usable" if usability.usable else f"NOT USABLE: {usability.reason}"
    out.write(
        f"\nsaved {result.model_folder} ({result.examples} slices, {result.seconds:.0f} s)\n"
        f"test: AUC {auc_text}  accuracy {calibrated.get('accuracy'):.3f}  "
        f"balanced accuracy {calibrated.get('balanced_accuracy'):.3f}  "
        f"ECE {metrics.get('ece_calibrated', metrics.get('ece')):.3f}\n"
        f"quality gate: {verdict}\n"
        f"report: {result.model_folder / 'report'}\n"
    )
    return EXIT_OK


def command_models(out: TextIO) -> int:
    from spineview.models.catalogue import list_models
    from spineview.models.model_text import model_listing

    models, problems = list_models()
    if not models:
        out.write("no models found\n")
    for info in models:
        out.write(model_listing(info) + "\n")
    for problem in problems:
        out.write(f"problem: {problem}\n")
    return EXIT_OK


def command_fit_check(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Fit and store the post-hoc parts of an existing model (weights untouched): its
    in-distribution check and, for a network without dropout, its head posterior."""
    from spineview.ml.post_hoc_fit import fit_post_hoc_for_folder
    from spineview.models.catalogue import attach_fitted, find_model

    info = find_model(args.model)
    err.write(f"fitting the distribution check of {info.manifest.name} on {args.dataset}\n")
    fitted, agreement = fit_post_hoc_for_folder(info.path, args.dataset)
    manifest = attach_fitted(info.path, fitted)
    check = fitted.distribution
    if check is not None:
        quantiles = check.validation_quantiles
        out.write(
            f"{manifest.name}: distribution check fitted on {check.fitted_slices} training "
            f"slices; threshold {check.threshold:.2f} ({check.percentile:g}th percentile of "
            f"{check.validation_slices} validation slices; median {quantiles['50']:.2f}); "
            f"{agreement}\n"
        )
    posterior = fitted.posterior
    if posterior is not None:
        out.write(
            f"{manifest.name}: last-layer posterior fitted on {posterior.fitted_slices} "
            f"training slices (prior precision {posterior.prior_precision:.3g})\n"
        )
    return EXIT_OK


def command_measure_heatmaps(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Measure the heatmap methods of a model and keep the figures in its report."""
    from spineview.bench.gradcam import record_heatmap_figures
    from spineview.models.catalogue import find_model
    from spineview.models.model_text import heatmap_lines

    info = find_model(args.model)
    err.write(f"measuring the heatmaps of {info.manifest.name} on {args.studies} studies\n")
    summary = record_heatmap_figures(
        info.path, studies=args.studies, seed=args.seed, max_slices=args.max_slices
    )
    out.write("\n".join(heatmap_lines(summary)) + "\n")
    return EXIT_OK


def command_classify(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Classify every series; a summary per series on stdout, progress and warnings on
    stderr, results to --out and heatmaps to --gradcam."""
    from spineview.classify_tree import check_outputs_outside, classify_paths, write_results
    from spineview.ml.inference import Classifier
    from spineview.models.catalogue import find_model
    from spineview.models.verdict import rule_text

    if args.out is not None and args.out.suffix.lower() not in (".csv", ".json"):
        print(f"spineview classify: {args.out}: --out must end in .csv or .json", file=err)
        return EXIT_ERROR
    check_outputs_outside(args.paths, [args.out, args.gradcam])
    _check_writable([args.out.parent if args.out is not None else None, args.gradcam])
    info = find_model(args.model)
    err.write(f"loading model {info.manifest.name} ({info.path})\n")
    classifier = Classifier.load(info.path)
    if info.manifest.demo_notice:
        err.write(f"note: {info.manifest.name} is a {info.manifest.demo_notice}\n")
    report = classify_paths(
        args.paths,
        classifier,
        gradcam_dir=args.gradcam,
        gradcam_method=HeatmapMethod(args.method),
        healthy_maps=args.healthy_maps,
        report=lambda line: print(line, file=err, flush=True),
        skip_incompatible=args.skip_incompatible,
        force=args.force,
    )
    for result in report.series:
        out.write(
            f"{result.study_uid}  {result.label:32s} {result.series_type:17s} "
            f"{len(result.predictions):3d} slices  {result.decision.label:8s}  "
            f"{series_summary(result)}{'  [warning]' if result.warnings else ''}\n"
        )
        for reason in result.decision.reasons:
            out.write(f"    {result.decision.status}: {reason}\n")
    if report.series:
        out.write(f"rule: {rule_text(report.neighbours, report.threshold)}\n")
    for warning in dict.fromkeys(report.warnings):  # split stacks of a series warn alike
        out.write(f"warning: {warning}\n")
    for problem in report.problems:
        out.write(f"problem: {problem}\n")
    if args.out is not None:
        write_results(report, args.out)
        err.write(f"results written to {args.out}\n")
    if not report.series:
        out.write("no series classified\n")
        return EXIT_NO_IMAGES
    return EXIT_OK


def series_summary(result: SeriesResult) -> str:
    """A classified series' verdict in words, without claiming certainty: class, score, how
    many slices reach the threshold and how many uncertainty samples agree."""
    verdict = result.verdict
    if not result.shows_verdict:
        return "no verdict (declined; --force gives it anyway)"
    if not result.verdict_class:
        return "no result"
    text = (
        f"{result.verdict_class}  score {format_probability(verdict.score)} "
        f"({verdict.slices_above} slices reach {format_probability(verdict.threshold)})"
    )
    if math.isfinite(result.agreement):
        method = result.predictions.uncertainty_method
        text += f", {format_probability(result.agreement)} of {method} samples agree"
    return text


def _check_writable(folders: Sequence[Path | None]) -> None:
    """Create the output folders now and fail before a long run, not after it."""
    for folder in folders:
        if folder is None:
            continue
        folder.mkdir(parents=True, exist_ok=True)
        if not os.access(folder, os.W_OK):
            raise OSError(f"{folder}: cannot write results here (permission denied)")


def command_synth(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from spineview.data.montage import write_montage
    from spineview.data.synth import SynthOptions, synthesize

    if args.out is None and args.preview is None:
        print("spineview synth: give an output folder (or --preview PNG)", file=err)
        return EXIT_ERROR
    options = SynthOptions(
        studies=args.studies, seed=args.seed, size=args.size, difficulty=args.difficulty,
        fov_shift_mm=args.fov_shift,
    )  # fmt: skip
    progress = TerminalProgress(err, label="generating studies", unit="studies")
    with tempfile.TemporaryDirectory(prefix="spineview-synth-") as scratch:
        target = args.out if args.out is not None else Path(scratch) / "studies"
        started = time.perf_counter()
        results = synthesize(target, options, workers=args.workers, progress=progress)
        progress.finish()
        seconds = time.perf_counter() - started
        series = sum(len(result.series) for result in results)
        where = target if args.out is not None else "a temporary folder"
        out.write(
            f"{len(results)} studies, {series} series written to {where} in {seconds:.1f} s\n"
        )
        if args.preview is not None:
            write_montage(target, args.preview)
            out.write(f"montage: {args.preview}\n")
    return EXIT_OK


_COLUMNS = (
    "#",
    "Series description",
    "Type",
    "Plane",
    "Slices",
    "Matrix",
    "Spacing mm",
    "Transfer syntax",
    "Problems",
)


def write_table(result: ScanResult, out: TextIO, *, all_problems: bool = False) -> None:
    for study in result.studies:
        folder = _common_folder(study)
        date = format_dicom_date(study.study_date) or "(no date)"
        description = study.description or "(no description)"
        out.write(f"\nStudy {date}  {description}  [{len(study.series)} series]  in {folder}\n")
        rows = [_COLUMNS, *(_series_row(series) for series in study.series)]
        widths = [max(len(row[i]) for row in rows) for i in range(len(_COLUMNS))]
        for row in rows:
            out.write(
                "  "
                + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
                + "\n"
            )
    _write_file_list(out, "Problems", result.problems, all_problems)
    _write_file_list(out, "DICOM objects without images", result.non_images, all_problems)
    out.write(
        f"\n{result.files_seen} files: {result.series_count} series in {len(result.studies)} "
        f"studies, {len(result.problems)} problems, {len(result.non_images)} objects without "
        f"images, {result.skipped_non_dicom} non-DICOM files skipped ({result.seconds:.2f} s)\n"
    )


def _common_folder(study: StudyInfo) -> str:
    folders = {str(path.parent) for series in study.series for path in series.files}
    return os.path.commonpath(sorted(folders)) if folders else "?"


def _write_file_list(out: TextIO, title: str, items: Sequence[Any], everything: bool) -> None:
    if not items:
        return
    limit = len(items) if everything else 20
    out.write(f"\n{title} ({len(items)}):\n")
    for item in items[:limit]:
        out.write(f"  {item.path}: {item.reason}\n")
    if len(items) > limit:
        out.write(f"  ... {len(items) - limit} more (use --all-problems)\n")


def _series_row(series: SeriesInfo) -> tuple[str, ...]:
    first = series.first
    spacing = first.pixel_spacing
    spacing_text = f"{spacing[0]:.2f}×{spacing[1]:.2f}" if spacing else "-"
    if series.order_uncertain:
        spacing_text += " (order?)"
    problems = [*series.notes]
    if series.order_uncertain:
        problems.append(series.order_note)
    syntaxes = series.transfer_syntaxes
    return (
        "" if series.series_number is None else str(series.series_number),
        short_description(series.description or "(none)"),
        series.series_type.label,
        series.plane or "-",
        str(series.n_slices),
        "{}×{}".format(*series.matrix),
        spacing_text,
        (syntaxes[0] if len(syntaxes) == 1 else f"{len(syntaxes)} syntaxes")[:38],
        "; ".join(problems)[:80] or "-",
    )


def short_description(text: str, width: int = 40) -> str:
    """`text` cut to `width` characters, keeping a trailing "(time point k of n)" whole: it is
    what tells the stacks of a split time series apart."""
    if len(text) <= width:
        return text
    base, bracket, suffix = text.rpartition(" (time point ")
    if not bracket:
        return text[: width - 1] + "…"
    tail = bracket + suffix
    return base[: max(width - len(tail) - 1, 1)] + "…" + tail


def scan_to_json(result: ScanResult) -> dict[str, Any]:
    return {
        "roots": [str(p) for p in result.roots],
        "files_seen": result.files_seen,
        "non_dicom_skipped": result.skipped_non_dicom,
        "seconds": round(result.seconds, 3),
        "studies": [_study_json(study) for study in result.studies],
        "problems": [
            {"path": str(p.path), "kind": p.kind, "reason": p.reason} for p in result.problems
        ],
        "objects_without_images": [
            {"path": str(p.path), "reason": p.reason} for p in result.non_images
        ],
    }


def _study_json(study: StudyInfo) -> dict[str, Any]:
    return {
        "study_uid": study.study_uid,
        "study_date": study.study_date,
        "description": study.description,
        "series": [_series_json(series) for series in study.series],
    }


def _series_json(series: SeriesInfo) -> dict[str, Any]:
    first = series.first
    return {
        "key": series.key,
        "series_uid": series.series_uid,
        "series_number": series.series_number,
        "description": series.description,
        "modality": series.modality,
        "type": series.series_type.label,
        "type_reason": series.series_type.reason,
        "plane": series.plane,
        "obliquity_degrees": round(series.obliquity, 1),
        "slices": series.n_slices,
        "files": len(series.files),
        "matrix": list(series.matrix),
        "pixel_spacing_mm": list(first.pixel_spacing) if first.pixel_spacing else None,
        "slice_thickness_mm": first.slice_thickness,
        "transfer_syntaxes": series.transfer_syntaxes,
        "photometric": first.photometric,
        "order_uncertain": series.order_uncertain,
        "order_note": series.order_note,
        "time_point": (
            {"index": series.time_point[0], "of": series.time_point[1]}
            if series.time_point
            else None
        ),
        "notes": series.notes,
    }

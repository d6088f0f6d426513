"""Test the bundled demo models on fresh synthetic studies, with bootstrap 95 % intervals.

The bundled models were trained by `spineview train` on synthetic studies from `spineview synth`,
but their manifests do not record how those studies were drawn, so their own test split cannot
be rebuilt exactly. (The study IDs in cnn-demo's report/misclassified.png come from seed 2024,
and `spineview synth --studies 320 --seed 2024` gives labels that agree with every slice shown
there, but 4,920 labelled slices where training had 4,925 and a different grouped split; which
code state drew the training studies is unknown.) A test set the model has never seen is as
good a test and can be drawn again at will: this script draws `--studies` studies with a seed
the training did not use, labels their slices by each manifest's slice rule, predicts them with
the bundled weights (in the manifest's training precision), and writes `evaluation_report(...)`
-- point estimates, bootstrap intervals (whole studies resampled) and predicted-class counts,
with the manifest's calibration temperature -- into the manifest's `metrics`, with a `test_set`
entry saying where the figures come from. Nothing else changes: weights, their sha256, the
temperature and the training summary stay as they are; the manifest gains the quality gate's
"usable" and "usability_reason", as every saved manifest does.

Run it from the repository root (a few minutes on 2 cores):

    .venv/bin/python packaging/evaluate_bundled_models.py            # draw, evaluate, write
    .venv/bin/python packaging/evaluate_bundled_models.py --dry-run  # evaluate, write nothing
    .venv/bin/python packaging/evaluate_bundled_models.py --data DIR # studies drawn already

After retraining a bundled model, rerun it; if the new training studies were drawn with
`EVALUATION_SEED`, pass another `--seed` (the test studies must be ones the model never saw).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

BUNDLED = ("cnn-demo", "resnet50-demo")
EVALUATION_STUDIES = 64
EVALUATION_SEED = 9001
"""The bundled models were trained on studies drawn with seed 2024; these are others."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, help="test studies drawn already (RSNA layout)")
    parser.add_argument("--studies", type=int, default=EVALUATION_STUDIES)
    parser.add_argument("--seed", type=int, default=EVALUATION_SEED)
    parser.add_argument("--models", nargs="+", default=list(BUNDLED), help="bundled model names")
    parser.add_argument("--dry-run", action="store_true", help="evaluate, write nothing")
    parser.add_argument("--precision", help="Keras dtype policy (default: the manifest's)")
    parser.add_argument("--workers", type=int, default=None, help="synth processes")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="spineview-bundled-eval-") as scratch:
        if args.data is not None:
            data, test_set = args.data, _described(args.data, None, None)
        else:
            data = _synthesize(Path(scratch) / "studies", args.studies, args.seed, args.workers)
            test_set = _described(None, args.studies, args.seed)
        for name in args.models:
            _evaluate_one(name, data, test_set, args)
    return 0


def _described(folder: Path | None, studies: int | None, seed: int | None) -> dict[str, Any]:
    if folder is not None:
        text = f"synthetic studies in {folder.name}, drawn apart from the training studies"
        return {"source": "spineview synth", "description": text}
    return {
        "source": "spineview synth",
        "studies": studies,
        "seed": seed,
        "description": (
            f"{studies} fresh synthetic studies (spineview synth, seed {seed}), none of them "
            "seen in training; the training run's own test split could not be rebuilt"
        ),
    }


def _synthesize(target: Path, studies: int, seed: int, workers: int | None) -> Path:
    from spineview.data.synth import SynthOptions, synthesize

    print(f"drawing {studies} synthetic studies (seed {seed}) in {target} ...", flush=True)
    started = time.perf_counter()
    synthesize(target, SynthOptions(studies=studies, seed=seed), workers=workers)
    print(f"  done in {time.perf_counter() - started:.0f} s", flush=True)
    return target


def _evaluate_one(
    name: str, data: Path, test_set: dict[str, Any], args: argparse.Namespace
) -> None:
    from spineview.data.examples import collect_examples, decode_examples
    from spineview.data.slice_examples import SliceRule
    from spineview.ml.store import load_model
    from spineview.ml.train import predict_probabilities
    from spineview.models.catalogue import MANIFEST_FILE_NAME, bundled_models_dir, read_manifest
    from spineview.models.metrics import evaluation_report
    from spineview.models.quality_gate import judge_usability

    started = time.perf_counter()
    folder = bundled_models_dir() / name
    before = read_manifest(folder)
    precision = args.precision or before.precision
    # Checks the weights' sha256 against the manifest; builds in the training precision.
    model, manifest = load_model(folder, precision=precision)
    rule = SliceRule(**manifest.training.get("rule_parameters", {}))
    examples = collect_examples(data, rule)
    images, labels, kept = decode_examples(examples, scaling=manifest.intensity_scaling)
    probability = predict_probabilities(model, images, manifest.channels)
    # Whole studies are resampled: the slices of one study are far from independent.
    metrics = evaluation_report(
        labels, probability, manifest.temperature, manifest.threshold, groups=kept.groups
    )
    metrics["test_set"] = {**test_set, "studies_with_slices": len(set(kept.groups))}

    _print_comparison(name, manifest.metrics, metrics, precision, time.perf_counter() - started)
    verdict = judge_usability(metrics, manifest.class_names)
    print(f"  quality gate: {'usable' if verdict.usable else 'NOT USABLE'}: {verdict.reason}")
    if args.dry_run:
        return
    updated = dataclasses.replace(manifest, metrics=json.loads(json.dumps(metrics)))
    path = folder / MANIFEST_FILE_NAME
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(updated.to_json() + "\n", encoding="utf-8")
    os.replace(temporary, path)
    print(f"  wrote {path}", flush=True)


def _print_comparison(
    name: str, old: dict[str, Any], new: dict[str, Any], precision: str, seconds: float
) -> None:
    part, studies = new["calibrated"], new["test_set"]["studies_with_slices"]
    print(f"{name}: {part['n']} test slices, {part['positives']} positive, from {studies} "
          f"studies ({precision}, {seconds:.0f} s)")  # fmt: skip
    rows = (
        ("ROC AUC", "roc_auc"),
        ("balanced accuracy", "balanced_accuracy"),
        ("sensitivity", "recall"),
        ("specificity", "specificity"),
    )
    for label, key in rows:
        interval = part.get(f"{key}_ci")
        interval_text = f"{interval[0]:.3f}-{interval[1]:.3f}" if interval else "none"
        print(f"  {label:18s} {_figure(new['calibrated'][key])} (95 % interval "
              f"{interval_text}); before: {_figure(_old(old, key))}")  # fmt: skip
    print(f"  predicted: {part['predicted_negatives']} negative, "
          f"{part['predicted_positives']} positive")  # fmt: skip


def _old(metrics: dict[str, Any], key: str) -> Any:
    part = metrics.get("calibrated", metrics)
    return part.get(key) if isinstance(part, dict) else None


def _figure(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) and math.isfinite(value) else "-"


if __name__ == "__main__":
    sys.exit(main())

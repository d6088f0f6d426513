"""Command-line options shared by the training commands of the different tasks."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

SLICE_ONLY_OPTIONS = (
    "recipe", "start_from", "freeze_features", "arch", "augmentation", "max_examples",
    "patience", "imagenet_weights",
)  # fmt: skip
"""`spineview train` options that only a slice classifier's training reads."""
_PARSER_DEFAULTS = {"recipe": "default", "freeze_features": False}


def slice_only_options_given(args: argparse.Namespace) -> str:
    """The slice-classifier options given on the command line ("--arch, --recipe"), or ""."""
    given = [
        name for name in SLICE_ONLY_OPTIONS
        if getattr(args, name, None) not in (None, _PARSER_DEFAULTS.get(name))
    ]  # fmt: skip
    return ", ".join("--" + name.replace("_", "-") for name in given)


def refuse_levels_model(args: argparse.Namespace, err: TextIO) -> bool:
    """True (the reason on `err`) when --levels-model is given to a task that does not read
    it: only a grading model's training places crops with a level model."""
    if getattr(args, "levels_model", None) is None:
        return False
    print("spineview train: --levels-model only applies to --task grades", file=err)
    return True


def task_training_fields(
    args: argparse.Namespace, err: TextIO, tuned: tuple[str, ...]
) -> dict[str, Any] | None:
    """The config fields of a level or grading model's training from the command line: the
    dataset, name, model folder (`--out` or the user models folder), seed, precision, demo
    flag and the `tuned` options given; None (the reason on `err`) when a slice-classifier
    option was given or the name is not usable."""
    from spineview.models.catalogue import user_model_folder

    given = slice_only_options_given(args)
    if given:
        print(f"spineview train: {given} only apply to --task slices", file=err)
        return None
    folder = user_model_folder(args.name)  # checks the name
    if args.out is not None:
        folder = Path(args.out) / args.name
    fields: dict[str, Any] = {
        "dataset": args.dataset, "name": args.name, "out": folder, "seed": args.seed,
        "precision": args.precision, "demo": args.demo,
    }  # fmt: skip
    fields.update({name: getattr(args, name) for name in tuned if getattr(args, name) is not None})
    return fields


def line_printer(out: TextIO) -> Callable[[str, float], None]:
    """A training progress callback that prints each message as a line."""

    def report(what: str, _fraction: float) -> None:
        out.write(what + "\n")
        out.flush()

    return report

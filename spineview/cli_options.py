"""Command-line options shared by the training commands of the different tasks."""

from __future__ import annotations

import argparse

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

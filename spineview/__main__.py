"""Entry point: `spineview ...` and `python -m spineview ...`.

Sets up logging (a rotating file in the user log folder; the console only with --verbose) and
guards against frozen windowed builds that have no stdout/stderr. Qt is imported only by the
GUI, TensorFlow only by the commands that need it.
"""

from __future__ import annotations

import logging
import logging.handlers
import multiprocessing
import os
import sys
import warnings
from collections.abc import Sequence

from spineview.paths import user_log_dir


def _guard_frozen_stdio() -> None:
    """Windowed PyInstaller builds have sys.stdout/stderr set to None: give them a sink."""
    for name in ("stdout", "stderr"):
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, "w", encoding="utf-8"))  # noqa: SIM115


def setup_logging(verbose: bool) -> None:
    root = logging.getLogger()
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        log_dir = user_log_dir()
        log_dir.mkdir(parents=True, exist_ok=True)
        file_handler = logging.handlers.RotatingFileHandler(
            log_dir / "spineview.log", maxBytes=2_000_000, backupCount=3, encoding="utf-8"
        )
        file_handler.setFormatter(formatter)
        root.addHandler(file_handler)
    except OSError:
        pass  # a read-only home must not stop the program; the console handler still works
    console = logging.StreamHandler(sys.stderr)
    console.setLevel(logging.DEBUG if verbose else logging.ERROR)
    console.setFormatter(formatter)
    root.addHandler(console)
    # pydicom warns on every odd header value; spineview reports those itself, per file.
    warnings.filterwarnings("ignore", module=r"pydicom(\.|$)")
    logging.getLogger("pydicom").setLevel(logging.ERROR)


def main(argv: Sequence[str] | None = None) -> int:
    # A frozen app starts its decoder processes' fork server by running itself again.
    multiprocessing.freeze_support()
    _guard_frozen_stdio()
    arguments = list(sys.argv[1:] if argv is None else argv)
    setup_logging(verbose="-v" in arguments or "--verbose" in arguments)
    if "--self-test" in arguments:
        return self_test()
    from spineview.cli import COMMANDS, build_gui_parser, run

    first = next((a for a in arguments if a not in ("-v", "--verbose")), "")
    if first in COMMANDS or first in ("-h", "--help", "--version"):  # `spineview -v info ...`
        try:
            return run(arguments)
        except BrokenPipeError:  # `spineview info DIR | head`: the reader left, not an error
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())  # keep Python's exit flush quiet
            return 1
    options = build_gui_parser().parse_args(arguments)
    from spineview.app import run_gui

    return run_gui(options.paths, demo=options.demo)


def self_test() -> int:
    """`spineview --self-test`: exit 0 with a one-line summary, or 1 naming what failed. The
    line also goes to self-test.txt in the log folder: a windowed frozen app has no console."""
    from spineview.selftest import run_self_test

    result = run_self_test()
    line = result.summary()
    print(line, flush=True)
    try:
        log_dir = user_log_dir()
        log_dir.mkdir(parents=True, exist_ok=True)
        (log_dir / "self-test.txt").write_text(line + "\n", encoding="utf-8")
    except OSError:
        pass  # the exit status still says it
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""Benchmarks printed by `spineview bench ...` (figures, never pass/fail)."""

from __future__ import annotations

import os
import platform
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pydicom

from spineview.dicom.decode import decode_frame
from spineview.dicom.scan import scan_paths
from spineview.dicom.write import SeriesSpec, write_series

SLICES_PER_SERIES = 200


def bench_scan(files: int = 2000, matrix: int = 256, repeats: int = 3) -> dict[str, Any]:
    """Header index speed on a generated MR folder, against a bare pydicom loop in the same run.

    Both read warm files (the folder was just written); each figure is the best of `repeats`.
    """
    with tempfile.TemporaryDirectory(prefix="spineview-bench-") as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        paths = _write_folder(root, files, matrix)
        write_seconds = time.perf_counter() - started

        bare = min(_time_bare_loop(paths) for _ in range(repeats))
        index_times, first_slice_times = [], []
        series_count = 0
        for _ in range(repeats):
            seconds, first_slice, series_count = _time_index(root)
            index_times.append(seconds)
            first_slice_times.append(first_slice)
        index = min(index_times)
    return {
        "benchmark": "scan",
        "files": len(paths),
        "matrix": matrix,
        "series": series_count,
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "pydicom": pydicom.__version__,
        "write_seconds": round(write_seconds, 2),
        "bare_dcmread_files_per_s": round(len(paths) / bare, 1),
        "header_index_files_per_s": round(len(paths) / index, 1),
        "speedup_vs_bare": round(bare / index, 2),
        "index_seconds": round(index, 3),
        "first_slice_decoded_seconds": round(min(first_slice_times), 3),
        "note": "index = scan + group + sort + classify; first slice = scan start to the first "
        "slice of the first series decoded",
    }


def _write_folder(root: Path, files: int, matrix: int) -> list[Path]:
    """`files` MR slices in series of 200, sagittal and axial alternating, shuffled names."""
    paths: list[Path] = []
    series_number = 0
    while len(paths) < files:
        series_number += 1
        count = min(SLICES_PER_SERIES, files - len(paths))
        spec = SeriesSpec(
            n_slices=count,
            rows=matrix,
            cols=matrix,
            plane="sagittal" if series_number % 2 else "axial",
            series_number=series_number,
            description=f"BENCH SERIES {series_number}",
            study_uid=pydicom.uid.generate_uid(entropy_srcs=["bench-study"]),
        )
        paths += write_series(
            root / f"series{series_number:03d}",
            replace(spec),
            seed=series_number,
            naming="shuffled",
        )
    return paths


def _time_bare_loop(paths: list[Path]) -> float:
    started = time.perf_counter()
    for path in paths:
        pydicom.dcmread(path, stop_before_pixels=True)
    return time.perf_counter() - started


def _time_index(root: Path) -> tuple[float, float, int]:
    started = time.perf_counter()
    result = scan_paths([root])
    indexed = time.perf_counter() - started
    first_series = result.studies[0].series[0]
    decode_frame(first_series.slices[0].header, first_series.slices[0].frame)
    first_slice = time.perf_counter() - started
    return indexed, first_slice, result.series_count


def bench_ui(files: int = 2000, matrix: int = 256) -> dict[str, Any]:
    """Event-loop stalls while the main window opens a generated folder.

    A 10 ms heartbeat timer runs on the GUI thread; the longest gap between its ticks is the
    longest time the window was frozen. Runs offscreen unless a display is available.
    """
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    imports_started = time.perf_counter()
    from PySide6.QtCore import QElapsedTimer, QTimer

    from spineview.config import Config
    from spineview.ui.application import create_application
    from spineview.ui.garbage_collection import GuiGarbageCollector
    from spineview.ui.main_window import MainWindow

    after_imports = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="spineview-bench-ui-") as tmp:
        paths = _write_folder(Path(tmp), files, matrix)
        started = time.perf_counter()
        application = create_application()
        window = MainWindow(Config())
        window.show()
        application.processEvents()
        window_shown = time.perf_counter() - started
        imports_to_window = time.perf_counter() - imports_started - (started - after_imports)

        clock = QElapsedTimer()
        gaps: list[float] = []
        marks: dict[str, float] = {}

        def heartbeat() -> None:
            gaps.append(clock.restart() / 1000.0)

        def watch() -> None:
            elapsed = time.perf_counter() - load_started
            if "first_image" not in marks and window.active.view.series is not None:
                marks["first_image"] = elapsed
            if "scan" not in marks and window.session.scan_result is not None:
                marks["scan"] = elapsed
            finished = window.session.scan_result is not None and window.runner.running() == 0
            if finished or elapsed > 600:
                marks["all"] = elapsed if finished else -1.0
                stop()

        def stop() -> None:
            # Quitting runs a full garbage collection (GuiGarbageCollector.collect_everything,
            # ~0.3 s with TensorFlow loaded): that is the app closing, not a stall while loading.
            beat.stop()
            poll.stop()
            marks["longest_collection"] = GuiGarbageCollector.install(application).longest_seconds
            application.quit()

        beat = QTimer()
        beat.timeout.connect(heartbeat)
        poll = QTimer()
        poll.timeout.connect(watch)
        load_started = time.perf_counter()
        window.open_paths([Path(tmp)])
        clock.start()
        beat.start(10)
        poll.start(20)
        application.exec()
        window.close()
    return _ui_figures(len(paths), matrix, window_shown, imports_to_window, gaps, marks)


def _ui_figures(
    files: int,
    matrix: int,
    window_shown: float,
    imports_to_window: float,
    gaps: list[float],
    marks: dict[str, float],
) -> dict[str, Any]:
    intervals = sorted(gaps[1:]) or [0.0]
    return {
        "benchmark": "ui",
        "files": files,
        "matrix": matrix,
        "window_shown_seconds": round(window_shown, 3),
        "gui_imports_and_window_seconds": round(imports_to_window, 3),
        "first_image_seconds": round(marks.get("first_image", -1.0), 3),
        "scan_finished_seconds": round(marks.get("scan", -1.0), 3),
        "all_done_seconds": round(marks.get("all", -1.0), 3),
        "heartbeats": len(intervals),
        "longest_stall_ms": round(intervals[-1] * 1000, 1),
        "p99_interval_ms": round(intervals[int(0.99 * (len(intervals) - 1))] * 1000, 1),
        "longest_garbage_collection_ms": round(marks.get("longest_collection", -0.001) * 1000, 1),
        "note": "longest_stall_ms = longest gap between ticks of a 10 ms timer on the GUI "
        "thread from opening the folder until scan, first series load and thumbnails end (the full "
        "garbage collection at quit is not counted); longest_garbage_collection_ms = the longest "
        "collection in that time, on any thread; "
        "gui_imports_and_window_seconds = importing Qt, pyqtgraph and the UI, then showing "
        "the window (launch adds Python start-up, see `time spineview --version`)",
    }


def bench_load(files: int = 400, matrix: int = 512, repeats: int = 2) -> dict[str, Any]:
    """Series load time for JPEG 2000 files: decoder processes against decoding in-process.

    The generated MR folder is written as JPEG 2000 Lossless (OpenJPEG, a codec that runs in
    the decoder processes; RLE, deflated and native data never do), then every series is
    loaded (`load_series`) with each setting; the figure is the best of `repeats` after one
    warm-up load (the fork server and its workers started).
    """
    from pydicom.uid import JPEG2000Lossless

    from spineview.dicom.decoder_pool import DecoderPool, using_decoder_pool
    from spineview.dicom.load import load_series

    report: dict[str, Any] = {"benchmark": "load", "files": files, "matrix": matrix}
    with tempfile.TemporaryDirectory(prefix="spineview-bench-load-") as tmp:
        plain = _write_folder(Path(tmp) / "plain", files, matrix)
        root = Path(tmp) / "jpeg2000"
        _compress_copies(plain, Path(tmp) / "plain", root, JPEG2000Lossless)
        series = [info for study in scan_paths([root]).studies for info in study.series]
        for setting, pool in (
            ("in_process", DecoderPool(processes=False)),
            ("decoder_processes", DecoderPool()),
        ):
            with using_decoder_pool(pool):
                times = []
                for _ in range(repeats + 1):
                    started = time.perf_counter()
                    for info in series:
                        load_series(info)
                    times.append(time.perf_counter() - started)
                report[f"jpeg2000_{setting}_seconds"] = round(min(times[1:]), 3)
                report[f"jpeg2000_{setting}_workers"] = pool.status().workers
        report["jpeg2000_speedup"] = round(
            report["jpeg2000_in_process_seconds"] / report["jpeg2000_decoder_processes_seconds"],
            2,
        )
    report["cpu_count"] = os.cpu_count()
    report["note"] = (
        "seconds to load every series of the folder (decode + store), best of the repeats; "
        "in_process = compressed data decoded in the loading thread (no crash isolation)"
    )
    return report


def _compress_copies(paths: list[Path], source_root: Path, target_root: Path, syntax: str) -> None:
    for path in paths:
        ds = pydicom.dcmread(path)
        ds.compress(syntax)
        target = target_root / path.relative_to(source_root)
        target.parent.mkdir(parents=True, exist_ok=True)
        ds.save_as(target, enforce_file_format=True)


def bench_synth(studies: int = 100, size: int = 256) -> dict[str, Any]:
    """Synthetic study generation speed (all cores), default options."""
    from spineview.data.synth import SynthOptions, synthesize

    with tempfile.TemporaryDirectory(prefix="spineview-bench-synth-") as tmp:
        started = time.perf_counter()
        results = synthesize(Path(tmp) / "studies", SynthOptions(studies=studies, size=size))
        seconds = time.perf_counter() - started
        files = sum(1 for _ in (Path(tmp) / "studies").rglob("*.dcm"))
    return {
        "benchmark": "synth",
        "studies": len(results),
        "dicom_files": files,
        "size": size,
        "cpu_count": os.cpu_count(),
        "seconds": round(seconds, 1),
        "studies_per_minute": round(60 * len(results) / seconds, 1),
    }


def bench_train(studies: int = 40, epochs: int = 10, max_examples: int = 640) -> dict[str, Any]:
    """Training throughput of the reference CNN three ways (see spineview.bench.train),
    over as many epochs as the default recipe trains, so decoding and tracing weigh in them as
    they do in a user's run."""
    from spineview.bench.train import measure_training_throughput

    return measure_training_throughput(studies=studies, epochs=epochs, max_examples=max_examples)


def bench_learn(
    studies: int = 200,
    test_studies: int = 60,
    epochs: int = 10,
    recipes: Sequence[str] = ("default", "reference", "light-augmentation"),
    cells: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Test ROC AUC of training recipes on unfamiliar data (spineview.bench.learn); the
    table goes to stderr as each cell ends, the JSON report is returned."""
    from spineview.bench.learn import bench_learn as measure
    from spineview.bench.learn import learn_table

    def step(text: str) -> None:
        print(f"bench learn: {text}", file=sys.stderr, flush=True)

    report = measure(
        studies=studies,
        test_studies=test_studies,
        epochs=epochs,
        recipes=recipes,
        cells=cells,
        progress=step,
    )
    report["table"] = learn_table(report)
    print(report["table"], file=sys.stderr)
    return report


def bench_infer(studies: int = 6, model: str = "cnn-demo") -> dict[str, Any]:
    """Series classification end to end against raw float32 Keras (spineview.bench.infer)."""
    from spineview.bench.infer import measure_inference

    return {**measure_inference(studies=studies, model=model), "cpu_count": os.cpu_count()}


def bench_gradcam(
    studies: int = 12, max_slices: int = 200, model: str = "cnn-demo"
) -> dict[str, Any]:
    """Grad-CAM localisation and cost (spineview.bench.gradcam)."""
    from spineview.bench.gradcam import measure_gradcam
    from spineview.models.catalogue import find_model

    folder = find_model(model).path
    result = measure_gradcam(studies=studies, max_slices=max_slices, model_folder=folder)
    return {**result, "cpu_count": os.cpu_count()}


def bench_levels(studies: int = 20, model: str = "levels-demo") -> dict[str, Any]:
    """Level model error and speed on fresh synthetic studies (spineview.bench.levels)."""
    from spineview.bench.levels import measure_levels
    from spineview.models.catalogue import find_model

    return {**measure_levels(studies, find_model(model).path), "cpu_count": os.cpu_count()}


def bench_grade(
    studies: int = 10, model: str = "grades-demo", levels_model: str = "levels-demo"
) -> dict[str, Any]:
    """Grading speed and training throughput (spineview.bench.grades)."""
    from spineview.bench.grades import measure_grading
    from spineview.models.catalogue import find_model

    folder, levels = find_model(model).path, find_model(levels_model).path
    return {**measure_grading(studies, folder, levels), "cpu_count": os.cpu_count()}

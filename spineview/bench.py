"""Benchmarks printed by `spineview bench ...` (figures, never pass/fail)."""

from __future__ import annotations

import os
import platform
import tempfile
import time
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
    from spineview.ui.main_window import MainWindow

    after_imports = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="spineview-bench-ui-") as tmp:
        root = Path(tmp)
        paths = _write_folder(root, files, matrix)
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
            if "scan" not in marks and window.scan_result is not None:
                marks["scan"] = elapsed
            if window.scan_result is not None and window.runner.running() == 0:
                marks["all"] = elapsed
                application.quit()
            elif elapsed > 600:
                application.quit()

        beat = QTimer()
        beat.timeout.connect(heartbeat)
        poll = QTimer()
        poll.timeout.connect(watch)
        load_started = time.perf_counter()
        window.open_paths([root])
        clock.start()
        beat.start(10)
        poll.start(20)
        application.exec()
        beat.stop()
        poll.stop()
        window.close()
    intervals = sorted(gaps[1:]) or [0.0]
    return {
        "benchmark": "ui",
        "files": len(paths),
        "matrix": matrix,
        "window_shown_seconds": round(window_shown, 3),
        "gui_imports_and_window_seconds": round(imports_to_window, 3),
        "first_image_seconds": round(marks.get("first_image", -1.0), 3),
        "scan_finished_seconds": round(marks.get("scan", -1.0), 3),
        "all_done_seconds": round(marks.get("all", -1.0), 3),
        "heartbeats": len(intervals),
        "longest_stall_ms": round(intervals[-1] * 1000, 1),
        "p99_interval_ms": round(intervals[int(0.99 * (len(intervals) - 1))] * 1000, 1),
        "note": "longest_stall_ms = longest gap between ticks of a 10 ms timer on the GUI "
        "thread from opening the folder until scan, first series load and thumbnails end; "
        "gui_imports_and_window_seconds = importing Qt, pyqtgraph and the UI, then showing "
        "the window (launch adds Python start-up, see `time spineview --version`)",
    }


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


def bench_train(studies: int = 16, epochs: int = 2, max_examples: int = 384) -> dict[str, Any]:
    """Training throughput of the reference CNN, three ways, on the same slices.

    (a) reference-style: every slice decoded into memory first, ImageDataGenerator-like random
        affine augmentation per image in numpy, float32 `train_on_batch`;
    (b) spineview's pipeline end to end: decode once into the cache, tf.data + Keras
        augmentation layers, `fit` in the precision spineview picks;
    (c) a bare train step on the cached tensors in that precision (no augmentation).
    images/s = epochs × slices / wall time, decode included for (a) and (b).
    """
    from spineview.data.synth import SynthOptions, synthesize
    from spineview.ml.train import TrainConfig, make_dataset, prepare, resolve_precision

    with tempfile.TemporaryDirectory(prefix="spineview-bench-train-") as tmp:
        root = Path(tmp) / "data"
        synthesize(root, SynthOptions(studies=studies, seed=99, size=192))
        config = TrainConfig(dataset=root, name="bench", epochs=epochs, max_examples=max_examples)
        precision = resolve_precision("auto")
        reference = _reference_pipeline(config, epochs)
        started = time.perf_counter()
        images, labels, _, split = prepare(config)
        spineview_rate, bare_rate = _spineview_pipeline(
            config, images, labels, split, precision, epochs, started, make_dataset
        )
    count = len(images)
    return {
        "benchmark": "train",
        "architecture": "cnn",
        "slices": count,
        "epochs": epochs,
        "precision": precision,
        "reference_images_per_s": round(reference, 1),
        "spineview_images_per_s": round(spineview_rate, 1),
        "bare_step_images_per_s": round(bare_rate, 1),
        "spineview_vs_reference": round(spineview_rate / reference, 2),
        "spineview_vs_bare": round(spineview_rate / bare_rate, 2),
    }


def _reference_pipeline(config: Any, epochs: int) -> float:
    import keras
    import numpy as np

    from spineview.dicom.decode import decode_frame
    from spineview.dicom.header import read_header
    from spineview.ml.architectures import build_model
    from spineview.ml.examples import collect_examples
    from spineview.ml.preprocess import preprocess_slice
    from spineview.ml.train import _subsample

    started = time.perf_counter()
    examples = _subsample(collect_examples(config.dataset, config.rule), config.max_examples, 0)
    images = np.stack(
        [preprocess_slice(decode_frame(read_header(e.path), e.frame)) for e in examples.examples]
    )
    labels = examples.labels.astype(np.float32)
    keras.mixed_precision.set_global_policy("float32")
    model = build_model("cnn", seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy")
    rng = np.random.default_rng(0)
    for _ in range(epochs):
        order = rng.permutation(len(images))
        for start in range(0, len(order), config.batch_size):
            batch = order[start : start + config.batch_size]
            augmented = np.stack([_legacy_augment(images[i, :, :, 0], rng) for i in batch])
            model.train_on_batch(augmented[..., None], labels[batch])
    return epochs * len(images) / (time.perf_counter() - started)


def _legacy_augment(image: Any, rng: Any) -> Any:
    """ImageDataGenerator(rotation 30, shifts 0.2, shear 0.2, zoom 0.2, flip) in numpy, one
    image at a time with bilinear sampling, as the legacy generator did with scipy."""
    import numpy as np

    rows, cols = image.shape
    angle = np.radians(rng.uniform(-30, 30))
    shear = rng.uniform(-0.2, 0.2)
    zoom_x, zoom_y = rng.uniform(0.8, 1.2, size=2)
    shift_x, shift_y = rng.uniform(-0.2, 0.2, size=2) * (cols, rows)
    cos, sin = np.cos(angle), np.sin(angle)
    matrix = np.array([[cos, -sin], [sin, cos]]) @ np.array(
        [[1, -np.sin(shear)], [0, np.cos(shear)]]
    )
    matrix = matrix @ np.diag([zoom_y, zoom_x])
    yy, xx = np.mgrid[0:rows, 0:cols].astype(np.float32)
    centre = np.array([(rows - 1) / 2, (cols - 1) / 2])
    coords = np.stack([yy.ravel() - centre[0], xx.ravel() - centre[1]])
    source = matrix @ coords
    sy = np.clip(source[0] + centre[0] + shift_y, 0, rows - 1.001)
    sx = np.clip(source[1] + centre[1] + shift_x, 0, cols - 1.001)
    y0, x0 = sy.astype(int), sx.astype(int)
    fy, fx = sy - y0, sx - x0
    out = (
        image[y0, x0] * (1 - fy) * (1 - fx) + image[y0 + 1, x0] * fy * (1 - fx)
        + image[y0, x0 + 1] * (1 - fy) * fx + image[y0 + 1, x0 + 1] * fy * fx
    )  # fmt: skip
    out = out.reshape(rows, cols).astype(np.float32)
    return out[:, ::-1] if rng.random() < 0.5 else out


def _spineview_pipeline(
    config: Any,
    images: Any,
    labels: Any,
    split: Any,
    precision: str,
    epochs: int,
    started: float,
    make_dataset: Any,
) -> tuple[float, float]:
    import keras
    import numpy as np

    from spineview.ml.architectures import build_model

    everything = np.arange(len(images))
    keras.mixed_precision.set_global_policy(precision)
    try:
        model = build_model("cnn", seed=0)
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy")
        train = make_dataset(images, labels, everything, config=config, shuffle=True,
                             channels=1, softmax=False)  # fmt: skip
        model.fit(train, epochs=epochs, verbose=0)
        end_to_end = epochs * len(images) / (time.perf_counter() - started)
        bare = make_dataset(images, labels, everything, config=replace(config, augmentation="none"),
                            shuffle=False, channels=1, softmax=False).cache()  # fmt: skip
        model.fit(bare, epochs=1, verbose=0)  # warm the cache and the compiled step
        bare_started = time.perf_counter()
        model.fit(bare, epochs=epochs, verbose=0)
        bare_rate = epochs * len(images) / (time.perf_counter() - bare_started)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    return end_to_end, bare_rate

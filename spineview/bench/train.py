"""`spineview bench train`: training throughput of the reference CNN, measured three ways."""

from __future__ import annotations

import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any


def measure_training_throughput(
    studies: int = 40, epochs: int = 3, max_examples: int = 640
) -> dict[str, Any]:
    """Training throughput of the reference CNN, three ways, on the same slices.

    (a) reference-style: every slice decoded into memory first, ImageDataGenerator-like random
        affine augmentation per image in numpy, float32 `train_on_batch`;
    (b) spineview's pipeline end to end: decode once into the cache, tf.data + Keras
        augmentation layers, `fit` in the precision spineview picks;
    (c) a bare train step on the cached tensors in that precision (no augmentation).
    images/s = epochs × slices / wall time, decode included for (a) and (b).
    """
    from spineview.data.synth import SynthOptions, synthesize
    from spineview.ml.train import TrainConfig, make_dataset, prepare
    from spineview.models.precision import resolve_precision

    with tempfile.TemporaryDirectory(prefix="spineview-bench-train-") as tmp:
        root = Path(tmp) / "data"
        synthesize(root, SynthOptions(studies=studies, seed=99, size=192))
        config = TrainConfig(dataset=root, name="bench", epochs=epochs, max_examples=max_examples)
        precision = resolve_precision("auto")
        reference = _reference_pipeline(config, epochs)
        started = time.perf_counter()
        images, labels, _, split = prepare(config)
        spineview_rate, bare_rate, spineview_epochs, bare_epochs = _spineview_pipeline(
            config, images, labels, split, precision, epochs, started, make_dataset
        )
    count = len(images)
    steady = spineview_epochs[1:] or spineview_epochs  # the first epoch also traces the step
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
        "spineview_epoch_images_per_s": [round(rate, 1) for rate in spineview_epochs],
        "bare_epoch_images_per_s": [round(rate, 1) for rate in bare_epochs],
        "spineview_vs_bare_median_epoch": round(
            statistics.median(steady) / statistics.median(bare_epochs), 2
        ),
        "note": "images/s = epochs x slices / wall time, decode included for the reference and "
        "spineview pipelines; the per-epoch rates show epochs that ran at half speed (seen here "
        "with and without augmentation); spineview_vs_bare_median_epoch compares the medians "
        "of spineview's epochs after the first (which traces the step) and the bare epochs",
    }


def _reference_pipeline(config: Any, epochs: int) -> float:
    import keras
    import numpy as np

    from spineview.core.preprocess import preprocess_slice
    from spineview.data.examples import collect_examples
    from spineview.dicom.decode import decode_frame
    from spineview.dicom.header import read_header
    from spineview.ml.architectures import build_model
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
) -> tuple[float, float, list[float], list[float]]:
    """End-to-end and bare rates, and each epoch's rate for both (epoch by epoch, so that an
    epoch that ran at half speed — it happens here with or without augmentation — shows)."""
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
        spineview_epochs = _timed_epochs(model, train, epochs, len(images))
        end_to_end = epochs * len(images) / (time.perf_counter() - started)
        bare = make_dataset(images, labels, everything, config=replace(config, augmentation="none"),
                            shuffle=False, channels=1, softmax=False).cache()  # fmt: skip
        model.fit(bare, epochs=1, verbose=0)  # warm the cache and the compiled step
        bare_started = time.perf_counter()
        bare_epochs = _timed_epochs(model, bare, epochs, len(images))
        bare_rate = epochs * len(images) / (time.perf_counter() - bare_started)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    return end_to_end, bare_rate, spineview_epochs, bare_epochs


def _timed_epochs(model: Any, dataset: Any, epochs: int, count: int) -> list[float]:
    rates = []
    for _ in range(epochs):
        epoch_started = time.perf_counter()
        model.fit(dataset, epochs=1, verbose=0)
        rates.append(count / (time.perf_counter() - epoch_started))
    return rates

"""`spineview bench infer`: series classification end to end against raw float32 Keras.

(a) spineview: every series of generated studies decoded from DICOM, preprocessed and
    classified (`classify_tree.classify_indexed_series`: decode on the preparation thread overlapped
    with bfloat16 inference through one compiled function);
(b) raw float32 Keras: the same model built in float32, `model.predict` at batch 32 on the same
    slices already decoded and preprocessed in memory (no decode, no preprocessing counted).
Both in one run; the predictions of (a) are compared with those of (b).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np


def measure_inference(studies: int = 6, model: str = "cnn-demo", seed: int = 11) -> dict[str, Any]:
    from spineview.classify_tree import classify_indexed_series
    from spineview.data.synth import SynthOptions, synthesize
    from spineview.dicom.load import load_series
    from spineview.dicom.scan import scan_paths
    from spineview.ml.architectures import as_network_input
    from spineview.ml.inference import Classifier
    from spineview.ml.store import load_model
    from spineview.models.catalogue import find_model

    info = find_model(model)
    with tempfile.TemporaryDirectory(prefix="spineview-bench-infer-") as tmp:
        root = Path(tmp) / "data"
        synthesize(root, SynthOptions(studies=studies, seed=seed, size=256), workers=1)
        scan = scan_paths([root / "train_images"])
        all_series = [(s, study) for study in scan.studies for s in study.series]

        classifier = Classifier.load(info.path)
        classifier.warm_up()
        classify_indexed_series(*all_series[0], classifier)  # warm the decode path and threads
        started = time.perf_counter()
        ours = [
            classify_indexed_series(s, study, classifier).predictions for s, study in all_series
        ]
        spineview_seconds = time.perf_counter() - started
        probabilities = np.concatenate([p.raw for p in ours])

        volumes = [load_series(s).volume for s, _ in all_series]
        prepared = np.stack([classifier.prepare(pixels) for v in volumes for pixels in v])
        keras_model, manifest = load_model(info.path, precision="float32")
        batch = np.asarray(as_network_input(prepared, classifier.architecture.channels))
        keras_model.predict(batch[:32], batch_size=32, verbose=0)  # build and trace first
        started = time.perf_counter()
        output = keras_model.predict(batch, batch_size=32, verbose=0)
        keras_seconds = time.perf_counter() - started
    reference = output[:, 1] if manifest.output == "softmax" else output[:, 0]
    count = len(probabilities)
    ours_rate = count / spineview_seconds
    keras_rate = count / keras_seconds
    threshold = manifest.threshold
    return {
        "benchmark": "infer",
        "model": manifest.name,
        "series": len(all_series),
        "slices": count,
        "precision": classifier.precision,
        "spineview_images_per_s": round(ours_rate, 1),
        "keras_float32_predict_images_per_s": round(keras_rate, 1),
        "spineview_vs_keras_float32": round(ours_rate / keras_rate, 2),
        "max_abs_probability_difference": round(
            float(np.max(np.abs(probabilities - reference))), 4
        ),
        "class_agreement": round(
            float(np.mean((probabilities >= threshold) == (reference >= threshold))), 4
        ),
    }

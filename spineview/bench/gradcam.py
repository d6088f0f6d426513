"""Class-activation maps on synthetic studies with known lesions: does each method's peak fall
on the lesion, what does a map cost against a forward pass, and do the maps depend on what the
network learnt (the randomisation check)?

Synthetic studies carry a lesion mask per series (`masks/<study>/<series>.npz`: `lesion_bits`
(slices, rows, cols) in the order of `instance_numbers`). Sagittal slices are decoded with the
project's own DICOM reader, matched to mask slices by instance number, and classified; on every
true-positive slice (lesion pixels on the slice and the calibrated prediction positive) the
positive class's Grad-CAM peak is checked against the mask, exactly and within a 3-pixel
dilation. Figures, never pass/fail.
"""

from __future__ import annotations

import logging
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from spineview.models.metrics import wilson_interval

if TYPE_CHECKING:
    from spineview.core.heatmap import HeatmapMethod
    from spineview.ml.gradcam import GradCam

logger = logging.getLogger(__name__)

DILATION_PIXELS = 3
"""Radius (pixels, Euclidean) of the mask dilation the tolerant hit rate uses."""
FORWARD_REPEATS = 30


@dataclass(frozen=True)
class MaskedSlice:
    """One decoded sagittal slice and its lesion mask (True = lesion pixel, any condition)."""

    study_id: str
    series_id: str
    instance_number: int
    pixels: np.ndarray
    lesion: np.ndarray


def measure_gradcam(
    studies: int = 12, seed: int = 5, model_folder: Path | None = None, max_slices: int = 200
) -> dict[str, Any]:
    """Grad-CAM localisation and speed of a model (the bundled cnn-demo by default).

    `max_slices` caps the sagittal slices classified (an evenly spaced subset of all of them,
    so every study contributes). gradcam_ms and gradcam_pp_ms are warm means over the
    true-positive slices and include preprocessing and upsampling to the slice grid; forward_ms
    is one warm `predict_prepared` call on a prepared batch of one.
    """
    from spineview.core.heatmap import DEFAULT_HEATMAP_METHOD, HeatmapMethod
    from spineview.data.synth import SynthOptions, synthesize
    from spineview.ml.gradcam import GradCam
    from spineview.ml.inference import Classifier
    from spineview.models.catalogue import bundled_models_dir

    folder = Path(model_folder) if model_folder is not None else bundled_models_dir() / "cnn-demo"
    with tempfile.TemporaryDirectory(prefix="spineview-bench-gradcam-") as tmp:
        root = Path(tmp) / "data"
        started = time.perf_counter()
        synthesize(root, SynthOptions(studies=studies, seed=seed, size=256))
        synth_seconds = time.perf_counter() - started
        slices = read_masked_sagittal_slices(root)
    total_slices = len(slices)
    if total_slices > max_slices:
        chosen = np.unique(np.linspace(0, total_slices - 1, max_slices).round().astype(int))
        slices = [slices[i] for i in chosen]

    classifier = Classifier.load(folder)
    predictions = classifier.classify([s.pixels for s in slices], count=len(slices))
    positive = predictions.positive
    has_lesion = np.array([bool(s.lesion.any()) for s in slices])
    true_positive = np.flatnonzero(has_lesion & positive)

    gradcam = GradCam(classifier)
    scores = {method: MethodScore() for method in HeatmapMethod}
    if slices:  # build and trace every method before timing
        for method in HeatmapMethod:
            gradcam.compute(slices[0].pixels, method=method, target="positive")
    areas: list[float] = []
    dilated_areas: list[float] = []
    for index in true_positive:
        item = slices[index]
        dilated = dilate_mask(item.lesion, DILATION_PIXELS)
        areas.append(float(item.lesion.mean()))
        dilated_areas.append(float(dilated.mean()))
        for method, score in scores.items():
            score.add(gradcam, item, dilated, method)
    forward_ms = _forward_ms(classifier, slices[0].pixels) if slices else float("nan")
    default = scores[DEFAULT_HEATMAP_METHOD]
    default_ms = default.mean_ms()
    tp_slices = [slices[i] for i in true_positive]
    return {
        "benchmark": "gradcam",
        "model": classifier.name,
        "architecture": classifier.architecture.id,
        "layer": classifier.manifest.gradcam_layer,
        "precision": classifier.precision,
        "studies": studies,
        "seed": seed,
        "synth_seconds": round(synth_seconds, 1),
        "sagittal_slices": total_slices,
        "slices_evaluated": len(slices),
        "lesion_slices": int(has_lesion.sum()),
        "predicted_positive_slices": int(positive.sum()),
        "true_positive_slices": len(true_positive),
        "default_method": DEFAULT_HEATMAP_METHOD.value,
        "methods": {method.value: score.figures() for method, score in scores.items()},
        "mean_lesion_area_fraction": _mean(areas),
        "mean_dilated_lesion_area_fraction": _mean(dilated_areas),
        "forward_ms": round(forward_ms, 2),
        "default_vs_forward": round(default_ms / forward_ms, 2) if default_ms else None,
        "randomisation_check": randomisation_check(classifier, tp_slices[:RANDOMISED_SLICES]),
        "dilation_pixels": DILATION_PIXELS,
        "note": "true positive = lesion pixels on the slice (any condition, any grade) and the "
        "calibrated prediction positive; peak = maximum of the positive class's map on the "
        "slice grid; in_dilated_mask = within dilation_pixels of the lesion; a flat map counts "
        "as a miss (infinite distance); the mean (dilated) lesion area fractions are the hit "
        "rates of a peak placed at random; hit intervals are Wilson 95 % intervals",
    }


RANDOMISED_SLICES = 20
HEATMAP_REPORT_FILE_NAME = "heatmaps.json"


def record_heatmap_figures(
    folder: Path, studies: int = 12, seed: int = 5, max_slices: int = 200
) -> dict[str, Any]:
    """Measure every method on fresh synthetic studies for the model `folder` and keep the
    figures with it: the whole measurement in `report/heatmaps.json`, the summary in the
    manifest's metrics ("heatmaps", shown with the model's details). Returns the summary."""
    import json

    from spineview.core.files import write_text_atomic
    from spineview.models.catalogue import record_metrics

    result = measure_gradcam(studies=studies, seed=seed, model_folder=folder, max_slices=max_slices)
    report = Path(folder) / "report"
    report.mkdir(exist_ok=True)
    write_text_atomic(report / HEATMAP_REPORT_FILE_NAME, json.dumps(result, indent=2) + "\n")
    summary = heatmap_summary(result)
    record_metrics(folder, "heatmaps", summary)
    return summary


def heatmap_summary(result: dict[str, Any]) -> dict[str, Any]:
    """The figures a model's details show, from a `measure_gradcam` result."""
    return {
        "source": f"{result['studies']} fresh synthetic studies (seed {result['seed']}) with "
        "known lesions",
        "layer": result["layer"],
        "true_positive_slices": result["true_positive_slices"],
        "dilation_pixels": result["dilation_pixels"],
        "default_method": result["default_method"],
        "methods": {
            method: {
                "peak_near_lesion": figures["peak_in_dilated_mask_fraction"],
                "peak_near_lesion_interval": figures["peak_in_dilated_mask_interval"],
                "peak_in_lesion": figures["peak_in_mask_fraction"],
                "median_peak_to_lesion_px": figures["median_peak_to_lesion_px"],
                "flat_maps": figures["flat_maps"],
            }
            for method, figures in result["methods"].items()
        },
        "random_peak_near_lesion": _rounded(result["mean_dilated_lesion_area_fraction"]),
        "randomisation_spearman": result["randomisation_check"].get(
            "median_spearman_trained_vs_random_weights"
        ),
        "forward_passes_per_map": result["default_vs_forward"],
    }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def randomisation_check(classifier: Any, slices: list[MaskedSlice]) -> dict[str, Any]:
    """Adebayo et al.'s sanity check: the default method's maps from the trained network and
    from the same architecture with freshly initialised weights, compared slice by slice
    (Spearman rank correlation of the two maps). Maps that barely change would show the image,
    not what the model learnt."""
    from spineview.core.heatmap import DEFAULT_HEATMAP_METHOD
    from spineview.ml.architectures import build_model
    from spineview.ml.gradcam import GradCam
    from spineview.ml.inference import Classifier

    if not slices:
        return {"slices": 0}
    random_model = build_model(classifier.architecture.id, precision=classifier.precision, seed=1)
    randomised = GradCam(Classifier(random_model, classifier.manifest, None, classifier.precision))
    trained = GradCam(classifier)
    correlations = []
    for item in slices:
        ours = trained.compute(item.pixels, method=DEFAULT_HEATMAP_METHOD, target="positive")
        theirs = randomised.compute(item.pixels, method=DEFAULT_HEATMAP_METHOD, target="positive")
        correlations.append(_spearman(ours.values, theirs.values))
    return {
        "method": DEFAULT_HEATMAP_METHOD.value,
        "slices": len(slices),
        "median_spearman_trained_vs_random_weights": round(float(np.median(correlations)), 3),
        "max_spearman": round(float(np.max(correlations)), 3),
    }


def _spearman(first: np.ndarray, second: np.ndarray) -> float:
    def ranks(values: np.ndarray) -> np.ndarray:
        return np.argsort(np.argsort(values.ravel(), kind="stable"), kind="stable").astype(float)

    a, b = ranks(first), ranks(second)
    a, b = a - a.mean(), b - b.mean()
    denominator = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / denominator) if denominator else 0.0


@dataclass
class MethodScore:
    """Peak hits, distances and time of one Grad-CAM method over the true-positive slices."""

    count: int = 0
    exact: int = 0
    near: int = 0
    flat: int = 0
    seconds: float = 0.0
    distances: list[float] = field(default_factory=list)

    def add(
        self, gradcam: GradCam, item: MaskedSlice, dilated: np.ndarray, method: HeatmapMethod
    ) -> None:
        started = time.perf_counter()
        heat = gradcam.compute(item.pixels, method=method, target="positive")
        self.seconds += time.perf_counter() - started
        self.count += 1
        if heat.flat:  # no evidence: its "peak" is the centre, never a hit
            self.flat += 1
            self.distances.append(float("inf"))
            return
        self.exact += bool(item.lesion[heat.peak])
        self.near += bool(dilated[heat.peak])
        self.distances.append(distance_to_mask(heat.peak, item.lesion))

    def fraction(self, hits: int) -> float | None:
        return round(hits / self.count, 3) if self.count else None

    def figures(self) -> dict[str, Any]:
        return {
            "peak_in_mask_fraction": self.fraction(self.exact),
            "peak_in_dilated_mask_fraction": self.fraction(self.near),
            "peak_in_dilated_mask_interval": wilson_interval(self.near, self.count),
            "median_peak_to_lesion_px": self.median_distance(),
            "flat_maps": self.flat,
            "ms": self.mean_ms(),
        }

    def mean_ms(self) -> float | None:
        return round(1000 * self.seconds / self.count, 2) if self.count else None

    def median_distance(self) -> float | None:
        return round(float(np.median(self.distances)), 1) if self.distances else None


def read_masked_sagittal_slices(root: Path) -> list[MaskedSlice]:
    """Every slice of the sagittal series of a synthetic dataset that has a lesion mask, in
    (study, series, mask) order, decoded from its DICOM file and matched by instance number."""
    from spineview.data.problems import ProblemLog
    from spineview.data.rsna_format import (
        IMAGES_FOLDER,
        SAGITTAL_T1,
        SAGITTAL_T2_STIR,
        SERIES_DESCRIPTIONS_CSV,
    )
    from spineview.data.rsna_tables import read_series_descriptions
    from spineview.dicom.decode import decode_frame
    from spineview.dicom.header import read_header

    described = read_series_descriptions(root / SERIES_DESCRIPTIONS_CSV, ProblemLog())
    sagittal = sorted(
        (row.study_id, row.series_id)
        for row in described
        if row.description in (SAGITTAL_T1, SAGITTAL_T2_STIR)
    )
    slices: list[MaskedSlice] = []
    for study_id, series_id in sagittal:
        mask_path = root / "masks" / study_id / f"{series_id}.npz"
        if not mask_path.is_file():
            continue
        with np.load(mask_path) as mask:
            bits = np.asarray(mask["lesion_bits"])
            numbers = np.asarray(mask["instance_numbers"])
        folder = root / IMAGES_FOLDER / study_id / series_id
        for position, number in enumerate(numbers):
            header = read_header(folder / f"{int(number)}.dcm")
            if header.instance_number != int(number):
                raise ValueError(
                    f"{header.path}: InstanceNumber {header.instance_number} does not match "
                    f"the mask's {int(number)}"
                )
            pixels = decode_frame(header)
            lesion = bits[position] != 0
            if pixels.shape != lesion.shape:
                raise ValueError(
                    f"{header.path}: {pixels.shape} pixels but a {lesion.shape} lesion mask"
                )
            slices.append(MaskedSlice(study_id, series_id, int(number), pixels, lesion))
    return slices


def dilate_mask(mask: np.ndarray, radius: int) -> np.ndarray:
    """`mask` dilated by a Euclidean disk of `radius` pixels."""
    mask = np.asarray(mask, dtype=bool)
    rows, cols = mask.shape
    dilated = mask.copy()
    for dr in range(-radius, radius + 1):
        for dc in range(-radius, radius + 1):
            if (dr == 0 and dc == 0) or dr * dr + dc * dc > radius * radius:
                continue
            target_rows = slice(max(dr, 0), rows + min(dr, 0))
            source_rows = slice(max(-dr, 0), rows + min(-dr, 0))
            target_cols = slice(max(dc, 0), cols + min(dc, 0))
            source_cols = slice(max(-dc, 0), cols + min(-dc, 0))
            dilated[target_rows, target_cols] |= mask[source_rows, source_cols]
    return dilated


def distance_to_mask(point: tuple[int, int], mask: np.ndarray) -> float:
    """Euclidean distance in pixels from `point` to the nearest True pixel of `mask` (0 on it)."""
    rows, cols = np.nonzero(mask)
    if len(rows) == 0:
        return float("inf")
    return float(np.sqrt(np.min((rows - point[0]) ** 2 + (cols - point[1]) ** 2)))


def _mean(values: list[float]) -> float | None:
    return round(float(np.mean(values)), 4) if values else None


def _forward_ms(classifier: Any, pixels: np.ndarray) -> float:
    batch = classifier.prepare(pixels)[None]
    classifier.predict_prepared(batch)  # warm
    started = time.perf_counter()
    for _ in range(FORWARD_REPEATS):
        classifier.predict_prepared(batch)
    return 1000 * (time.perf_counter() - started) / FORWARD_REPEATS

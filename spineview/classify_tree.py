"""Classify every series under some paths: what `spineview classify` does, headless.

Each series is decoded slice by slice in slice order while the network classifies the batch
before (the decode runs on the classifier's preparation thread), so decode and inference
overlap. Results keep the guard-rail warnings with them; nothing is ever written next to the
DICOM files that were read.

A model the quality gate marks not usable (`models.quality_gate`) taints everything made with it:
each series' warnings carry the reason, the CSV says `model_usable` false on every row, the JSON
has a `model_usability` object, and each heatmap PNG gets a red "NOT USABLE" band above the
image, "-NOT-USABLE" in its file name and the warning as an iTXt chunk.
"""

from __future__ import annotations

import csv
import io
import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from spineview.core.files import write_text_atomic
from spineview.core.heatmap import SCALE_TEXT, HeatmapMethod, overlay_rgb, with_colour_bar
from spineview.core.png import write_png
from spineview.core.series import StudyContext
from spineview.dicom.index import SeriesInfo, StudyInfo
from spineview.dicom.load import new_series, stream_slices
from spineview.dicom.scan import scan_paths
from spineview.errors import InferenceCancelled, LoadCancelled, SpineViewError
from spineview.ml.inference import Classifier
from spineview.ml.series_classification import classify_series
from spineview.models.predictions import SeriesOutcome
from spineview.models.quality_gate import Usability
from spineview.models.series_check import header_findings, series_label
from spineview.models.series_decision import HeaderFinding
from spineview.models.verdict import (
    DEFAULT_NEIGHBOURS,
    rule_text,
)

Report = Callable[[str], None]

CSV_COLUMNS = (
    "study_uid",
    "series_uid",
    "series_key",
    "series_number",
    "series_description",
    "series_type",
    "slice",
    "instance_number",
    "frame",
    "file",
    "probability",
    "raw_probability",
    "class",
    "uncertainty",
    "distance",
    "far",
    "series_class",
    "series_score",
    "series_agreement",
    "decision",
    "decision_reasons",
    "model",
    "model_usable",
    "warnings",
)
NOT_USABLE_FILE_TAG = "-NOT-USABLE"
"""Added to the name of every heatmap PNG made with a model that is not usable."""
DECISION_FILE_TAGS = {"flagged": "-FLAGGED", "declined": "-DECLINED"}
"""Added to a heatmap PNG's name when its series was flagged, or declined and forced (a
declined series gets no heatmaps otherwise); every PNG says the decision in a "Decision"
text chunk."""


class OutputInsideInputError(SpineViewError):
    """An output path lies inside a folder being read (DICOM folders are never written to)."""


@dataclass(kw_only=True)
class SeriesResult(SeriesOutcome):
    """One classified series of the tree, with where it came from."""

    series_key: str
    """Unique in a scan: the series UID, with "#n" for the n-th stack of a split series."""
    study_uid: str
    series_uid: str
    series_number: int | None
    description: str
    series_type: str
    modality: str
    instance_numbers: list[int | None]
    frames: list[int]
    files: list[Path]
    problems: list[str] = field(default_factory=list)
    heatmaps: list[Path] = field(default_factory=list)
    volume: np.ndarray | None = field(default=None, repr=False)
    """The decoded slices (for heatmaps); dropped once they are written."""

    @property
    def label(self) -> str:
        return series_label(self.series_number, self.description)


@dataclass
class ClassificationReport:
    model: str
    demo_notice: str | None
    precision: str
    neighbours: int
    threshold: float
    series: list[SeriesResult] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    """Files that could not be read and series that could not be classified, in sentences."""
    seconds: float = 0.0
    usability: Usability | None = None
    """The quality gate's verdict on the model (None: not judged, as for a report made by hand)."""

    @property
    def warnings(self) -> list[str]:
        return [warning for result in self.series for warning in result.warnings]

    @property
    def model_usable(self) -> bool | None:
        return None if self.usability is None else self.usability.usable

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "model_usability": None if self.usability is None else self.usability.to_dict(),
            "demo_notice": self.demo_notice,
            "precision": self.precision,
            "rule": rule_text(self.neighbours, self.threshold),
            "series": [_series_json(result) for result in self.series],
            "warnings": self.warnings,
            "problems": self.problems,
            "seconds": round(self.seconds, 3),
        }


def check_outputs_outside(inputs: Sequence[Path], outputs: Sequence[Path | None]) -> None:
    """OutputInsideInputError when an output would be written inside an input folder."""
    for output in outputs:
        if output is None:
            continue
        target = Path(output).expanduser().resolve()
        for source in inputs:
            root = Path(source).expanduser().resolve()
            folder = root if root.is_dir() else root.parent
            if target == folder or target.is_relative_to(folder):
                raise OutputInsideInputError(
                    f"{output}: inside {folder}, a folder being read; spineview never writes into "
                    "DICOM folders, choose another place for the results"
                )


def classify_paths(
    paths: Sequence[Path],
    classifier: Classifier,
    *,
    gradcam_dir: Path | None = None,
    gradcam_method: HeatmapMethod | str = HeatmapMethod.GRADCAM,
    healthy_maps: bool = False,
    neighbours: int = DEFAULT_NEIGHBOURS,
    report: Report | None = None,
    cancel: threading.Event | None = None,
    skip_incompatible: bool = False,
    force: bool = False,
) -> ClassificationReport:
    """Scan `paths` and classify every series found (warnings and the decision kept with each
    result); `skip_incompatible` leaves out the series that draw a guard-rail warning instead;
    `force` gives the verdict of declined series too (marked as shown on request);
    `gradcam_method` is a HeatmapMethod or its id (ValueError for an unknown one)."""
    started = time.perf_counter()
    method = HeatmapMethod(gradcam_method)

    def say(text: str) -> None:
        if report is not None:
            report(text)

    scan = scan_paths([Path(p) for p in paths], cancel=cancel)
    result = ClassificationReport(
        classifier.name,
        classifier.manifest.demo_notice,
        classifier.precision,
        neighbours,
        float(classifier.manifest.threshold),
        usability=classifier.manifest.usability,
    )
    model_warning = result.usability.warning if result.usability is not None else None
    if model_warning:
        say(f"warning: {model_warning}")
    result.problems += [f"{p.path}: {p.reason}" for p in scan.problems]
    all_series = [(info, study) for study in scan.studies for info in study.series]
    say(f"{scan.files_seen} files: {len(all_series)} series in {len(scan.studies)} studies")
    gradcam = _gradcam(classifier, healthy_maps) if gradcam_dir is not None else None
    for number, (info, study) in enumerate(all_series, start=1):
        label = series_label(info.series_number, info.description)
        prefix = f"[{number}/{len(all_series)}] {label}"
        warnings = [finding.text for finding in _header_findings(classifier, info)]
        if warnings and skip_incompatible:
            result.problems += [f"{warning} (skipped)" for warning in warnings]
            say(f"{prefix}: skipped")
            continue
        for warning in warnings:
            say(f"warning: {warning}")

        def progress(done: int, total: int, prefix: str = prefix) -> None:
            say(f"{prefix}: {done}/{total} slices")

        try:
            series_result = classify_indexed_series(
                info,
                study,
                classifier,
                neighbours=neighbours,
                cancel=cancel,
                progress=progress,
                warnings=[*warnings, model_warning] if model_warning else warnings,
                force=force,
            )
        except (LoadCancelled, InferenceCancelled):
            raise
        except SpineViewError as error:
            result.problems.append(f"{prefix}: not classified ({error})")
            say(f"{prefix}: not classified ({error})")
            continue
        say(f"{prefix}: {series_result.decision.text}")
        if gradcam is not None and gradcam_dir is not None and series_result.shows_verdict:
            say(f"{prefix}: heatmaps")
            try:
                series_result.heatmaps = gradcam(series_result, gradcam_dir, method)
            except (SpineViewError, OSError) as error:
                result.problems.append(f"{prefix}: heatmaps not written ({error})")
                say(f"{prefix}: heatmaps not written ({error})")
        series_result.volume = None  # a tree may hold many series: keep only the numbers
        result.series.append(series_result)
    result.seconds = time.perf_counter() - started
    return result


def classify_indexed_series(
    info: SeriesInfo,
    study: StudyInfo | None,
    classifier: Classifier,
    *,
    neighbours: int = DEFAULT_NEIGHBOURS,
    progress: Callable[[int, int], None] | None = None,
    cancel: threading.Event | None = None,
    warnings: list[str] | None = None,
    force: bool = False,
) -> SeriesResult:
    """Decode and classify one indexed series (decode overlapped with the network, through
    `ml.series_classification.classify_series`). `warnings` are the series' warnings when the
    caller has them already (otherwise the guard-rail warnings and, for a model that is not
    usable, the quality gate's)."""
    context = StudyContext(study.study_uid) if study is not None else None
    series = new_series(info, study=context)
    findings = _header_findings(classifier, info)
    outcome = classify_series(
        classifier,
        stream_slices(series, info, cancel=cancel),
        series.n_slices,
        positions=series.slice_distances(),
        findings=findings,
        neighbours=neighbours,
        progress=progress,
        cancel=cancel,
        force=force,
    )
    outcome.warnings = (
        warnings if warnings is not None else [*outcome.warnings, *_model_warnings(classifier)]
    )
    return SeriesResult(
        **vars(outcome),
        series_key=info.key,
        study_uid=info.study_uid,
        series_uid=info.series_uid,
        series_number=info.series_number,
        description=info.description,
        series_type=info.series_type.label,
        modality=info.modality,
        instance_numbers=[ref.header.instance_number for ref in info.slices],
        frames=[ref.frame + 1 for ref in info.slices],
        files=[ref.path for ref in info.slices],
        problems=list(series.problems),
        volume=series.volume,
    )


def _header_findings(classifier: Classifier, info: SeriesInfo) -> list[HeaderFinding]:
    return header_findings(
        classifier.manifest,
        modality=info.modality,
        series_type=info.series_type.label,
        series_label=series_label(info.series_number, info.description),
        time_point=info.time_point,
        body_part=info.first.body_part_examined,
    )


def _model_warnings(classifier: Classifier) -> list[str]:
    warning = classifier.manifest.usability.warning
    return [warning] if warning else []


def _gradcam(
    classifier: Classifier, healthy_maps: bool
) -> Callable[[SeriesResult, Path, HeatmapMethod], list[Path]]:
    """Writes one PNG per slice decided positive (and per slice decided negative with
    `healthy_maps`), explaining the class the CSV gives that slice."""
    from spineview.ml.gradcam import GradCam

    explainer = GradCam(classifier)
    usability = classifier.manifest.usability
    text = {"Software": "spineview", "Model": classifier.name}
    if usability.warning:
        text["Warning"] = usability.warning
    tag = "" if usability.usable else NOT_USABLE_FILE_TAG

    def write(result: SeriesResult, folder: Path, method: HeatmapMethod) -> list[Path]:
        volume = result.volume if result.volume is not None else np.zeros((0, 1, 1))
        series_folder = folder / _safe(result.study_uid) / _safe(result.series_key)
        written = []
        for index in range(len(volume)):
            pixels = volume[index]
            if not np.isfinite(pixels).any() or not np.isfinite(result.predictions.raw[index]):
                continue
            positive = bool(result.predictions.positive[index])
            if not positive and not healthy_maps:
                continue
            explained = "positive" if positive else "negative"
            heat = explainer.compute(pixels, method=method, target=explained)  # type: ignore[arg-type]
            instance = result.instance_numbers[index]
            name = f"slice{index + 1:03d}" + ("" if instance is None else f"-instance{instance}")
            decision = DECISION_FILE_TAGS.get(result.decision.status, "")
            path = series_folder / f"{name}-{method.value}{tag}{decision}.png"
            picture = with_colour_bar(overlay_rgb(pixels, heat.values))
            if not usability.usable:
                picture = with_warning_band(picture)
            chunks = {**text, "Decision": result.decision.text, "Heat scale": SCALE_TEXT}
            write_png(path, picture, chunks)
            written.append(path)
        return written

    return write


# --- heatmap PNGs of a model that is not usable ------------------------------------------------

WARNING_BAND_COLOUR = (198, 40, 40)
_GLYPHS = {
    "A": ("01110", "10001", "10001", "11111", "10001", "10001", "10001"),
    "B": ("11110", "10001", "10001", "11110", "10001", "10001", "11110"),
    "D": ("11110", "10001", "10001", "10001", "10001", "10001", "11110"),
    "E": ("11111", "10000", "10000", "11110", "10000", "10000", "11111"),
    "L": ("10000", "10000", "10000", "10000", "10000", "10000", "11111"),
    "M": ("10001", "11011", "10101", "10101", "10001", "10001", "10001"),
    "N": ("10001", "11001", "10101", "10011", "10001", "10001", "10001"),
    "O": ("01110", "10001", "10001", "10001", "10001", "10001", "01110"),
    "S": ("01111", "10000", "10000", "01110", "00001", "00001", "11110"),
    "T": ("11111", "00100", "00100", "00100", "00100", "00100", "00100"),
    "U": ("10001", "10001", "10001", "10001", "10001", "10001", "01110"),
    " ": ("00000",) * 7,
}
"""5×7 capitals, just enough for the band's words."""


def _text_bitmap(text: str) -> np.ndarray:
    """A boolean (7, 6 × len - 1) bitmap of `text` (letters of `_GLYPHS` only)."""
    columns = []
    for index, letter in enumerate(text):
        if index:
            columns.append(np.zeros((7, 1), dtype=bool))
        columns.append(np.array([[c == "1" for c in row] for row in _GLYPHS[letter]], dtype=bool))
    return np.hstack(columns)


def with_warning_band(picture: np.ndarray) -> np.ndarray:
    """`picture` (h, w, 3 uint8) under a red band that says "MODEL NOT USABLE" in white (or
    "NOT USABLE" where the image is too narrow); the image's own pixels are kept whole."""
    width = picture.shape[1]
    for words in ("MODEL NOT USABLE", "NOT USABLE", ""):
        bitmap = _text_bitmap(words) if words else np.zeros((7, 0), dtype=bool)
        if bitmap.shape[1] + 4 <= width:
            break
    scale = max(1, min((width - 4) // max(bitmap.shape[1], 1), max(width // 128, 1)))
    glyphs = np.kron(bitmap, np.ones((scale, scale), dtype=bool))
    band = np.empty((glyphs.shape[0] + 4 * scale, width, 3), dtype=np.uint8)
    band[:] = WARNING_BAND_COLOUR
    top, left = 2 * scale, (width - glyphs.shape[1]) // 2
    region = band[top : top + glyphs.shape[0], left : left + glyphs.shape[1]]
    region[glyphs] = 255
    return np.vstack([band, np.asarray(picture, dtype=np.uint8)])


def _safe(text: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in ".-_" else "_" for c in text)
    return cleaned.strip(".") or "unknown"


def _number(value: float) -> float | None:
    return round(float(value), 6) if np.isfinite(value) else None


def _series_json(result: SeriesResult) -> dict[str, Any]:
    verdict = result.verdict
    shown = result.shows_verdict
    return {
        "study_uid": result.study_uid,
        "series_uid": result.series_uid,
        "series_key": result.series_key,
        "series_number": result.series_number,
        "description": result.description,
        "series_type": result.series_type,
        "modality": result.modality,
        "decision": result.decision.to_dict(),
        "verdict": {
            "class": result.verdict_class or None,
            "positive": verdict.positive,
            "score": _number(verdict.score),
            "sample_agreement": _number(result.agreement),
            "uncertainty_method": result.predictions.uncertainty_method or None,
            "run_start_slice": None if verdict.run_start is None else verdict.run_start + 1,
            "neighbours_used": verdict.neighbours,
            "threshold": verdict.threshold,
            "slices_above_threshold": verdict.slices_above,
            "rule": verdict.rule,
        }
        if shown
        else None,
        "warnings": result.warnings,
        "problems": result.problems,
        "heatmaps": [str(path) for path in result.heatmaps],
        "slices": [
            {
                "slice": index + 1,
                "instance_number": result.instance_numbers[index],
                "frame": result.frames[index],
                "file": str(result.files[index]),
                "probability": _number(result.predictions.calibrated[index]) if shown else None,
                "raw_probability": _number(result.predictions.raw[index]) if shown else None,
                "uncertainty": _number(result.spread_of(index)) if shown else None,
                "class": result.class_of(index) or None,
                "distance": _number(result.distance_of(index)),
                "far": index in result.decision.far_slices,
            }
            for index in range(len(result.predictions))
        ],
    }


def csv_text(report: ClassificationReport) -> str:
    """One row per slice (see CSV_COLUMNS); probability is the calibrated one, uncertainty the
    standard deviation of its uncertainty samples (Monte-Carlo dropout or last-layer Laplace),
    distance the slice's distance to the training data (far: beyond the model's threshold);
    a declined series (unless forced) has its decision and distances but no probabilities or
    classes; model_usable is "true" or "false" (the quality gate's verdict on the model; empty
    when not judged)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for result in report.series:
        shown = result.shows_verdict
        for index in range(len(result.predictions)):
            calibrated = _number(result.predictions.calibrated[index]) if shown else None
            raw = _number(result.predictions.raw[index]) if shown else None
            spread = _number(result.spread_of(index)) if shown else None
            distance = _number(result.distance_of(index))
            instance = result.instance_numbers[index]
            score = _number(result.verdict.score) if shown else None
            agreement = _number(result.agreement) if shown else None
            writer.writerow(
                [
                    result.study_uid,
                    result.series_uid,
                    result.series_key,
                    "" if result.series_number is None else result.series_number,
                    result.description,
                    result.series_type,
                    index + 1,
                    "" if instance is None else instance,
                    result.frames[index],
                    str(result.files[index]),
                    "" if calibrated is None else f"{calibrated:.6f}",
                    "" if raw is None else f"{raw:.6f}",
                    result.class_of(index),
                    "" if spread is None else f"{spread:.6f}",
                    "" if distance is None else f"{distance:.4f}",
                    _flag(index in result.decision.far_slices if distance is not None else None),
                    result.verdict_class,
                    "" if score is None else f"{score:.6f}",
                    "" if agreement is None else f"{agreement:.4f}",
                    result.decision.label,
                    " | ".join(result.decision.reasons),
                    report.model,
                    _flag(report.model_usable),
                    " | ".join(result.warnings),
                ]
            )
    return buffer.getvalue()


def _flag(value: bool | None) -> str:
    return "" if value is None else str(value).lower()


def write_results(report: ClassificationReport, path: Path) -> None:
    """Write results atomically as CSV (.csv) or JSON (.json); ValueError for other suffixes."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        write_text_atomic(path, csv_text(report), mode=0o644)
    elif suffix == ".json":
        text = json.dumps(report.to_json_dict(), indent=2, ensure_ascii=False)
        write_text_atomic(path, text + "\n", mode=0o644)
    else:
        raise ValueError(
            f"{path}: results are written as .csv or .json, not {suffix or 'no suffix'}"
        )

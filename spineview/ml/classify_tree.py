"""Classify every series under some paths: what `spineview classify` does, headless.

Each series is decoded slice by slice in slice order while the network classifies the batch
before (the decode runs on the classifier's preparation thread), so decode and inference
overlap. Results keep the guard-rail warnings with them; nothing is ever written next to the
DICOM files that were read.
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
from spineview.core.heatmap import overlay_rgb
from spineview.core.png import write_png
from spineview.core.series import StudyContext
from spineview.dicom.index import SeriesInfo, StudyInfo
from spineview.dicom.load import LoadCancelled, new_series, stream_slices
from spineview.dicom.scan import scan_paths
from spineview.errors import SpineViewError
from spineview.ml.inference import Classifier, InferenceCancelled, SlicePredictions
from spineview.ml.series_check import classification_warnings, series_label
from spineview.ml.verdict import DEFAULT_NEIGHBOURS, SeriesVerdict, rule_text, series_verdict

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
    "series_class",
    "series_score",
    "model",
    "warnings",
)


class OutputInsideInputError(SpineViewError):
    """An output path lies inside a folder being read (DICOM folders are never written to)."""


@dataclass
class SeriesResult:
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
    predictions: SlicePredictions
    verdict: SeriesVerdict
    class_names: tuple[str, str]
    warnings: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    heatmaps: list[Path] = field(default_factory=list)
    volume: np.ndarray | None = field(default=None, repr=False)
    """The decoded slices (for heatmaps); dropped once they are written."""

    @property
    def label(self) -> str:
        return series_label(self.series_number, self.description)

    def class_of(self, index: int) -> str:
        if not np.isfinite(self.predictions.calibrated[index]):
            return ""
        return self.class_names[int(self.predictions.positive[index])]

    @property
    def verdict_class(self) -> str:
        """The series' class ("" when no slice had a result)."""
        if self.verdict.slices == 0:
            return ""
        return self.class_names[int(self.verdict.positive)]


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

    @property
    def warnings(self) -> list[str]:
        return [warning for result in self.series for warning in result.warnings]

    def to_json_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
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
    gradcam_method: str = "gradcam",
    neighbours: int = DEFAULT_NEIGHBOURS,
    report: Report | None = None,
    cancel: threading.Event | None = None,
    skip_incompatible: bool = False,
) -> ClassificationReport:
    """Scan `paths` and classify every series found (warnings kept with each result);
    `skip_incompatible` leaves out the series that draw a guard-rail warning instead."""
    started = time.perf_counter()

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
    )
    result.problems += [f"{p.path}: {p.reason}" for p in scan.problems]
    all_series = [(info, study) for study in scan.studies for info in study.series]
    say(f"{scan.files_seen} files: {len(all_series)} series in {len(scan.studies)} studies")
    gradcam = _gradcam(classifier) if gradcam_dir is not None else None
    for number, (info, study) in enumerate(all_series, start=1):
        label = series_label(info.series_number, info.description)
        prefix = f"[{number}/{len(all_series)}] {label}"
        warnings = classification_warnings(
            classifier.manifest,
            modality=info.modality,
            series_type=info.series_type.label,
            series_label=label,
        )
        if warnings and skip_incompatible:
            result.problems += [f"{warning} (skipped)" for warning in warnings]
            say(f"{prefix}: skipped")
            continue
        for warning in warnings:
            say(f"warning: {warning}")

        def progress(done: int, total: int, prefix: str = prefix) -> None:
            say(f"{prefix}: {done}/{total} slices")

        try:
            series_result = classify_series(
                info,
                study,
                classifier,
                neighbours=neighbours,
                cancel=cancel,
                progress=progress,
                warnings=warnings,
            )
        except (LoadCancelled, InferenceCancelled):
            raise
        except SpineViewError as error:
            result.problems.append(f"{prefix}: not classified ({error})")
            say(f"{prefix}: not classified ({error})")
            continue
        if gradcam is not None and gradcam_dir is not None:
            say(f"{prefix}: heatmaps")
            try:
                series_result.heatmaps = gradcam(series_result, gradcam_dir, gradcam_method)
            except (SpineViewError, OSError) as error:
                result.problems.append(f"{prefix}: heatmaps not written ({error})")
                say(f"{prefix}: heatmaps not written ({error})")
        series_result.volume = None  # a tree may hold many series: keep only the numbers
        result.series.append(series_result)
    result.seconds = time.perf_counter() - started
    return result


def classify_series(
    info: SeriesInfo,
    study: StudyInfo | None,
    classifier: Classifier,
    *,
    neighbours: int = DEFAULT_NEIGHBOURS,
    progress: Callable[[int, int], None] | None = None,
    cancel: threading.Event | None = None,
    warnings: list[str] | None = None,
) -> SeriesResult:
    """Decode and classify one indexed series (decode overlapped with the network);
    `warnings` are the guard-rail warnings when the caller has them already."""
    context = StudyContext(study.study_uid) if study is not None else None
    series = new_series(info, study=context)
    predictions = classifier.classify(
        stream_slices(series, info, cancel=cancel),
        count=series.n_slices,
        progress=progress,
        cancel=cancel,
    )
    if len(predictions) != series.n_slices:
        raise SpineViewError(
            f"{len(predictions)} results for {series.n_slices} slices: the series changed while "
            "it was read"
        )
    label = series_label(info.series_number, info.description)
    names = classifier.manifest.class_names
    result = SeriesResult(
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
        predictions=predictions,
        verdict=series_verdict(
            predictions.calibrated,
            predictions.threshold,
            neighbours,
            positions=series.slice_distances(),
        ),
        class_names=(names[0], names[1]),
        warnings=warnings
        if warnings is not None
        else classification_warnings(
            classifier.manifest,
            modality=info.modality,
            series_type=info.series_type.label,
            series_label=label,
        ),
        problems=list(series.problems),
        volume=series.volume,
    )
    return result


def _gradcam(classifier: Classifier) -> Callable[[SeriesResult, Path, str], list[Path]]:
    from spineview.ml.gradcam import GradCam

    explainer = GradCam(classifier)

    def write(result: SeriesResult, folder: Path, method: str) -> list[Path]:
        volume = result.volume if result.volume is not None else np.zeros((0, 1, 1))
        target = folder / _safe(result.study_uid) / _safe(result.series_key)
        written = []
        for index in range(len(volume)):
            pixels = volume[index]
            if not np.isfinite(pixels).any():
                continue
            heat = explainer.compute(pixels, method=method)  # type: ignore[arg-type]
            instance = result.instance_numbers[index]
            name = f"slice{index + 1:03d}" + ("" if instance is None else f"-instance{instance}")
            path = target / f"{name}-{method}.png"
            write_png(path, overlay_rgb(pixels, heat.values))
            written.append(path)
        return written

    return write


def _safe(text: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in ".-_" else "_" for c in text)
    return cleaned.strip(".") or "unknown"


def _number(value: float) -> float | None:
    return round(float(value), 6) if np.isfinite(value) else None


def _series_json(result: SeriesResult) -> dict[str, Any]:
    verdict = result.verdict
    return {
        "study_uid": result.study_uid,
        "series_uid": result.series_uid,
        "series_key": result.series_key,
        "series_number": result.series_number,
        "description": result.description,
        "series_type": result.series_type,
        "modality": result.modality,
        "verdict": {
            "class": result.verdict_class or None,
            "positive": verdict.positive,
            "score": _number(verdict.score),
            "run_start_slice": None if verdict.run_start is None else verdict.run_start + 1,
            "neighbours_used": verdict.neighbours,
            "threshold": verdict.threshold,
            "slices_above_threshold": verdict.slices_above,
            "rule": verdict.rule,
        },
        "warnings": result.warnings,
        "problems": result.problems,
        "heatmaps": [str(path) for path in result.heatmaps],
        "slices": [
            {
                "slice": index + 1,
                "instance_number": result.instance_numbers[index],
                "frame": result.frames[index],
                "file": str(result.files[index]),
                "probability": _number(result.predictions.calibrated[index]),
                "raw_probability": _number(result.predictions.raw[index]),
                "class": result.class_of(index) or None,
            }
            for index in range(len(result.predictions))
        ],
    }


def csv_text(report: ClassificationReport) -> str:
    """One row per slice (see CSV_COLUMNS); probability is the calibrated one."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for result in report.series:
        for index in range(len(result.predictions)):
            calibrated = _number(result.predictions.calibrated[index])
            raw = _number(result.predictions.raw[index])
            instance = result.instance_numbers[index]
            score = _number(result.verdict.score)
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
                    result.verdict_class,
                    "" if score is None else f"{score:.6f}",
                    report.model,
                    " | ".join(result.warnings),
                ]
            )
    return buffer.getvalue()


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

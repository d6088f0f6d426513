"""A model in words: one line for a combo box or status bar, a page for a details dialog or the CLI.

Pure Python on the manifest (no Qt, no TensorFlow). The manifest's `training` and `metrics` are
free-form dicts written by whichever spineview trained the model, so every field is optional here:
a missing or oddly typed value is skipped, never an error. Whether the model is usable comes
from `models.quality_gate` (through `ModelManifest.usability`); a model that is not is marked
in every text here, with the reason.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeGuard

from spineview.core.preprocess import INTENSITY_SCALINGS
from spineview.models.architectures import ARCHITECTURES, MC_DROPOUT
from spineview.models.quality_gate import (
    NOT_USABLE,
    Usability,
    as_interval,
    auc_interval,
    headline_metrics,
)

if TYPE_CHECKING:
    from spineview.models.catalogue import ModelInfo
    from spineview.models.manifest import ModelManifest

DEMO_SHORT_NOTICE = "demo, synthetic data, not for clinical use"
"""The short demo warning beside a model's name (the manifest's DEMO_NOTICE is the long one)."""

TEXT_WIDTH = 88
"""Long values (descriptions, labelling rules) wrap at this many characters."""

_LABEL_WIDTH = 15
RANDOMISATION_LIMIT = 0.5
"""A median Spearman correlation of trained and random-weight maps below this passes the
randomisation sanity check (Adebayo et al. 2018 show failing methods near 1)."""
_INDENT = "  "

_METRIC_ROWS = (
    ("accuracy", "Accuracy"),
    ("balanced_accuracy", "Balanced accuracy"),
    ("precision", "Precision"),
    ("recall", "Recall"),
    ("f1", "F1"),
    ("roc_auc", "ROC AUC"),
)
_ECE_KEYS = {"raw": ("ece_raw",), "calibrated": ("ece_calibrated", "ece")}
_INTERVAL_ROWS = (
    ("roc_auc", "ROC AUC"),
    ("balanced_accuracy", "Balanced accuracy"),
    ("recall", "Sensitivity"),
    ("specificity", "Specificity"),
)
NOT_USABLE_MARK = NOT_USABLE.upper()
"""How a not-usable model is marked beside its name ("NOT USABLE")."""


def model_summary(manifest: ModelManifest) -> str:
    """One line: name, architecture, the demo warning, "NOT USABLE" for a model the quality
    gate rejects, test ROC AUC (with its 95 % interval where the manifest has one) and balanced
    accuracy.

    >>> model_summary(manifest)  # doctest: +SKIP
    'cnn-demo · cnn · demo, synthetic data, not for clinical use · test ROC AUC 0.965 (95 % ...'
    """
    parts = [manifest.name, manifest.architecture]
    if manifest.demo:
        parts.append(DEMO_SHORT_NOTICE)
    if not manifest.usability.usable:
        parts.append(NOT_USABLE_MARK)
    test = headline_metrics(manifest.metrics)
    figures = []
    if _is_number(test.get("roc_auc")):
        figures.append(f"ROC AUC {_number(test['roc_auc'])}{_auc_interval_text(test)}")
    if _is_number(test.get("balanced_accuracy")):
        figures.append(f"balanced accuracy {_number(test['balanced_accuracy'])}")
    if figures:
        parts.append("test " + ", ".join(figures))
    return " · ".join(parts)


def usability_text(manifest: ModelManifest) -> str:
    """ "Usable: <evidence>" or "NOT USABLE: <reason>", one line (for tooltips and logs)."""
    verdict = manifest.usability
    return f"Usable: {verdict.reason}" if verdict.usable else f"{NOT_USABLE_MARK}: {verdict.reason}"


def level_figures_text(test: dict[str, Any]) -> str:
    """A level model's test figures in one line: "test: 96 % within 5 mm (91–98 %), mean 1.2 mm,
    order 100 %"."""
    within, interval = test.get("within"), test.get("within_ci")
    if not _is_number(within):
        return "no test figures"
    text = f"test: {within:.0%} within {test.get('within_mm', 5):g} mm"
    if isinstance(interval, list) and len(interval) == 2:
        text += f" ({interval[0]:.0%}–{interval[1]:.0%})"
    if _is_number(test.get("mean_mm")):
        text += f", mean {test['mean_mm']:.1f} mm"
    if _is_number(test.get("order_accuracy")):
        text += f", order {test['order_accuracy']:.0%}"
    return text


def level_metrics_lines(metrics: Mapping[str, Any]) -> list[str]:
    """A level model's test figures: overall, per level, and the baseline beside them."""
    test = metrics.get("test")
    if not isinstance(test, Mapping) or not _is_number(test.get("within")):
        return ["Localisation", *_field("Test", "no figures recorded")]
    lines = ["Localisation (test split)"]
    lines += _field(
        "Series / levels", f"{test.get('series', 0)} series, {test.get('levels', 0)} levels"
    )
    lines += _field("All levels", _level_error_text(test))
    order = test.get("order_accuracy")
    if _is_number(order):
        lines += _field("In order", f"{order:.0%} of series (head to feet as marked)")
    per_level = test.get("per_level")
    if isinstance(per_level, Mapping):
        for level, figures in per_level.items():
            if isinstance(figures, Mapping):
                lines += _field(level, _level_error_text(figures))
    by_type = test.get("by_series_type")
    if isinstance(by_type, Mapping):
        for kind, figures in by_type.items():
            if isinstance(figures, Mapping):
                lines += _field(kind, _level_error_text(figures))
    baseline = test.get("mean_position_baseline")
    if isinstance(baseline, Mapping):
        lines += _field("Baseline", "each level at its training mean position: "
                        + _level_error_text(baseline))  # fmt: skip
    return lines


def grade_metrics_lines(metrics: Mapping[str, Any]) -> list[str]:
    """A grading model's test figures: the RSNA score and its terms beside the prior's."""
    test = metrics.get("test")
    if not isinstance(test, Mapping) or not _is_number(test.get("score")):
        return ["Grading", *_field("Test", "no figures recorded")]
    found = test.get("prior")
    prior: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    lines = ["Grading (test split; RSNA 2024 score, lower is better)"]
    lines += _field(
        "Studies / rows", f"{test.get('studies', 0)} studies, {test.get('rows_scored', 0)} rows"
    )
    lines += _field("Score", _score_pair(test.get("score"), prior.get("score")))
    for group, loss in (test.get("losses") or {}).items():
        lines += _field(
            group.capitalize(), _score_pair(loss, (prior.get("losses") or {}).get(group))
        )
    lines += _field(
        "Any severe",
        _score_pair(test.get("any_severe_spinal"), prior.get("any_severe_spinal")),
    )
    interval = test.get("difference_ci")
    if _is_number(test.get("ratio_to_prior")) and isinstance(interval, list):
        lines += _field(
            "Against prior",
            f"ratio {test['ratio_to_prior']:.2f}; difference 95 % interval "
            f"{interval[0]:+.3f} to {interval[1]:+.3f}",
        )
    return lines


def _score_pair(ours: Any, prior: Any) -> str:
    text = f"{ours:.3f}" if _is_number(ours) else "n/a"
    return text + (f" (constant prior {prior:.3f})" if _is_number(prior) else "")


def _gate_lines(usability: Usability) -> list[str]:
    return [
        "Quality gate",
        *_field("Verdict", "usable" if usability.usable else NOT_USABLE),
        *_field("Reason", usability.reason),
    ]


def _level_error_text(figures: Mapping[str, Any]) -> str:
    if not _is_number(figures.get("within")):
        return "not marked in the test split"
    text = (
        f"mean {figures.get('mean_mm', float('nan')):.1f} mm, 90th percentile "
        f"{figures.get('p90_mm', float('nan')):.1f} mm, {figures['within']:.0%} within 5 mm"
    )
    interval = figures.get("within_ci")
    if isinstance(interval, list) and len(interval) == 2:
        text += f" ({interval[0]:.0%}–{interval[1]:.0%})"
    return text


def model_listing(info: ModelInfo) -> str:
    """What `spineview models` prints for one model: name, architecture, where it lives, the
    test AUC with its interval and the description; then the folder; then, for a model the
    quality gate rejects, "NOT USABLE:" and the reason (wrapped)."""
    manifest = info.manifest
    where = "bundled" if info.bundled else "user"
    test = headline_metrics(manifest.metrics)
    auc = test.get("roc_auc")
    auc_text = (
        f"test AUC {float(auc):.3f}{_auc_interval_text(test)}" if _is_number(auc) else "no test AUC"
    )
    if manifest.task == "levels":
        auc_text = level_figures_text(manifest.metrics.get("test", {}))
    elif manifest.task == "grades":
        test = manifest.metrics.get("test", {})
        score, prior = test.get("score"), (test.get("prior") or {}).get("score")
        auc_text = f"test score {_score_pair(score, prior)}"
    usability = manifest.usability
    mark = "" if usability.usable else f"  [{NOT_USABLE_MARK}]"
    lines = [
        f"{manifest.name:24s} {manifest.architecture:9s} {where:8s} {auc_text}{mark}  "
        f"{manifest.description}".rstrip(),
        f"    {info.path}",
    ]
    if not usability.usable:
        lines += textwrap.wrap(
            f"{NOT_USABLE_MARK}: {usability.reason}",
            width=TEXT_WIDTH,
            initial_indent="    ",
            subsequent_indent="      ",
            break_long_words=False,
            break_on_hyphens=False,
        )
    return "\n".join(lines)


def model_details(info: ModelInfo) -> str:
    """Several lines of plain text about the model folder `info`, for a dialog or the terminal.

    Sections: identity and demo notice, model, training data, calibration, test metrics, origin.
    Labels are padded so the text lines up in a fixed-width font.
    """
    manifest = info.manifest
    lines = [manifest.name, "=" * max(len(manifest.name), 8)]
    if manifest.demo_notice:
        lines += [f"*** DEMO MODEL: {manifest.demo_notice} ***", ""]
    usability = manifest.usability
    if not usability.usable:
        lines += textwrap.wrap(
            f"*** {NOT_USABLE_MARK}: {usability.reason} ***",
            width=TEXT_WIDTH,
            break_long_words=False,
            break_on_hyphens=False,
        )
        lines.append("")

    lines.append("Model")
    lines += _field("Location", f"{'bundled' if info.bundled else 'user'} model, {info.path}")
    lines += _field("Architecture", manifest.architecture)
    architecture = ARCHITECTURES.get(manifest.architecture)
    if architecture is not None:
        lines += _field("", architecture.description)
    description = manifest.description.strip()
    if description and description != manifest.demo_notice:
        lines += _field("Description", description)
    lines += _field("Classes", ", ".join(manifest.class_names))
    lines += _field(
        "Input",
        f"{manifest.intensity_scaling} intensity scaling "
        f"({INTENSITY_SCALINGS[manifest.intensity_scaling]})",
    )
    lines += _field(
        "Training dtype", f"{manifest.precision} (weights stored as {manifest.weights_storage})"
    )
    lines += _field(
        "Pretraining",
        "ImageNet weights" if manifest.imagenet_weights else "none (trained from scratch)",
    )

    training = _training_lines(manifest.training, manifest.class_names)
    if training:
        lines += ["", "Training data", *training]

    if manifest.task == "levels":
        lines += ["", *level_metrics_lines(manifest.metrics), "", *_gate_lines(usability)]
        return "\n".join(lines)
    if manifest.task == "grades":
        lines += _field("Temperature", _number(manifest.temperature))
        lines += ["", *grade_metrics_lines(manifest.metrics), "", *_gate_lines(usability)]
        return "\n".join(lines)

    lines += ["", "Calibration"]
    lines += _field("Temperature", _number(manifest.temperature))
    lines += _field("Threshold", f"{manifest.threshold:.2f} (on the calibrated probability)")

    metrics = _metrics_lines(manifest.metrics)
    if metrics:
        lines += ["", *metrics]
        lines += _interval_lines(manifest.metrics)
        lines += _predicted_lines(manifest.metrics, manifest.class_names)
        test_set = manifest.metrics.get("test_set")
        if isinstance(test_set, Mapping) and _is_text(test_set.get("description")):
            lines += _field("Test set", test_set["description"])
        lines += ["", *_gate_lines(usability)]

    lines += ["", "Where its knowledge ends", *_reliability_lines(manifest)]
    heatmaps = manifest.metrics.get("heatmaps")
    if isinstance(heatmaps, Mapping):
        lines += ["", *heatmap_lines(heatmaps)]

    origin = [
        text
        for text in (
            f"created {_date(manifest.created)}" if manifest.created.strip() else "",
            f"with spineview {manifest.spineview_version}"
            if manifest.spineview_version.strip()
            else "",
        )
        if text
    ]
    if origin:
        sentence = " ".join(origin)
        lines += ["", sentence[0].upper() + sentence[1:]]
    return "\n".join(lines)


# --- sections ---------------------------------------------------------------------------------


def _training_lines(training: Mapping[str, Any], class_names: list[str]) -> list[str]:
    if not isinstance(training, Mapping):
        return []
    lines: list[str] = []
    dataset, source = training.get("dataset"), training.get("source")
    if _is_text(dataset):
        lines += _field("Dataset", f"{dataset} ({source} layout)" if _is_text(source) else dataset)
    elif _is_text(source):
        lines += _field("Source", f"{source} layout")

    examples = training.get("examples")
    counts = training.get("class_counts")
    count_text = ""
    if isinstance(counts, Mapping):
        ordered = [name for name in class_names if name in counts]
        ordered += [name for name in counts if name not in ordered]
        count_text = ", ".join(
            f"{name} {counts[name]}" for name in ordered if _is_integer(counts[name])
        )
    if _is_integer(examples):
        lines += _field(
            "Examples", f"{examples} slices" + (f": {count_text}" if count_text else "")
        )
    elif count_text:
        lines += _field("Examples", count_text)

    split = training.get("split")
    if isinstance(split, Mapping):
        parts = [f"{name} {size}" for name, size in split.items() if _is_integer(size)]
        seed = training.get("split_seed")
        if parts:
            seed_text = f" (seed {seed})" if _is_integer(seed) else ""
            lines += _field("Split", ", ".join(parts) + seed_text)

    epochs, requested = training.get("epochs_run"), training.get("epochs_requested")
    if _is_integer(epochs):
        text = str(epochs)
        if _is_integer(requested) and requested > epochs:
            text += f" of {requested} (stopped early)"
        lines += _field("Epochs", text)

    augmentation = training.get("augmentation")
    if _is_text(augmentation):
        lines += _field("Augmentation", augmentation)
    if _is_text(training.get("class_weights")):
        lines += _field("Class weights", training["class_weights"])
    rule = training.get("rule")
    if _is_text(rule) and rule.strip():
        lines += _field("Labels", rule.strip())
    return lines


def _metrics_lines(metrics: Mapping[str, Any]) -> list[str]:
    """A table of test metrics, raw and calibrated columns where the manifest has both."""
    if not isinstance(metrics, Mapping) or not metrics:
        return []
    columns: list[tuple[str, Mapping[str, Any]]] = [
        (name, metrics[name])
        for name in ("raw", "calibrated")
        if isinstance(metrics.get(name), Mapping)
    ]
    if not columns and any(key in metrics for key, _ in _METRIC_ROWS):
        columns = [("test", metrics)]  # an older, flat metrics dict
    if not columns:
        return []

    rows: list[tuple[str, list[str]]] = []
    for key, label in _METRIC_ROWS:
        found = [column.get(key) for _, column in columns]
        if any(_is_number(value) for value in found):
            rows.append((label, [_number(value) for value in found]))
    eces = [_first_number(metrics, _ECE_KEYS.get(name, ("ece",))) for name, _ in columns]
    if any(value is not None for value in eces):
        rows.append(("ECE", [_number(value) for value in eces]))
    if not rows:
        return []

    first = columns[-1][1]
    n, positives = first.get("n", metrics.get("n")), first.get("positives")
    heading = "Test metrics"
    if _is_integer(n):
        heading += f" ({n} slices" + (f", {positives} positive)" if _is_integer(positives) else ")")
    label_width = max(len(label) for label, _ in rows) + 2
    value_width = max(8, *(len(name) for name, _ in columns)) + 2
    lines = [heading]
    lines.append(
        _INDENT + " " * label_width + "".join(name.rjust(value_width) for name, _ in columns)
    )
    for label, values in rows:
        cells = "".join(value.rjust(value_width) for value in values)
        lines.append(_INDENT + label.ljust(label_width) + cells)
    return lines


def _reliability_lines(manifest: ModelManifest) -> list[str]:
    """The distribution check and how the model says how sure it is."""
    check = manifest.distribution_check
    if _is_number(check.get("threshold")):
        fitted, validation = check.get("fitted_slices"), check.get("validation_slices")
        text = f"fitted on {fitted} training slices; slices beyond {check['threshold']:.2f} "
        text += f"(the {check.get('threshold_rule', 'threshold')}"
        text += f", {validation} slices)" if _is_integer(validation) else ")"
        text += " are far from the training data"
    else:
        text = "none: only the headers are checked (fit one with spineview models fit-check)"
    lines = _field("Distribution", text)
    architecture = ARCHITECTURES.get(manifest.architecture)
    method = ""
    if architecture is not None:
        method = architecture.uncertainty_method(bool(manifest.head_posterior))
    if architecture is not None and method == MC_DROPOUT:
        rate = architecture.head_dropout
        text = f"{method}: the spread of 64 thinned networks (dropout {rate:g})"
    elif method:
        prior = manifest.head_posterior.get("prior_precision")
        text = f"{method}: the spread of 64 output layers drawn from the posterior"
        text += f" (prior precision {prior:.3g})" if _is_number(prior) else ""
    else:
        text = "none: results say nothing about how sure the model is"
    return lines + _field("Uncertainty", text)


def heatmap_lines(summary: Mapping[str, Any]) -> list[str]:
    """Where each heatmap method's peak falls (`bench.gradcam.heatmap_summary`)."""
    count = summary.get("true_positive_slices")
    margin = summary.get("dilation_pixels", 3)
    layer = summary.get("layer")
    where = f" at {layer}" if _is_text(layer) else ""
    lines = textwrap.wrap(
        f"Heatmaps{where}: peak within {margin} px of the lesion on {count} true-positive "
        f"slices of {summary.get('source', 'synthetic studies')}",
        width=TEXT_WIDTH,
        break_long_words=False,
        break_on_hyphens=False,
    )
    default = summary.get("default_method")
    methods = summary.get("methods")
    for method, figures in methods.items() if isinstance(methods, Mapping) else ():
        if not isinstance(figures, Mapping):
            continue
        near = figures.get("peak_near_lesion")
        interval = as_interval(figures.get("peak_near_lesion_interval"))
        text = _percent(near) if _is_number(near) else "unknown"
        if interval is not None:
            text += f" ({_percent(interval[0])}–{_percent(interval[1])})"
        median = figures.get("median_peak_to_lesion_px")
        if _is_number(median):
            text += f"; median {median:g} px away"
        flat = figures.get("flat_maps")
        if _is_integer(flat) and flat:
            text += f"; {flat} blank maps"
        if method == default:
            text += " (the default)"
        lines += _field(str(method), text)
    chance = summary.get("random_peak_near_lesion")
    if _is_number(chance):
        lines += _field("By chance", f"{_percent(chance)} (a peak placed at random)")
    spearman = summary.get("randomisation_spearman")
    if _is_number(spearman):
        verdict = (
            "the maps depend on what it learnt"
            if spearman < RANDOMISATION_LIMIT
            else "the maps may show the image more than what it learnt"
        )
        lines += _field(
            "Sanity check",
            f"maps of the same network with random weights correlate {spearman:.2f} (Spearman) "
            f"with the trained ones: {verdict}",
        )
    return lines


def _percent(value: float) -> str:
    return f"{100 * value:.0f} %"


def _interval_lines(metrics: Mapping[str, Any]) -> list[str]:
    """The bootstrap 95 % intervals of the calibrated (headline) metrics, where there are any."""
    test = headline_metrics(metrics)
    rows = [
        (label, interval)
        for key, label in _INTERVAL_ROWS
        if (interval := as_interval(test.get(f"{key}_ci"))) is not None
    ]
    if not rows:
        if _is_number(test.get("roc_auc")):
            return ["", "95 % intervals: unknown (these metrics predate them)"]
        return []
    method = metrics.get("bootstrap") if isinstance(metrics, Mapping) else None
    method = method if isinstance(method, Mapping) else {}
    how = "bootstrap over whole studies" if _is_integer(method.get("groups")) else "bootstrap"
    if _is_integer(method.get("resamples")):
        how += f", {method['resamples']} resamples"
    lines = ["", f"95 % intervals ({how})"]
    width = max(len(label) for label, _ in rows) + 2
    for label, (low, high) in rows:
        lines.append(_INDENT + label.ljust(width) + f"{low:.3f} – {high:.3f}")
    return lines


def _predicted_lines(metrics: Mapping[str, Any], class_names: list[str]) -> list[str]:
    test = headline_metrics(metrics)
    negative, positive = test.get("predicted_negatives"), test.get("predicted_positives")
    if not (_is_integer(negative) and _is_integer(positive)) or len(class_names) < 2:
        return []
    return _field("Predicted", f"{class_names[0]} {negative}, {class_names[1]} {positive}")


# --- formatting helpers -----------------------------------------------------------------------


def _auc_interval_text(test: Mapping[str, Any]) -> str:
    interval = auc_interval(test)
    if interval is None:
        return ""
    return f" (95 % interval {interval[0]:.3f}–{interval[1]:.3f})"


def _field(label: str, value: str) -> list[str]:
    """`label` padded, then `value` wrapped to TEXT_WIDTH with continuation lines aligned."""
    prefix = _INDENT + label.ljust(_LABEL_WIDTH)
    wrapped = textwrap.wrap(
        value,
        width=TEXT_WIDTH,
        initial_indent=prefix,
        subsequent_indent=" " * len(prefix),
        break_long_words=False,
        break_on_hyphens=False,
    )
    return wrapped or [prefix.rstrip()]


def _first_number(metrics: Mapping[str, Any], keys: tuple[str, ...]) -> float | None:
    for key in keys:
        value = metrics.get(key)
        if _is_number(value):
            return float(value)
    return None


def _is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_integer(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_text(value: Any) -> TypeGuard[str]:
    return isinstance(value, str) and bool(value.strip())


def _number(value: Any) -> str:
    """Three decimals for a probability-like figure, "-" for a missing one."""
    if not _is_number(value):
        return "-"
    return f"{float(value):.3f}"


def _date(text: str) -> str:
    """An ISO timestamp as "2026-11-27 09:25 UTC"; other text as it is."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return text.strip()
    offset = moment.utcoffset()
    zone = " UTC" if offset is not None and offset.total_seconds() == 0 else ""
    if offset is not None and zone == "":
        zone = " " + moment.strftime("%z")
    return moment.strftime("%Y-%m-%d %H:%M") + zone

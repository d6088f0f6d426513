"""`manifest.json`: what a model folder says about itself, and the checks it must pass.

A manifest names an architecture from the allowlist (`spineview.ml.architectures`); its input
size, channels, output and Grad-CAM layer must agree with that architecture's entry, so a folder
cannot make spineview build anything other than what the registry describes. Pure Python: no
TensorFlow is imported here, so the viewer can list models before TF has loaded.

Whether a model is usable is judged from its test metrics by `models.quality_gate` whenever it is
asked (`ModelManifest.usability`); manifest.json also carries the verdict ("usable",
"usability_reason") for people and other tools, but reading ignores those two keys, so a
manifest written before them, or edited by hand, is judged by the same rule.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from spineview import __version__
from spineview.core.preprocess import INTENSITY_SCALINGS
from spineview.errors import ModelLoadError
from spineview.models.architectures import ARCHITECTURES, Architecture
from spineview.models.grade_metrics import judge_grade_usability
from spineview.models.level_metrics import judge_level_usability
from spineview.models.quality_gate import Usability, judge_usability

MANIFEST_FORMAT_VERSION = 1
"""The manifest format this spineview writes (and the newest it reads)."""
WEIGHTS_STORAGES = ("float16", "float32")
DEFAULT_CLASS_NAMES = ("healthy", "degenerative")
DEMO_NOTICE = "demo model, trained on synthetic data, not for clinical use"

_SHA256 = re.compile(r"[0-9a-f]{64}")


def _now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass
class ModelManifest:
    name: str
    architecture: str
    """An id of `ARCHITECTURES`; loading builds exactly that network."""
    input_size: int
    channels: int
    output: str
    """"sigmoid", "softmax" or "heatmaps", as the architecture says."""
    gradcam_layer: str
    description: str = ""
    class_names: list[str] = field(default_factory=lambda: list(DEFAULT_CLASS_NAMES))
    preprocessing: str = ""
    """How a slice becomes the network's input, in words (the code lives in ml.preprocess)."""
    intensity_scaling: str = "min-max"
    """The key of `core.preprocess.INTENSITY_SCALINGS` the model was trained with; a manifest
    without it is from before "percentile" existed, so it means min-max."""
    precision: str = "float32"
    """The Keras dtype policy training used ("float32", "mixed_bfloat16", ...)."""
    weights_storage: str = "float16"
    """The dtype of the arrays in model.weights.h5 (Keras casts them back on load)."""
    weights_sha256: str = ""
    """Checksum of model.weights.h5; save_model fills it in."""
    imagenet_weights: bool = False
    """Whether training started from ImageNet weights (False: from scratch)."""
    demo: bool = False
    """Trained on synthetic data: the UI says "not for clinical use"."""
    temperature: float = 1.0
    """Calibration temperature applied to the logit before thresholding."""
    threshold: float = 0.5
    training: dict[str, Any] = field(default_factory=dict)
    """Free-form summary of the training run (data, split, epochs, augmentation, ...)."""
    metrics: dict[str, Any] = field(default_factory=dict)
    distribution_check: dict[str, Any] = field(default_factory=dict)
    """The in-distribution check's summary (`models.distribution_check`) with the sha256 of its
    arrays' file; empty: the model has none (made before it existed), so only the headers are
    checked."""
    head_posterior: dict[str, Any] = field(default_factory=dict)
    """The last-layer posterior's summary (`models.head_posterior`) with the sha256 of its arrays'
    file, for a network without dropout; empty: none (results carry no uncertainty)."""
    task: str = "slices"
    """What the model does, as its architecture says: "slices" (a slice classifier) or
    "levels" (a disc level localiser); a manifest without it is a slice classifier's."""
    created: str = field(default_factory=_now_iso)
    spineview_version: str = __version__
    format_version: int = MANIFEST_FORMAT_VERSION

    @classmethod
    def for_architecture(cls, architecture_id: str, name: str, **fields: Any) -> ModelManifest:
        """A manifest whose input size, channels, output and Grad-CAM layer come from the
        registry entry of `architecture_id`; `fields` sets the rest."""
        architecture = ARCHITECTURES[architecture_id]
        return cls(
            name=name,
            architecture=architecture.id,
            input_size=architecture.input_size,
            channels=architecture.channels,
            output=architecture.output,
            gradcam_layer=architecture.gradcam_layer,
            task=architecture.task,
            **fields,
        )

    @property
    def demo_notice(self) -> str | None:
        """The line the UI shows beside a demo model's results, or None."""
        return DEMO_NOTICE if self.demo else None

    @property
    def usability(self) -> Usability:
        """Usable or not, with the reason: `quality_gate.judge_usability` on the test metrics
        (`level_metrics.judge_level_usability` for a level model)."""
        if self.task == "levels":
            return judge_level_usability(self.metrics)
        if self.task == "grades":
            return judge_grade_usability(self.metrics)
        return judge_usability(self.metrics, self.class_names)

    def to_dict(self) -> dict[str, Any]:
        """The manifest as JSON-ready data, format_version first; the quality gate's verdict
        ("usable", "usability_reason") right after the metrics it was judged from."""
        data = dataclasses.asdict(self)
        ordered: dict[str, Any] = {"format_version": data.pop("format_version")}
        for key, value in data.items():
            ordered[key] = value
            if key == "metrics":
                verdict = self.usability
                ordered["usable"] = verdict.usable
                ordered["usability_reason"] = verdict.reason
        return ordered

    def to_json(self) -> str:
        """The manifest as the text of manifest.json (NumPy scalars become plain numbers)."""
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False, default=_json_default)

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], *, source: Path | str = "manifest.json"
    ) -> ModelManifest:
        """Validate `data` (read from the file `source`) and build the manifest.

        ModelLoadError naming `source` when a field is missing or invalid, when the format is newer
        than this spineview reads, or when the architecture is not in the allowlist (or the
        manifest disagrees with it). Unknown extra keys are ignored.
        """
        if not isinstance(data, Mapping):
            raise _invalid(source, "is not a JSON object")
        version = data.get("format_version")
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise _invalid(source, f"has no valid format_version (got {version!r})")
        if version > MANIFEST_FORMAT_VERSION:
            raise _invalid(
                source,
                f"uses manifest format {version}, newer than this spineview reads "
                f"({MANIFEST_FORMAT_VERSION}); update spineview to use this model",
            )
        architecture_id = data.get("architecture")
        architecture = (
            ARCHITECTURES.get(architecture_id) if isinstance(architecture_id, str) else None
        )
        if architecture is None:
            allowed = ", ".join(sorted(ARCHITECTURES))
            raise _invalid(
                source,
                f"names the unknown architecture {architecture_id!r}; spineview builds only "
                f"{allowed}",
            )
        values: dict[str, Any] = {}
        for spec in dataclasses.fields(cls):
            if spec.name not in data:
                if spec.name in _REQUIRED:
                    raise _invalid(source, f"lacks the field {spec.name!r}")
                continue
            value = data[spec.name]
            check, expected = _CHECKS[spec.name]
            if not check(value):
                raise _invalid(source, f"has an invalid {spec.name}: {value!r} ({expected})")
            values[spec.name] = copy.deepcopy(value)
        for name in ("temperature", "threshold"):
            if name in values:
                values[name] = float(values[name])
        manifest = cls(**values)
        _check_agrees(manifest, architecture, source)
        return manifest


def _invalid(source: Path | str, problem: str) -> ModelLoadError:
    return ModelLoadError(f"{source}: the model manifest {problem}")


def _check_agrees(manifest: ModelManifest, architecture: Architecture, source: Path | str) -> None:
    if manifest.gradcam_layer not in (
        architecture.gradcam_layer,
        *architecture.older_gradcam_layers,
    ):
        raise _invalid(
            source,
            f"says gradcam_layer = {manifest.gradcam_layer!r}, but architecture "
            f"{architecture.id!r} has {architecture.gradcam_layer!r}",
        )
    for name in ("input_size", "channels", "output", "task"):
        ours, theirs = getattr(manifest, name), getattr(architecture, name)
        if ours != theirs:
            raise _invalid(
                source,
                f"says {name} = {ours!r}, but architecture {architecture.id!r} has {theirs!r}",
            )
    if len(manifest.class_names) != architecture.num_classes:
        raise _invalid(
            source,
            f"lists {len(manifest.class_names)} class names; architecture {architecture.id!r} has "
            f"{architecture.num_classes} classes",
        )


def _json_default(value: Any) -> Any:
    """NumPy scalars and arrays, and paths, as JSON values (without importing NumPy)."""
    if hasattr(value, "tolist") and callable(value.tolist):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_text(value: Any) -> bool:
    return isinstance(value, str)


def _is_name(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _is_class_names(value: Any) -> bool:
    return (
        isinstance(value, list)
        and all(_is_name(item) for item in value)
        and len(set(value)) == len(value) >= 2
    )


def _is_fitted_file(value: Any) -> bool:
    """Empty, or the summary of a file fitted after training, naming its sha256."""
    if not isinstance(value, dict):
        return False
    sha = value.get("sha256")
    return not value or (isinstance(sha, str) and _SHA256.fullmatch(sha) is not None)


def _is_distribution_check(value: Any) -> bool:
    return _is_fitted_file(value) and (
        not value or (_is_number(value.get("threshold")) and value["threshold"] > 0)
    )


_CHECKS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "format_version": (_is_int, "an integer"),
    "name": (_is_name, "a non-empty text"),
    "architecture": (_is_name, "an architecture id"),
    "description": (_is_text, "a text"),
    "input_size": (lambda v: _is_int(v) and v > 0, "a positive integer"),
    "channels": (lambda v: _is_int(v) and v > 0, "a positive integer"),
    "class_names": (_is_class_names, "a list of distinct non-empty names"),
    "output": (
        lambda v: v in ("sigmoid", "softmax", "heatmaps", "grades"),
        '"sigmoid", "softmax", "heatmaps" or "grades"',
    ),
    "task": (lambda v: v in ("slices", "levels", "grades"), '"slices", "levels" or "grades"'),
    "preprocessing": (_is_text, "a text"),
    "intensity_scaling": (
        lambda v: v in INTENSITY_SCALINGS,
        " or ".join(f'"{name}"' for name in INTENSITY_SCALINGS),
    ),
    "gradcam_layer": (_is_name, "a layer name"),
    "precision": (_is_name, "a Keras dtype policy name"),
    "weights_storage": (lambda v: v in WEIGHTS_STORAGES, " or ".join(WEIGHTS_STORAGES)),
    "weights_sha256": (
        lambda v: isinstance(v, str) and _SHA256.fullmatch(v) is not None,
        "64 lowercase hexadecimal digits",
    ),
    "imagenet_weights": (lambda v: isinstance(v, bool), "true or false"),
    "demo": (lambda v: isinstance(v, bool), "true or false"),
    "temperature": (lambda v: _is_number(v) and v > 0, "a positive number"),
    "threshold": (lambda v: _is_number(v) and 0 <= v <= 1, "a number from 0 to 1"),
    "training": (lambda v: isinstance(v, dict), "a JSON object"),
    "metrics": (lambda v: isinstance(v, dict), "a JSON object"),
    "distribution_check": (_is_distribution_check, "a JSON object with a threshold and sha256"),
    "head_posterior": (_is_fitted_file, "a JSON object with a sha256"),
    "created": (_is_text, "an ISO date and time"),
    "spineview_version": (_is_text, "a version text"),
}

_REQUIRED = frozenset(
    {
        "format_version",
        "name",
        "architecture",
        "input_size",
        "channels",
        "output",
        "gradcam_layer",
        "class_names",
        "weights_storage",
        "weights_sha256",
    }
)

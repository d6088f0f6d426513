"""The user's settings: one dataclass saved as JSON under the platformdirs config folder.

QSettings keeps window geometry and recent folders; everything else lives here. Loading never
fails: a missing file gives the defaults, a field of the wrong type (or out of range) gives that
field's default, and a file that is not a JSON object is moved aside (never deleted) and replaced
by the defaults. Saving is atomic: a temporary file in the same folder, flushed and fsynced, then
`os.replace`. Pure Python, no Qt, so headless code can read it too.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from spineview.core.files import write_text_atomic
from spineview.core.heatmap import DEFAULT_HEATMAP_METHOD, DEFAULT_OPACITY, HeatmapMethod
from spineview.paths import user_config_dir

logger = logging.getLogger(__name__)

CONFIG_FILE_NAME = "config.json"
LAYOUTS = ("1x1", "1x2")
MAX_CINE_FRAMES_PER_SECOND = 60.0


@dataclass
class Config:
    hide_patient_data: bool = False
    """Whether patient data starts hidden on screen (the P toggle's initial state)."""
    export_hides_patient_data: bool = True
    """Whether exported PNGs leave patient data out, whatever the screen shows."""
    export_folder: str = ""
    """The folder of the last export ("": none yet); never used while inside an opened study."""
    cine_frames_per_second: float = 8.0
    default_layout: str = "1x1"
    """"1x1" (one viewport) or "1x2" (two side by side)."""
    max_recent_folders: int = 10
    model: str = "cnn-demo"
    """The model the viewer loads at start: a model name (user models first) or a folder."""
    load_model_at_start: bool = True
    """Load TensorFlow and the model in the background as soon as the window shows."""
    find_levels_on_open: bool = True
    """Find each opened study's disc levels in the background with the level model."""
    grade_model: str = "grades-demo"
    """The grading model the viewer grades each study's findings with (a name or a folder)."""
    grade_on_levels: bool = True
    """Grade a study's findings as soon as its disc levels are found."""
    level_model: str = "levels-demo"
    """The level model the viewer finds disc levels with: a name (user models first) or a
    folder (the training dialog's "Use this model" sets it for a level model)."""
    classify_on_open: bool = False
    """Classify each series as soon as it is loaded (series the model was not trained on are
    left for the user to start, after the warning)."""
    heatmap_method: HeatmapMethod = DEFAULT_HEATMAP_METHOD
    """Saved as its value ("hirescam", ...); an id given as a plain string becomes a member."""
    heatmap_opacity: float = DEFAULT_OPACITY
    heatmap_healthy_class: bool = False
    """Also map the evidence for "healthy" on slices decided healthy (off: only slices decided
    degenerative get a map; a healthy-class map's hot spot looks like a lesion and is not)."""

    def __post_init__(self) -> None:
        self.heatmap_method = HeatmapMethod(self.heatmap_method)


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool)


def _is_frames_per_second(value: Any) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
        and 0 < value <= MAX_CINE_FRAMES_PER_SECOND
    )


def _is_folder_text(value: Any) -> bool:
    return isinstance(value, str) and len(value) <= 4096 and "\0" not in value


def _is_layout(value: Any) -> bool:
    return value in LAYOUTS


def _is_recent_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 100


def _is_model_reference(value: Any) -> bool:
    return isinstance(value, str) and 0 < len(value) <= 1000


def _is_heatmap_method(value: Any) -> bool:
    return isinstance(value, str) and value in {method.value for method in HeatmapMethod}


def _is_opacity(value: Any) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
        and 0.0 <= value <= 1.0
    )


_VALID: dict[str, Callable[[Any], bool]] = {
    "hide_patient_data": _is_bool,
    "export_hides_patient_data": _is_bool,
    "export_folder": _is_folder_text,
    "cine_frames_per_second": _is_frames_per_second,
    "default_layout": _is_layout,
    "max_recent_folders": _is_recent_count,
    "model": _is_model_reference,
    "load_model_at_start": _is_bool,
    "find_levels_on_open": _is_bool,
    "level_model": _is_model_reference,
    "grade_model": _is_model_reference,
    "grade_on_levels": _is_bool,
    "classify_on_open": _is_bool,
    "heatmap_method": _is_heatmap_method,
    "heatmap_opacity": _is_opacity,
    "heatmap_healthy_class": _is_bool,
}


def config_path() -> Path:
    """Where the config file lives (SPINEVIEW_HOME/config/config.json under tests)."""
    return user_config_dir() / CONFIG_FILE_NAME


def config_from_dict(data: dict[str, Any]) -> Config:
    """A Config from parsed JSON: unknown keys ignored, invalid values replaced by defaults."""
    defaults = Config()
    values: dict[str, Any] = {}
    for field in dataclasses.fields(Config):
        if field.name not in data:
            continue
        value = data[field.name]
        if _VALID[field.name](value):
            is_float = isinstance(getattr(defaults, field.name), float)
            values[field.name] = float(value) if is_float else value
        else:
            default = getattr(defaults, field.name)
            logger.warning(
                "config: invalid value for %s (%s), using the default %r",
                field.name,
                type(value).__name__,
                default.value if isinstance(default, Enum) else default,
            )
    ignored = sorted(set(data) - set(_VALID))
    if ignored:
        logger.info("config: ignoring unknown keys %s", ", ".join(ignored))
    return Config(**values)


def load_config(path: Path | None = None) -> Config:
    """The saved config, or the defaults; never raises for a missing or broken file."""
    path = config_path() if path is None else path
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Config()
    except (OSError, UnicodeDecodeError) as error:
        if isinstance(error, UnicodeDecodeError):
            _move_aside(path, "not UTF-8 text")
        else:
            logger.warning("config: cannot read %s (%s), using defaults", path, error)
        return Config()
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        _move_aside(path, f"not valid JSON ({error.msg}, line {error.lineno})")
        return Config()
    if not isinstance(data, dict):
        _move_aside(path, f"a JSON {type(data).__name__}, not an object")
        return Config()
    return config_from_dict(data)


def save_config(config: Config, path: Path | None = None) -> None:
    """Write `config` atomically (the old file stays whole if anything fails).

    Raises OSError when the folder cannot be created or the file cannot be written.
    """
    path = config_path() if path is None else path
    text = json.dumps(dataclasses.asdict(config), indent=2) + "\n"
    write_text_atomic(path, text)
    logger.debug("config saved to %s", path)


def _move_aside(path: Path, why: str) -> None:
    """Rename a broken config file to `<name>.corrupt-<timestamp>` (never delete it)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    number = 1
    while target.exists():
        target = path.with_name(f"{path.name}.corrupt-{stamp}-{number}")
        number += 1
    try:
        path.rename(target)
    except OSError as error:
        logger.error(
            "config: %s is %s and could not be moved aside (%s); using defaults", path, why, error
        )
        return
    logger.warning("config: %s is %s; moved it to %s and using defaults", path, why, target.name)

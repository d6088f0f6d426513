"""When disc levels may be named, and why not: the rules before and after the level model runs.

Before: a level model reads a sagittal series with geometry and pixel spacing, the mid-sagittal
slice and a neighbour on each side; anything else gets no levels and the reason.
After: the answer is shown only when it looks like a lumbar spine the model knows: the image is
not far from its training images (the distribution check, as for the slice classifiers), L5/S1
is found with some confidence (the sacrum is the anchor: without it every name may be off by
one), the discs lie head to feet in order and a plausible distance apart. A level found with
less than UNSURE_BELOW confidence is still shown, marked as unsure.
"""

from __future__ import annotations

import itertools

import numpy as np

from spineview.core.levels import LEVELS, LevelMap
from spineview.core.series import Series

SAGITTAL_NORMAL_MIN = 0.8
"""|x| of the slice normal (LPS) at least this: a sagittal plane (tilted up to about 37°)."""
MIN_SACRUM_CONFIDENCE = 0.3
"""L5/S1 found with less: no levels (the field of view may not reach the sacrum)."""
MIN_MEAN_CONFIDENCE = 0.3
"""All levels found with less on average: the image is not a spine the model can read."""
UNSURE_BELOW = 0.5
"""A level found with less is shown with a '?'."""
DISC_STEP_MM = (18.0, 60.0)
"""Adjacent lumbar discs lie this far apart in an adult (about 25-45 mm; generous bounds)."""


def series_problem(series: Series) -> str:
    """Why levels cannot be found on `series`, or "" when they can be looked for."""
    if series.n_slices < 2:
        return (
            "the series has a single slice; levels are found on the mid-sagittal slice and its "
            "neighbours"
        )
    if series.orientation is None or not series.has_geometry:
        return (
            "the series has no geometry (ImagePositionPatient / ImageOrientationPatient), so "
            "levels could not be placed on the other series"
        )
    if series.pixel_spacing is None:
        return "the series has no PixelSpacing, so positions in mm are unknown"
    normal = series.normal
    if normal is None or abs(float(normal[0])) < SAGITTAL_NORMAL_MIN:
        return "the series is not sagittal; levels are found on a sagittal T2/STIR or T1 series"
    return ""


def answer_problem(
    levels: LevelMap, confidences: dict[str, float], distance: float | None, threshold: float | None
) -> str:
    """Why the level model's answer must not be shown, or "" when it may."""
    if distance is not None and threshold is not None and distance > threshold:
        return (
            f"the series does not look like the lumbar sagittal images the level model was "
            f"trained on (distance {distance:.1f}, beyond its threshold {threshold:.1f})"
        )
    mean = float(np.mean(list(confidences.values()))) if confidences else 0.0
    if mean < MIN_MEAN_CONFIDENCE:
        return (
            f"the level model is unsure of every level (mean confidence {mean:.0%}): "
            "this does not look like a lumbar spine it can read"
        )
    sacrum = confidences.get(LEVELS[-1], 0.0)
    if sacrum < MIN_SACRUM_CONFIDENCE:
        return (
            f"L5/S1 is not found with confidence ({sacrum:.0%}): the field of view may not "
            "include the sacrum, and without it every level could be off by one"
        )
    if not levels.in_order():
        return "the levels found are not in head-to-feet order, so none is named"
    low, high = DISC_STEP_MM
    for upper, lower in itertools.pairwise(levels.points):
        steps = LEVELS.index(lower.level) - LEVELS.index(upper.level)
        step = float(np.linalg.norm(np.subtract(upper.position, lower.position))) / steps
        if not low <= step <= high:
            return (
                f"{upper.level} and {lower.level} are found {step:.0f} mm apart per disc, "
                f"outside the {low:.0f}-{high:.0f} mm of a lumbar spine"
            )
    return ""


def doubt_text(confidences: dict[str, float]) -> str:
    """The unsure levels, in words ("" when none): "L1/L2 is unsure (41 %)"."""
    unsure = [f"{level} ({value:.0%})" for level, value in confidences.items()
              if value < UNSURE_BELOW]  # fmt: skip
    if not unsure:
        return ""
    verb = "is" if len(unsure) == 1 else "are"
    return f"{', '.join(unsure)} {verb} unsure"

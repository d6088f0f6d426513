"""Small formatting helpers shared by the CLI and the UI."""

from __future__ import annotations

import math


def format_dicom_date(value: str) -> str:
    """DICOM DA ("20240101", or the old "2024.01.01") as ISO "2024-01-01"; other text unchanged."""
    digits = value.replace(".", "").replace("-", "").strip()
    if len(digits) == 8 and digits.isdigit():
        return f"{digits[:4]}-{digits[4:6]}-{digits[6:]}"
    return value


def format_probability(probability: float) -> str:
    """A probability as a whole percentage that never claims certainty: "> 99 %" and "< 1 %"
    at the ends (a model's output is never proof), "no result" for NaN."""
    if math.isnan(probability):
        return "no result"
    percent = probability * 100
    if percent > 99:
        return "> 99 %"
    if percent < 1:
        return "< 1 %"
    return f"{round(percent)} %"


def format_spread(spread: float) -> str:
    """An uncertainty (a standard deviation of probabilities) as "± n %" ("± < 1 %" when tiny;
    "" for NaN)."""
    if math.isnan(spread):
        return ""
    percent = spread * 100
    return "± < 1 %" if percent < 1 else f"± {round(percent)} %"

"""Small formatting helpers shared by the CLI and the UI."""

from __future__ import annotations


def format_dicom_date(value: str) -> str:
    """DICOM DA ("20240101", or the old "2024.01.01") as ISO "2024-01-01"; other text unchanged."""
    digits = value.replace(".", "").replace("-", "").strip()
    if len(digits) == 8 and digits.isdigit():
        return f"{digits[:4]}-{digits[4:6]}-{digits[6:]}"
    return value

"""Safety caps checked before anything is allocated or inflated.

A DICOM header can declare any size: a 1 KB RLE file may claim 20000×20000×10 pixels, and a
deflated file may inflate to gigabytes. These caps are checked against the declared sizes (and
while inflating) so such a file is refused in milliseconds instead of exhausting memory.
"""

from __future__ import annotations

from dataclasses import dataclass

MiB = 1024 * 1024


@dataclass(frozen=True)
class SafetyLimits:
    max_dimension: int = 16_384
    max_frame_bytes: int = 512 * MiB
    max_file_pixel_bytes: int = 2048 * MiB
    max_inflated_bytes: int = 512 * MiB
    max_frames: int = 10_000
    max_series_volume_bytes: int = 8192 * MiB


DEFAULT_LIMITS = SafetyLimits()

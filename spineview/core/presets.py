"""Window presets for MR, where intensities have no fixed units (unlike CT's Hounsfield).

Each MR preset is a pair of percentiles of the displayed slice, so it adapts to any scanner's
scaling; header presets (WindowCenter/WindowWidth) come from the files themselves.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from spineview.core.windowing import WindowPreset, auto_window


@dataclass(frozen=True)
class PercentilePreset:
    name: str
    low: float
    high: float

    def window_for(self, values: np.ndarray) -> WindowPreset:
        if self.low <= 0.0 and self.high >= 100.0:  # everything, background included
            finite = values[np.isfinite(values)]
            low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
            return WindowPreset((low + high) / 2 + 0.5, max(high - low + 1, 1.0), self.name)
        return replace(auto_window(values, self.low, self.high), name=self.name)


AUTO = PercentilePreset("Auto", 0.5, 99.5)
MR_PRESETS: tuple[PercentilePreset, ...] = (
    AUTO,
    PercentilePreset("Full range", 0.0, 100.0),
    PercentilePreset("Soft tissue", 2.0, 99.9),
    PercentilePreset("High contrast", 15.0, 95.0),
)

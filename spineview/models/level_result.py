"""What level localisation found in one study, as the viewer, the CLI and reports read it."""

from __future__ import annotations

from dataclasses import dataclass

from spineview.core.levels import LevelMap


@dataclass(frozen=True)
class FoundLevel:
    """One disc level as the level model placed it on its source series."""

    level: str
    instance_number: int
    x: float
    """Column, in pixels of that instance (as in `train_label_coordinates.csv`)."""
    y: float
    """Row, in pixels of that instance."""
    position: tuple[float, float, float] | None
    """Patient coordinates (LPS, mm); None when the series has no geometry."""
    confidence: float
    """0-1: how concentrated the model's answer is around the point (never 1)."""


@dataclass(frozen=True)
class StudyLevels:
    """The disc levels of one study, or the reason there are none.

    `levels` is None whenever nothing may be shown (no sagittal series, no geometry, a single
    slice, a field of view without the sacrum, a non-lumbar series, an answer out of order):
    `reason` then says why. When levels are given, `reason` says where they come from and any
    doubt ("levels-demo on series 2 (Sagittal T2/STIR); L1/L2 is unsure, 41 %")."""

    study_uid: str
    levels: LevelMap | None
    reason: str
    source_series: str | None = None
    """The key (`SeriesInfo.key`) of the sagittal series the levels were found on."""
    found: tuple[FoundLevel, ...] = ()
    model_name: str = ""

"""What the viewer has open, without Qt: the scan result, the series index, the decoded-series
cache and which slices of each cached series have arrived.

The main window owns one `Session` and asks it; widgets never keep their own copy of this
state. Opening new paths is one `clear()` rather than resetting fields one by one.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from spineview.core.level_display import SeriesLevel, series_level
from spineview.core.measurements import MeasurementStore
from spineview.core.series import Series, StudyContext
from spineview.dicom.index import SeriesInfo, StudyInfo, study_context
from spineview.dicom.scan import ScanResult
from spineview.models.grade_result import StudyGrades
from spineview.models.level_result import StudyLevels

DECODED_CACHE_BYTES = 2 * 1024**3
"""Decoded series kept for instant re-selection (the one being shown is always kept)."""


class Session:
    """The studies and series of one open, and the decoded series kept from it."""

    def __init__(self, cache_bytes: int = DECODED_CACHE_BYTES) -> None:
        self.cache_bytes = cache_bytes
        self.scan_result: ScanResult | None = None
        self.series_info: dict[str, tuple[SeriesInfo, StudyInfo]] = {}
        self.loaded: OrderedDict[str, tuple[Series, np.ndarray]] = OrderedDict()
        """Decoded series by key, least recently shown first, each with a bool mask of the
        slices decoded so far."""
        self.study_levels: dict[str, StudyLevels] = {}
        """The disc levels found (or the reason there are none) per open study UID."""
        self.study_grades: dict[str, StudyGrades] = {}
        """The graded findings (or the reason there are none) per open study UID."""
        self.measurements = MeasurementStore()
        """Distances and angles per series key, kept while the study is open."""

    def clear(self) -> None:
        """Forget everything (new paths are being opened)."""
        self.scan_result = None
        self.series_info.clear()
        self.loaded.clear()
        self.study_levels.clear()
        self.study_grades.clear()
        self.measurements.clear()

    def opened(self, result: ScanResult) -> list[SeriesInfo]:
        """Index a finished scan; its series in study and series order."""
        self.scan_result = result
        for study in result.studies:
            for info in study.series:
                self.series_info[info.key] = (info, study)
        return [info for study in result.studies for info in study.series]

    def set_study_levels(self, result: StudyLevels) -> bool:
        """Keep a study's disc levels; False (nothing kept) when that study is not open, as
        for a result that arrives after other paths were opened."""
        if not any(study.study_uid == result.study_uid for _, study in self.series_info.values()):
            return False
        self.study_levels[result.study_uid] = result
        return True

    def set_study_grades(self, result: StudyGrades) -> bool:
        """Keep a study's graded findings; False (nothing kept) when that study is not open."""
        if not self.study_series(result.study_uid):
            return False
        self.study_grades[result.study_uid] = result
        return True

    def grades_of(self, key: str) -> StudyGrades | None:
        """The graded findings of series `key`'s study, if any were given."""
        entry = self.series_info.get(key)
        return None if entry is None else self.study_grades.get(entry[1].study_uid)

    def study_series(self, study_uid: str) -> list[SeriesInfo]:
        """The indexed series of an open study (empty for a study not open)."""
        return [info for info, study in self.series_info.values() if study.study_uid == study_uid]

    def levels_of(self, key: str) -> StudyLevels | None:
        """The disc levels of series `key`'s study, if any were given."""
        entry = self.series_info.get(key)
        return None if entry is None else self.study_levels.get(entry[1].study_uid)

    def series_levels(self, study_uid: str) -> dict[str, SeriesLevel]:
        """The level of each axial series of a study (by key) from its slices' geometry;
        empty without levels."""
        result = self.study_levels.get(study_uid)
        if result is None or result.levels is None:
            return {}
        named = {}
        for key, (info, study) in self.series_info.items():
            if study.study_uid == study_uid:
                level = series_level(result.levels, [ref.plane for ref in info.slices])
                if level is not None:
                    named[key] = level
        return named

    def study(self, study_uid: str) -> StudyInfo | None:
        """The open study `study_uid`, or None."""
        if self.scan_result is None:
            return None
        return next((s for s in self.scan_result.studies if s.study_uid == study_uid), None)

    def knows(self, key: str) -> bool:
        return key in self.series_info

    def context(self, key: str) -> tuple[SeriesInfo, StudyContext]:
        """The indexed series `key` and its study's context (KeyError for an unknown key)."""
        info, study = self.series_info[key]
        return info, study_context(study)

    def cached(self, key: str) -> tuple[Series, np.ndarray] | None:
        """The decoded series `key` and its loaded-slices mask, now the most recently used."""
        entry = self.loaded.get(key)
        if entry is not None:
            self.loaded.move_to_end(key)
        return entry

    def start_decoding(self, key: str, series: Series) -> np.ndarray:
        """Cache `series` (all NaN until its slices arrive) and return its loaded mask; the
        least recently shown series are dropped while the cache is over its budget."""
        loaded = np.zeros(series.n_slices, dtype=bool)
        self.loaded[key] = (series, loaded)
        while len(self.loaded) > 1 and self._cached_bytes() > self.cache_bytes:
            self.loaded.popitem(last=False)
        return loaded

    def drop_unfinished(self, key: str) -> None:
        """Forget series `key` if not all its slices arrived (a cancelled load): a
        half-decoded series is never shown later as if complete."""
        entry = self.loaded.get(key)
        if entry is not None and not entry[1].all():
            del self.loaded[key]

    def _cached_bytes(self) -> int:
        return sum(series.volume.nbytes for series, _ in self.loaded.values())

"""A model's per-slice and per-series results, as the viewer, the CLI and the verdict rules
read them."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from spineview.models.series_decision import SeriesDecision
from spineview.models.verdict import SeriesVerdict

UNCERTAINTY_SAMPLES = 64
"""Output layers sampled for each slice's uncertainty (dropout masks or posterior draws)."""


@dataclass(frozen=True)
class SlicePredictions:
    """Per-slice results in slice order; NaN where a slice holds no finite pixel."""

    raw: np.ndarray
    """P(positive class) as the network outputs it (float64)."""
    calibrated: np.ndarray
    """The same after the model's temperature scaling: the confidence the UI shows."""
    threshold: float
    distances: np.ndarray | None = None
    """Each slice's distance to the training data (`models.distribution_check`); None: the model
    has no check."""
    samples: np.ndarray | None = None
    """(slices, UNCERTAINTY_SAMPLES) calibrated probabilities under sampled output layers:
    sample t is one network (a dropout mask, or a draw from the last-layer posterior), the
    same for every slice; None: the model has no way to say how sure it is."""
    uncertainty_method: str = ""
    """How the samples were drawn (`Architecture.uncertainty_method`; "" without samples)."""

    @cached_property
    def spread(self) -> np.ndarray | None:
        """Each slice's uncertainty: the standard deviation of its samples."""
        if self.samples is None:
            return None
        with np.errstate(invalid="ignore"):
            return np.asarray(np.std(self.samples, axis=1))

    @property
    def positive(self) -> np.ndarray:
        """True where the calibrated probability reaches the threshold (False for NaN)."""
        with np.errstate(invalid="ignore"):
            return np.asarray(self.calibrated >= self.threshold)

    @property
    def valid(self) -> np.ndarray:
        return np.isfinite(self.calibrated)

    def __len__(self) -> int:
        return len(self.raw)


@dataclass(kw_only=True)
class SeriesOutcome:
    """One model's answer for one series: the per-slice predictions, the series verdict, the
    decision whether it may be shown (`models.series_decision`) and how many uncertainty
    samples agree. The one result type the viewer's job and the CLI share (each adds where the
    series came from)."""

    model_name: str
    class_names: tuple[str, str]
    """The model's (negative, positive) class names."""
    predictions: SlicePredictions
    verdict: SeriesVerdict
    decision: SeriesDecision
    agreement: float
    """Share of uncertainty samples (`SlicePredictions.uncertainty_method`) giving the same
    series verdict (NaN: the model has none)."""
    warnings: list[str] = field(default_factory=list)

    @property
    def shows_verdict(self) -> bool:
        """False for a declined series (unless forced): its numbers are not given out."""
        return self.decision.shows_verdict

    def class_of(self, index: int) -> str:
        """Slice `index`'s class by the one positive-slice rule (`SlicePredictions.positive`);
        "" without a result or when the verdict is withheld."""
        if not self.shows_verdict or not np.isfinite(self.predictions.calibrated[index]):
            return ""
        return self.class_names[int(self.predictions.positive[index])]

    @property
    def verdict_class(self) -> str:
        """The series' class ("" when no slice had a result or the series was declined)."""
        if self.verdict.slices == 0 or not self.shows_verdict:
            return ""
        return self.class_names[int(self.verdict.positive)]

    def spread_of(self, index: int) -> float:
        spread = self.predictions.spread
        return float(spread[index]) if spread is not None else float("nan")

    def distance_of(self, index: int) -> float:
        distances = self.predictions.distances
        return float(distances[index]) if distances is not None else float("nan")

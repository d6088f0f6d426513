"""Classify one series and decide what may be said about it: the one headless path the viewer's
job and `spineview classify` share.

The slices are classified in batches (`Classifier.classify`), the series verdict follows the
stated rule (`models.verdict`), the uncertainty samples say how many sampled networks agree
with it, and the header findings with the slices' distances to the training data decide
whether the verdict is shown (`models.series_decision`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence

import numpy as np

from spineview.errors import SpineViewError
from spineview.ml.inference import Classifier
from spineview.models.predictions import SeriesOutcome
from spineview.models.series_decision import HeaderFinding, decide_series
from spineview.models.verdict import DEFAULT_NEIGHBOURS, series_verdict, verdict_agreement


def classify_series(
    classifier: Classifier,
    slices: Iterable[np.ndarray],
    count: int,
    *,
    positions: np.ndarray | None = None,
    findings: Sequence[HeaderFinding] = (),
    neighbours: int = DEFAULT_NEIGHBOURS,
    progress: Callable[[int, int], None] | None = None,
    cancel: threading.Event | None = None,
    force: bool = False,
) -> SeriesOutcome:
    """Classify the `count` slices of one series in slice order (`positions`: each slice's
    position along the slice normal, for the verdict's neighbours) and decide whether the
    verdict may be given (`force`: give it even when declined). The warnings are the header
    findings'. SpineViewError when the slices are not `count` in number (the series changed
    while it was read); InferenceCancelled when `cancel` is set."""
    predictions = classifier.classify(slices, count=count, progress=progress, cancel=cancel)
    if len(predictions) != count:
        raise SpineViewError(
            f"{len(predictions)} results for {count} slices: the series changed while it was read"
        )
    verdict = series_verdict(predictions.calibrated, predictions.threshold, neighbours, positions)
    decision = decide_series(
        list(findings), predictions.distances, classifier.distribution, classifier.name
    )
    names = classifier.manifest.class_names
    return SeriesOutcome(
        model_name=classifier.name,
        class_names=(names[0], names[1]),
        predictions=predictions,
        verdict=verdict,
        decision=decision.forcing() if force else decision,
        agreement=verdict_agreement(predictions.samples, verdict, positions),
        warnings=[finding.text for finding in findings],
    )

"""The per-series decision rule: accepted, flagged or declined, always with the reason."""

from __future__ import annotations

import numpy as np

from spineview.models.distribution_check import DistributionCheck
from spineview.models.series_decision import (
    DECLINE_SHARE,
    FLAG_SHARE,
    HeaderFinding,
    decide_series,
    slice_ranges,
)

CHECK = DistributionCheck(
    layers=("pool",),
    mean=np.zeros(2),
    precision=np.eye(2),
    threshold=2.0,
    percentile=99.0,
    validation_quantiles={"50": 1.0, "90": 1.6, "99": 2.0},
    shrinkage=0.1,
    fitted_slices=100,
    validation_slices=50,
)


def _distances(far: int, total: int) -> np.ndarray:
    values = np.full(total, 1.0)
    values[:far] = 9.4
    return values


def test_a_familiar_series_is_accepted_without_reasons() -> None:
    decision = decide_series([], _distances(1, 20), CHECK, "cnn-demo")
    assert decision.status == "accepted" and decision.reasons == ()
    assert decision.shows_verdict and decision.far_slices == (0,)


def test_a_series_mostly_far_is_declined_with_the_reason_in_words() -> None:
    decision = decide_series([], _distances(17, 20), CHECK, "cnn-demo")
    assert decision.status == "declined" and not decision.shows_verdict
    assert decision.reasons == (
        "slices 1–17 (17 of 20) are far from anything cnn-demo was trained on (distance up to "
        "9.4; 99 % of its validation slices are below 2.0)",
    )
    forced = decision.forcing()
    assert forced.shows_verdict and forced.label == "declined (shown on request)"


def test_shares_between_the_two_limits_flag() -> None:
    total = 20
    flagged = round(FLAG_SHARE * total)
    assert decide_series([], _distances(flagged, total), CHECK, "m").status == "flagged"
    assert decide_series([], _distances(flagged - 1, total), CHECK, "m").status == "accepted"
    declined = round(DECLINE_SHARE * total)
    assert decide_series([], _distances(declined, total), CHECK, "m").status == "declined"
    # one far slice of two is half the series, but a lone slice never flags a series
    assert decide_series([], _distances(1, 3), CHECK, "m").status == "accepted"


def test_header_findings_flag_or_decline() -> None:
    doubt = HeaderFinding("Se 3: Axial T2 series, but m was trained on sagittal series only")
    flagged = decide_series([doubt], _distances(0, 10), CHECK, "m")
    assert flagged.status == "flagged" and flagged.reasons == (doubt.text,)
    wrong = HeaderFinding("Se 2: modality CT", declines=True)
    assert decide_series([wrong], _distances(0, 10), CHECK, "m").status == "declined"


def test_without_a_check_the_content_is_said_to_be_unchecked() -> None:
    decision = decide_series([], None, None, "old-model")
    assert decision.status == "accepted" and not decision.content_checked
    assert decision.reasons == (
        "the image content was not checked: old-model has no distribution check",
    )
    assert decision.to_dict()["content_checked"] is False


def test_slice_ranges_are_one_based_and_merged() -> None:
    assert slice_ranges([2, 3, 4, 9]) == "3–5, 10"
    assert slice_ranges((0,)) == "1"
    assert slice_ranges([]) == ""

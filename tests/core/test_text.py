"""Formatting that never claims certainty."""

from __future__ import annotations

import pytest

from spineview.core.text import format_probability, format_spread


@pytest.mark.parametrize(
    ("probability", "text"),
    [
        (1.0, "> 99 %"),
        (0.9999, "> 99 %"),
        (0.992, "> 99 %"),
        (0.99, "99 %"),
        (0.874, "87 %"),
        (0.5, "50 %"),
        (0.011, "1 %"),
        (0.004, "< 1 %"),
        (0.0, "< 1 %"),
        (float("nan"), "no result"),
    ],
)
def test_probabilities_never_read_as_certain(probability: float, text: str) -> None:
    assert format_probability(probability) == text


def test_spreads() -> None:
    assert format_spread(0.061) == "± 6 %"
    assert format_spread(0.001) == "± < 1 %"
    assert format_spread(float("nan")) == ""

"""The level model's network, loss and heatmap decoding, and the figures it is judged by."""

from __future__ import annotations

import numpy as np
import pytest

from spineview.core.levels import LEVELS
from spineview.ml.level_model import GRID, MAX_CONFIDENCE, decode_heatmaps
from spineview.models.level_metrics import (
    USABLE_WITHIN,
    in_marked_order,
    judge_level_usability,
    level_report,
    point_errors_mm,
)


def _peaked_logits(points: list[tuple[float, float]], height: float = 12.0) -> np.ndarray:
    """(1, GRID, GRID, levels) logits with one sharp peak per level at (x, y) fractions."""
    logits = np.zeros((1, GRID, GRID, len(points)))
    centres = (np.arange(GRID) + 0.5) / GRID
    for level, (x, y) in enumerate(points):
        distance = (centres[:, None] - y) ** 2 + (centres[None, :] - x) ** 2
        logits[0, :, :, level] = -height * distance * GRID**2 / 4
    return logits


def test_soft_argmax_finds_each_peak_and_is_sure_of_a_sharp_one() -> None:
    wanted = [(0.31, 0.20), (0.35, 0.38), (0.42, 0.55), (0.47, 0.71), (0.55, 0.86)]
    points, confidence, maps = decode_heatmaps(_peaked_logits(wanted))
    assert points.shape == (1, 5, 2) and maps.shape == (1, 5, GRID, GRID)
    assert np.allclose(points[0], wanted, atol=0.5 / GRID)
    assert np.allclose(maps.sum(axis=(2, 3)), 1.0)
    assert np.all(confidence > 0.9) and np.all(confidence <= MAX_CONFIDENCE)


def test_a_flat_heatmap_is_unsure_and_points_at_the_centre() -> None:
    points, confidence, _maps = decode_heatmaps(np.zeros((1, GRID, GRID, 5)))
    assert np.allclose(points, 0.5)
    assert np.all(confidence < 0.05)


def test_errors_use_each_axis_own_spacing_and_skip_unmarked_levels() -> None:
    targets = np.zeros((1, 5, 2))
    predicted = np.zeros((1, 5, 2))
    predicted[0, 0] = (0.1, 0.0)  # 0.1 of 200 columns at 0.8 mm = 16 mm
    predicted[0, 1] = (0.0, 0.1)  # 0.1 of 100 rows at 0.5 mm = 5 mm
    mask = np.array([[True, True, True, True, False]])
    errors = point_errors_mm(
        predicted, targets, mask, np.array([[100, 200]]), np.array([[0.5, 0.8]])
    )
    assert errors[0, :4] == pytest.approx([16.0, 5.0, 0.0, 0.0])
    assert np.isnan(errors[0, 4])


def test_order_compares_found_rows_with_marked_rows() -> None:
    marked = np.array([0.1, 0.3, 0.5, 0.7, 0.9])
    everything = np.ones(5, dtype=bool)
    assert in_marked_order(marked + 0.01, marked, everything)
    swapped = marked.copy()
    swapped[[2, 3]] = swapped[[3, 2]]
    assert not in_marked_order(swapped, marked, everything)
    assert in_marked_order(swapped, marked, np.array([True, True, True, False, True]))


def test_report_gives_intervals_per_level_and_the_baseline() -> None:
    errors = np.array([[1.0, 2.0, 3.0, 8.0, np.nan]] * 4)
    report = level_report(errors, np.array([True, True, False, True]), errors * 10)
    assert report["levels"] == 16 and report["within"] == 0.75
    assert report["within_ci"][0] < 0.75 < report["within_ci"][1]
    assert report["order_accuracy"] == 0.75
    assert report["per_level"]["L4/L5"]["within"] == 0.0
    assert report["per_level"]["L5/S1"] == {"levels": 0}
    assert report["mean_position_baseline"]["within"] == 0.0


def _test_metrics(within: float, interval: list[float], baseline: float) -> dict[str, object]:
    return {
        "test": {
            "levels": 50, "within": within, "within_ci": interval, "order_accuracy": 1.0,
            "mean_position_baseline": {"within": baseline},
        }
    }  # fmt: skip


def test_usability_needs_figures_a_margin_over_the_baseline_and_most_levels_right() -> None:
    assert not judge_level_usability({}).usable
    no_better = judge_level_usability(_test_metrics(0.4, [0.27, 0.55], 0.3))
    assert not no_better.usable and "learnt nothing" in no_better.reason
    too_few = judge_level_usability(_test_metrics(0.7, [0.56, 0.81], 0.0))
    assert not too_few.usable and f"{USABLE_WITHIN:.0%}" in too_few.reason
    good = judge_level_usability(_test_metrics(0.98, [0.9, 1.0], 0.02))
    assert good.usable and "98%" in good.reason and "100% of series in order" in good.reason


@pytest.mark.tf
def test_network_gives_one_heatmap_per_level_and_the_loss_prefers_the_truth() -> None:
    import tensorflow as tf

    from spineview.ml.architectures import build_model
    from spineview.ml.level_model import level_loss

    model = build_model("levels", seed=0)
    assert model.output_shape == (None, GRID, GRID, len(LEVELS))
    assert model.get_layer("bottleneck") is not None
    truth = [(0.3, 0.2), (0.35, 0.4), (0.4, 0.6), (0.45, 0.75), (0.5, 0.9)]
    logits = tf.constant(_peaked_logits(truth), dtype=tf.float32)
    mask = tf.ones((1, 5))
    right = float(level_loss(tf.constant([truth], dtype=tf.float32), mask, logits))
    shifted = [(x, y + 0.1) for x, y in truth]
    wrong = float(level_loss(tf.constant([shifted], dtype=tf.float32), mask, logits))
    assert right < wrong
    unmarked = float(level_loss(tf.constant([shifted], dtype=tf.float32), tf.zeros((1, 5)), logits))
    assert unmarked == 0.0

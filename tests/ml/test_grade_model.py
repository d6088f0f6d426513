"""The grading network's loss is the competition's score, and its outputs go to the right slot."""

from __future__ import annotations

import numpy as np
import pytest

from spineview.models.rsna_metric import Solution, rsna_score

pytestmark = pytest.mark.tf


def test_the_training_loss_is_the_rsna_score_of_the_batch() -> None:
    import tensorflow as tf

    from spineview.ml.grade_model import metric_loss

    rng = np.random.default_rng(4)
    studies = 6
    logits = rng.normal(0.0, 1.5, size=(studies, 25, 3))
    grades = rng.choice([-1, 0, 0, 0, 1, 2], size=(studies, 25))
    grades[0, :5] = [0, 2, 1, 0, 0]  # one study with a Severe spinal level
    present = np.ones((studies, 25), dtype=bool)
    loss = float(metric_loss(tf.constant(logits), tf.constant(grades), tf.constant(present)))
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)
    solution = Solution(tuple(str(i) for i in range(studies)), grades)
    expected = rsna_score(solution, probabilities).score
    assert expected is not None
    assert loss == pytest.approx(expected, rel=1e-4)
    # a finding without a crop is not scored by the loss
    absent = present.copy()
    absent[1, 7] = False
    grades_absent = grades.copy()
    grades_absent[1, 7] = -1
    assert float(
        metric_loss(tf.constant(logits), tf.constant(grades), tf.constant(absent))
    ) == pytest.approx(rsna_score(Solution(solution.study_ids, grades_absent), probabilities).score)


def test_each_slot_reads_its_own_condition_head() -> None:
    import tensorflow as tf

    from spineview.ml.grade_model import SLOT_CONDITION, slot_logits, slot_logits_numpy

    outputs = np.arange(2 * 25 * 5 * 3, dtype=np.float32).reshape(2 * 25, 5, 3)
    chosen = slot_logits_numpy(outputs)
    assert chosen.shape == (2, 25, 3)
    for slot in range(25):
        assert np.array_equal(chosen[1, slot], outputs[25 + slot, SLOT_CONDITION[slot]])
    assert np.allclose(slot_logits(tf.constant(outputs)).numpy(), chosen)

"""`spineview bench learn`: the second generator, the cells' sampling and the report."""

from __future__ import annotations

import numpy as np
import pytest

from spineview.bench import learn as learn_benchmark
from spineview.bench.learn import (
    CELL_SLICES,
    CELLS,
    GOOD_AUC,
    VALIDATION_SHARE,
    CellData,
    _cell_data,
    _choose,
    _coarse,
    _intensity,
    _noise,
    _plain_study_rate,
    _pools,
    _summary,
    held_out_split,
    learn_table,
)
from spineview.data.plain_spine import LESION_SLICES, PlainSpineOptions, plain_spine_slices
from spineview.errors import TrainingError


def test_the_plain_generator_is_seeded_and_labels_only_midline_slices_of_bad_studies() -> None:
    options = PlainSpineOptions(studies=10, slices_per_study=9, positive_rate=0.5, seed=5)
    first, again = plain_spine_slices(options), plain_spine_slices(options)
    assert all(np.array_equal(a, b) for a, b in zip(first.images, again.images, strict=True))
    other = plain_spine_slices(PlainSpineOptions(studies=10, slices_per_study=9, seed=6))
    assert not np.array_equal(first.images[0], other.images[0])
    for group in set(first.groups):
        members = [i for i, g in enumerate(first.groups) if g == group]
        labels = {int(first.labels[i]) for i in members}
        assert len(labels) == 1  # a study is all healthy or all degenerative
        assert len(members) == (LESION_SLICES if labels == {1} else 9)
    assert {0, 1} == set(first.labels.tolist())


def test_the_plain_generator_draws_a_darker_disc_where_it_says_degenerative() -> None:
    sick = plain_spine_slices(PlainSpineOptions(studies=1, positive_rate=1.0, seed=2))
    healthy = plain_spine_slices(PlainSpineOptions(studies=1, positive_rate=0.0, seed=2))
    assert sick.labels.tolist() == [1] * LESION_SLICES
    assert set(healthy.labels.tolist()) == {0}
    middle = PlainSpineOptions.slices_per_study // 2
    assert not np.array_equal(sick.images[LESION_SLICES // 2], healthy.images[middle])


def test_choose_keeps_the_wanted_share_of_positives_and_count() -> None:
    labels = np.array([1] * 100 + [0] * 900)
    rng = np.random.default_rng(0)
    chosen = _choose(labels, 0.4, None, rng)
    assert labels[chosen].mean() == pytest.approx(0.4, abs=0.01)
    assert len(chosen) == 250  # limited by the 100 positives
    small = _choose(labels, None, 300, rng)
    assert len(small) == 300 and labels[small].mean() == pytest.approx(0.1, abs=0.01)
    assert len(set(small.tolist())) == 300


@pytest.mark.parametrize("rate", [0.05, 0.08, 0.4])
def test_the_plain_study_rate_gives_at_least_the_slice_rate(rate: float) -> None:
    study_rate = _plain_study_rate(rate)
    per_study = PlainSpineOptions.slices_per_study
    positives = study_rate * LESION_SLICES
    share = positives / (positives + (1 - study_rate) * per_study)
    assert rate <= share <= rate * 1.35  # a little over: the cell trims to the rate


def test_the_transforms_change_what_they_say_and_keep_the_slice_usable() -> None:
    rng = np.random.default_rng(1)
    pixels = rng.uniform(0, 4095, (192, 160)).astype(np.float32)
    assert _coarse(pixels).shape == (96, 80)
    noisy = _noise(pixels)
    assert noisy.shape == pixels.shape and not np.array_equal(noisy, pixels)
    scaled = _intensity(pixels)
    assert scaled.min() >= 800 and np.sum(scaled > 4 * 0.05 * 4095) > 0  # bright outliers


def test_every_cell_name_is_unique_and_unknown_names_are_refused() -> None:
    names = [cell.name for cell in CELLS]
    assert len(names) == len(set(names)) and "," not in "".join(names)
    with pytest.raises(TrainingError, match="unknown cells"):
        learn_benchmark.bench_learn(cells=["nope"])
    with pytest.raises(TrainingError, match="unknown recipe"):
        learn_benchmark.bench_learn(cells=["plain-8pct"], recipes=["fast"])


def _row(cell: str, recipe: str, auc: float | None, one_class: bool = False) -> dict[str, object]:
    return {"cell": cell, "recipe": recipe, "test_roc_auc": auc, "one_class": one_class,
            "slices": 300, "positive_share": 0.1}  # fmt: skip


def test_the_summary_names_cells_where_the_default_misses_what_another_recipe_reaches() -> None:
    rows = [
        _row("a", "default", 0.95), _row("a", "reference", 0.6, one_class=True),
        _row("b", "default", 0.8), _row("b", "light-augmentation", GOOD_AUC),
        _row("c", "default", 0.7), _row("c", "reference", 0.75),
    ]  # fmt: skip
    summary = _summary(rows)
    assert summary["cells_where_a_recipe_reaches_0.9"] == 2
    assert summary["default_below_0.9_there"] == ["b"]
    assert summary["one_class_runs"] == ["a: reference"]
    assert summary["default_min_auc"] == 0.7
    table = learn_table({"cells": rows})
    assert "0.600 *" in table and "0.950" in table
    assert table.splitlines()[0].split()[-3:] == ["default", "reference", "light-augmentation"]


def test_two_slices_of_one_size_get_their_own_noise_and_outliers() -> None:
    rng = np.random.default_rng(3)
    first, second = (rng.uniform(0, 4095, (64, 64)).astype(np.float32) for _ in range(2))
    outliers = [_intensity(s) > 4 * 0.05 * 4095 for s in (first, second)]
    assert not np.array_equal(outliers[0], outliers[1])  # not one pattern per matrix size
    assert np.array_equal(_intensity(first), _intensity(first))  # repeatable
    assert not np.allclose(_noise(first) - first, _noise(second) - second)


def _cell(groups: list[str], labels: list[int]) -> CellData:
    return CellData(np.zeros((len(groups), 4, 4), np.float16), np.array(labels), groups)


def test_the_held_out_split_tests_on_the_test_pool_only_and_validates_on_training_studies() -> None:
    train_groups = [f"s{i // 3}" for i in range(60)]  # 20 studies of 3 slices
    train = _cell(train_groups, [i % 2 for i in range(60)])
    test = _cell(["t1"] * 4 + ["t2"] * 4, [0, 1] * 4)
    split = held_out_split(train, test, seed=3)
    assert split.test == list(range(60, 68))
    validation_studies = {train_groups[i] for i in split.validation}
    assert len(validation_studies) == round(20 * VALIDATION_SHARE)
    assert not validation_studies & {train_groups[i] for i in split.train}
    assert sum(split.fractions) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="both the training and the test pool"):
        held_out_split(train, _cell(["s0", "t9"], [0, 1]), seed=3)


def test_plain_cells_draw_their_share_from_their_own_pools(tmp_path) -> None:
    cells = [cell for cell in CELLS if cell.source == "plain"]
    pools = _pools(tmp_path, cells, studies=40, test_studies=20, seed=0)
    assert pools.synth_train is None and sorted(pools.plain) == [0.08, 0.4]
    for cell in cells:
        train, test = _cell_data(cell, pools, seed=0, scaling="percentile")
        assert len(train.labels) <= CELL_SLICES
        assert not set(train.groups) & set(test.groups)
        for data in (train, test):
            assert data.labels.mean() == pytest.approx(cell.positive_rate, abs=0.02)
            assert data.images.dtype == np.float16 and data.images.shape[1:] == (224, 224)


def test_bench_learn_trains_and_reports_a_cell_against_its_own_test_studies() -> None:
    report = learn_benchmark.bench_learn(
        studies=8, test_studies=6, epochs=1, recipes=["light-augmentation"], cells=["plain-40pct"]
    )
    (row,) = report["cells"]
    assert row["cell"] == "plain-40pct" and row["recipe"] == "light-augmentation"
    assert row["epochs_run"] == 1 and row["test_positives"] > 0
    assert row["test_slices"] > 0 and row["slices"] > 0
    auc, (low, high) = row["test_roc_auc"], row["test_roc_auc_ci"]
    assert 0.0 <= low <= auc <= high <= 1.0
    assert "plain-40pct" in learn_table(report) and report["test_studies"] == 6

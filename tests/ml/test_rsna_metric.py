"""The RSNA 2024 metric against scikit-learn's log_loss, hand-computed cases and bad submissions."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import log_loss

from spineview.data.rsna_format import LABEL_COLUMNS
from spineview.models.rsna_metric import (
    CLASS_WEIGHTS,
    EPS,
    UNLABELLED,
    Solution,
    SubmissionError,
    fit_prior,
    prior_submission,
    read_submission,
    rsna_score,
    solution_from_labels,
    split_studies,
    study_split,
    write_submission,
)

SPINAL = slice(0, 5)
FORAMINAL = slice(5, 15)
SUBARTICULAR = slice(15, 25)
GROUPS = {"spinal": SPINAL, "foraminal": FORAMINAL, "subarticular": SUBARTICULAR}


def random_case(seed: int, studies: int = 30) -> tuple[Solution, np.ndarray]:
    rng = np.random.default_rng(seed)
    grades = rng.choice(3, size=(studies, 25), p=[0.7, 0.2, 0.1])
    grades[rng.random(grades.shape) < 0.05] = UNLABELLED
    grades[0, :] = [0, 1, 2] * 8 + [2]  # every class in every group
    probabilities = rng.dirichlet([1.0, 1.0, 1.0], size=(studies, 25))
    return Solution(tuple(str(1000 + i) for i in range(studies)), grades), probabilities


def one_study(spinal: list[int], foraminal: int, subarticular: int) -> np.ndarray:
    return np.array([spinal + [foraminal] * 10 + [subarticular] * 10])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_each_group_is_sklearns_weighted_log_loss(seed: int) -> None:
    solution, probabilities = random_case(seed)
    result = rsna_score(solution, probabilities)
    for family, columns in GROUPS.items():
        grades = solution.grades[:, columns]
        labelled = grades != UNLABELLED
        expected = log_loss(
            grades[labelled],
            probabilities[:, columns][labelled],
            sample_weight=CLASS_WEIGHTS[grades[labelled]],
            labels=[0, 1, 2],
        )
        assert result.losses[family] == pytest.approx(expected, rel=1e-12)
    assert result.rows_scored == int((solution.grades != UNLABELLED).sum())


@pytest.mark.parametrize("seed", [3, 4])
def test_any_severe_spinal_is_sklearns_binary_log_loss_over_studies(seed: int) -> None:
    solution, probabilities = random_case(seed)
    labels, predictions, weights = [], [], []
    for grades, rows in zip(solution.grades[:, SPINAL], probabilities[:, SPINAL], strict=True):
        known = grades != UNLABELLED
        if not known.any():
            continue
        labels.append(int((grades[known] == 2).any()))
        predictions.append(rows[known, 2].max())
        weights.append(max(CLASS_WEIGHTS[g] for g in grades[known]))
    expected = log_loss(labels, predictions, sample_weight=weights, labels=[0, 1])
    result = rsna_score(solution, probabilities)
    assert result.losses["any_severe_spinal"] == pytest.approx(expected, rel=1e-12)
    assert result.score == pytest.approx(
        np.mean([result.losses[k] for k in (*GROUPS, "any_severe_spinal")])
    )


def test_hand_computed_single_study() -> None:
    # Spinal: L1/L2 Normal/Mild, L2/L3 Moderate, L3/L4 Severe, L4/L5 Normal/Mild, L5/S1 unlabelled.
    # Predicted [0.5, 0.25, 0.25] on every spinal level (L5/S1: [0.05, 0.05, 0.9], not scored):
    #   spinal = (1·ln 2 + 2·ln 4 + 4·ln 4 + 1·ln 2) / (1 + 2 + 4 + 1) = 14 ln 2 / 8 = 1.75 ln 2
    # Foraminal all Normal/Mild, predicted [0.8, 0.1, 0.1]: −ln 0.8 = ln 1.25
    # Subarticular all Moderate, predicted [0.2, 0.6, 0.2]: −ln 0.6
    # any_severe_spinal: label 1 (L3/L4 Severe), prediction max(0.25 × 4) = 0.25 (L5/S1's 0.9 is
    #   unlabelled, so left out), weight 4; one study: −ln 0.25 = 2 ln 2
    # score = (1.75 ln 2 + ln 1.25 − ln 0.6 + 2 ln 2) / 4
    #       = (1.2130076 + 0.2231436 + 0.5108256 + 1.3862944) / 4 = 3.3332712 / 4 = 0.8333178
    solution = Solution(("7",), one_study([0, 1, 2, 0, UNLABELLED], 0, 1))
    probabilities = np.array(
        [[0.5, 0.25, 0.25]] * 4
        + [[0.05, 0.05, 0.9]]
        + [[0.8, 0.1, 0.1]] * 10
        + [[0.2, 0.6, 0.2]] * 10
    )[None]
    result = rsna_score(solution, probabilities)
    ln2 = math.log(2)
    assert result.losses["spinal"] == pytest.approx(1.75 * ln2, rel=1e-12)
    assert result.losses["foraminal"] == pytest.approx(math.log(1.25), rel=1e-12)
    assert result.losses["subarticular"] == pytest.approx(-math.log(0.6), rel=1e-12)
    assert result.losses["any_severe_spinal"] == pytest.approx(2 * ln2, rel=1e-12)
    assert result.score == pytest.approx(0.8333178, abs=1e-7)
    assert result.rows_scored == 24
    assert result.studies_any_severe == 1


def test_any_severe_weight_is_the_largest_spinal_row_weight() -> None:
    # Study A: spinal Normal, Moderate, Moderate, Normal, Normal → label 0, weight 2 (Moderate);
    #   largest predicted severe 0.3 (L3/L4) → −ln 0.7.
    # Study B: all Normal/Mild → label 0, weight 1; largest severe 0.1 → −ln 0.9.
    # any_severe_spinal = (2·(−ln 0.7) + 1·(−ln 0.9)) / 3 = 0.272904...
    # (A mean row weight, 1.4 for A, would give 0.2520; equal weights 0.2310.)
    grades = np.concatenate([one_study([0, 1, 1, 0, 0], 0, 0), one_study([0] * 5, 0, 0)])
    probabilities = np.full((2, 25, 3), [0.9, 0.05, 0.05])
    probabilities[0, 2] = [0.4, 0.3, 0.3]
    probabilities[1, 0] = [0.8, 0.1, 0.1]
    result = rsna_score(Solution(("1", "2"), grades), probabilities)
    expected = (2 * -math.log(0.7) - math.log(0.9)) / 3
    assert result.losses["any_severe_spinal"] == pytest.approx(expected, rel=1e-12)
    assert result.losses["any_severe_spinal"] == pytest.approx(0.272904, abs=1e-6)


def test_unlabelled_rows_are_not_scored() -> None:
    solution, probabilities = random_case(5)
    grades = solution.grades.copy()
    grades[1:, 3] = UNLABELLED  # spinal L4/L5 of all studies but the first
    grades[2, SPINAL] = UNLABELLED  # one study without any spinal label
    solution = Solution(solution.study_ids, grades)
    before = rsna_score(solution, probabilities)
    changed = probabilities.copy()
    changed[grades == UNLABELLED] = [0.0, 0.0, 1.0]  # would be costly (and 'severe') if scored
    after = rsna_score(solution, changed)
    assert after.losses == pytest.approx(before.losses, rel=1e-12)
    assert after.rows_scored == int((grades != UNLABELLED).sum())
    assert after.studies_any_severe == len(solution.study_ids) - 1


def test_rows_are_renormalised() -> None:
    solution, probabilities = random_case(6)
    scale = np.random.default_rng(6).uniform(0.1, 30.0, size=(*probabilities.shape[:2], 1))
    normalised = rsna_score(solution, probabilities)
    scaled = rsna_score(solution, probabilities * scale)
    assert scaled.losses == pytest.approx(normalised.losses, rel=1e-9)
    # Rows [2, 1, 1] of Moderate levels score as [0.5, 0.25, 0.25]: −ln 0.25 = ln 4. (Clipping
    # to 1 − eps before dividing, as the competition's code did, would give 1/3 each: ln 3.)
    single = Solution(("9",), one_study([1] * 5, 1, 1))
    result = rsna_score(single, np.full((1, 25, 3), [2.0, 1.0, 1.0]))
    assert result.losses["spinal"] == pytest.approx(math.log(4), rel=1e-12)


def test_probabilities_are_clipped_as_sklearn_does() -> None:
    # A certain, wrong row [1, 0, 0] on a Severe level: clipped to [1 − eps, eps, eps], divided by
    # its sum 1 + eps: −ln(eps / (1 + eps)) ≈ 36.04, finite rather than infinite.
    solution = Solution(("3",), one_study([2] * 5, 2, 2))
    result = rsna_score(solution, np.full((1, 25, 3), [1.0, 0.0, 0.0]))
    assert result.losses["spinal"] == pytest.approx(-math.log(EPS / (1 + EPS)), rel=1e-12)
    assert result.losses["spinal"] == pytest.approx(36.04365, abs=1e-4)
    perfect = np.zeros((1, 25, 3))
    perfect[0, :, 2] = 1.0
    assert rsna_score(solution, perfect).score == pytest.approx(0.0, abs=1e-12)


def test_prior_is_the_smoothed_class_frequency_per_level() -> None:
    # Level 0 over four studies: Normal, Normal, Severe, unlabelled → counts (2, 0, 1), plus one
    # each: (3, 1, 2) / 6.
    grades = np.zeros((4, 25), dtype=np.int64)
    grades[:, 0] = [0, 0, 2, UNLABELLED]
    prior = fit_prior(Solution(("1", "2", "3", "4"), grades))
    assert prior.shape == (25, 3)
    assert prior[0] == pytest.approx([3 / 6, 1 / 6, 2 / 6])
    assert prior[1] == pytest.approx([5 / 7, 1 / 7, 1 / 7])
    assert prior.sum(axis=1) == pytest.approx(np.ones(25))


def test_study_split_is_disjoint_and_repeatable() -> None:
    rng = np.random.default_rng(8)
    labels = {
        str(100 + i): {c: int(rng.choice(3, p=[0.8, 0.15, 0.05])) for c in LABEL_COLUMNS}
        for i in range(40)
    }
    split = study_split(labels, seed=0)
    names = ("train", "validation", "test")
    parts = [split_studies(split, name) for name in names]
    assert sorted(s for part in parts for s in part) == sorted(labels)
    assert all(parts)
    assert split_studies(study_split(labels, seed=0), "test") == parts[2]


# --- submission files ----------------------------------------------------------------------


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def full_rows(study_id: str, values: str = "0.7,0.2,0.1") -> list[str]:
    return [f"{study_id}_{column},{values}" for column in LABEL_COLUMNS]


def test_submission_round_trip(tmp_path: Path) -> None:
    prior = np.random.default_rng(1).dirichlet([1, 1, 1], size=25)
    path = tmp_path / "prior.csv"
    write_submission(path, prior_submission(prior, ["11", "12"]))
    submission = read_submission(path)
    solution = solution_from_labels(
        {s: dict.fromkeys(LABEL_COLUMNS, 0) for s in ("12", "11")}, ["12", "11"]
    )
    assert np.array_equal(submission.rows_for(solution), np.stack([prior, prior]))


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (["row_id,normal_mild,moderate", "1_spinal_canal_stenosis_l1_l2,1,0"],
         "missing columns: severe"),
        (["row_id,normal_mild,moderate,severe", "1_spinal_canal_stenosis_l1_l2,0.5,x,0.2"],
         "line 2 (1_spinal_canal_stenosis_l1_l2): moderate 'x' is not a number"),
        (["row_id,normal_mild,moderate,severe", "1_spinal_canal_stenosis_l1_l2,0.5,0.6,-0.1"],
         "line 2 (1_spinal_canal_stenosis_l1_l2): severe '-0.1' is negative"),
        (["row_id,normal_mild,moderate,severe", "1_spinal_canal_stenosis_l1_l2,nan,0.5,0.5"],
         "normal_mild 'nan' is not a finite number"),
        (["row_id,normal_mild,moderate,severe", "1_spinal_canal_stenosis_l6_l7,0.5,0.3,0.2"],
         "line 2: unknown row_id '1_spinal_canal_stenosis_l6_l7'"),
        (["row_id,normal_mild,moderate,severe", "1_spinal_canal_stenosis_l1_l2,0.5,0.3,0.2",
          "1_spinal_canal_stenosis_l1_l2,0.5,0.3,0.2"],
         "line 3: row_id 1_spinal_canal_stenosis_l1_l2 repeats line 2"),
        (["row_id,normal_mild,moderate,severe", "1_spinal_canal_stenosis_l1_l2,0,0,0"],
         "line 2 (1_spinal_canal_stenosis_l1_l2): all three probabilities are 0"),
        (["row_id,normal_mild,moderate,severe", "1_spinal_canal_stenosis_l1_l2,0.5,0.5"],
         "line 2: 3 fields, the header has 4"),
    ],
)  # fmt: skip
def test_bad_submissions_name_file_line_and_problem(
    tmp_path: Path, lines: list[str], expected: str
) -> None:
    path = write_lines(tmp_path / "bad.csv", lines)
    with pytest.raises(SubmissionError) as caught:
        read_submission(path)
    assert str(path) in str(caught.value)
    assert expected in str(caught.value)


def test_missing_rows_of_a_study_are_counted(tmp_path: Path) -> None:
    rows = full_rows("21")[:22] + full_rows("22")
    path = write_lines(tmp_path / "short.csv", ["row_id,normal_mild,moderate,severe", *rows])
    labels = {s: dict.fromkeys(LABEL_COLUMNS, 0) for s in ("21", "22", "23")}
    with pytest.raises(SubmissionError) as caught:
        read_submission(path).rows_for(solution_from_labels(labels, ["21", "22", "23"]))
    message = str(caught.value)
    assert "study 21: 3 of its 25 rows are missing" in message
    assert "1 studies evaluated have no rows: 23" in message
    assert "study 22" not in message


def test_studies_outside_the_solution_are_ignored(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "more.csv",
        ["row_id,normal_mild,moderate,severe", *full_rows("31"), *full_rows("32")],
    )
    submission = read_submission(path)
    solution = solution_from_labels({"31": dict.fromkeys(LABEL_COLUMNS, 0)}, ["31"])
    assert submission.rows_for(solution).shape == (1, 25, 3)
    assert submission.studies_not_in(solution) == ["32"]

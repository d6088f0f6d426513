"""The RSNA 2024 Lumbar Spine competition metric, submissions, and a constant per-level prior.

Where each detail comes from:

- The score is the competition's scoring function `score(solution, submission, row_id_column_name,
  any_severe_scalar)` as copied into public solution repositories (read in
  brendanartley/RSNA-2024-Competition, src/metrics/metric.py, commit 326fe02): for each condition
  group (spinal; foraminal = left + right; subarticular = left + right) one
  `sklearn.metrics.log_loss(one-hot truth, [normal_mild, moderate, severe], sample_weight)`; then
  `any_severe_spinal`: per study, label = max of the spinal rows' one-hot `severe` (any Severe
  level), prediction = max of the submission's `severe` over the same rows, weight = max of those
  rows' sample weights, a binary weighted log loss; the score is `np.average` of the four losses
  with weights (1, 1, 1, any_severe_scalar). The solution repositories call it with
  `any_severe_scalar=1.0`, so the score is the plain mean of the four.
- Sample weights 1 / 2 / 4 for a true Normal/Mild / Moderate / Severe row: the solution's
  `sample_weight` column, as ../shared/data/RSNA2024_FORMAT.md section 5 records it.
- Clipping and renormalisation are scikit-learn's `log_loss` of the versions Kaggle ran in 2024
  (1.2–1.4, `eps="auto"`): probabilities clipped to [eps, 1 − eps] with eps the float64 machine
  epsilon (2.2e-16), then each row divided by its sum, then the weighted mean of −log p(true class)
  (`np.average` with the sample weights). A binary prediction q is clipped first and becomes the
  row [1 − q, q]. (scikit-learn ≥ 1.5 no longer renormalises and refuses values above 1, so this
  module computes the loss itself rather than calling a version that scores differently.)

Choices of spineview where the competition's code is silent or would fail:

- Unlabelled cells of train.csv (empty) are left out of every term, as if the solution had no such
  row: a group's loss is over its labelled rows, and `any_severe_spinal` over each study's labelled
  spinal rows (label, prediction and weight alike; a study with none is left out of that term).
- Each row is first divided by its sum, then clipped and divided again as above, so any
  non-negative numbers with a positive sum are accepted as the distribution they are in
  proportion to, and `any_severe_spinal` takes the largest of those normalised `severe`
  probabilities. For rows that sum to 1 (a valid submission's) this is exactly the competition's
  result. For other rows the competition's code differs: it clipped before dividing (so a row in
  percent, [70, 20, 10], scored as 1/3 each) and took the raw `severe` column for
  `any_severe_spinal` (which could exceed 1).
- A row whose three numbers are all 0 is refused: it is no distribution at all, usually a bug in
  whatever wrote it; scikit-learn's clipping would silently score it as 1/3 each.
- scikit-learn refuses a binary log loss whose labels hold one class only (e.g. no study with a
  Severe spinal level); here the binary term's classes are fixed to {0, 1}, so it is defined.
- A group with no labelled row has no loss (None) and then the score is None too.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from spineview.core.files import write_text_atomic
from spineview.data.problems import DatasetProblem, ProblemLog
from spineview.data.rsna import CONDITION_FAMILY, FAMILIES
from spineview.data.rsna_format import CONDITIONS, LABEL_COLUMNS, LEVELS
from spineview.data.rsna_tables import read_labels, read_table
from spineview.data.splits import Split, grouped_split
from spineview.errors import DatasetError

GRADE_COLUMNS: tuple[str, str, str] = ("normal_mild", "moderate", "severe")
SUBMISSION_COLUMNS: tuple[str, ...] = ("row_id", *GRADE_COLUMNS)
CLASS_WEIGHTS = np.array([1.0, 2.0, 4.0])
"""Sample weight of a row by its true grade (Normal/Mild, Moderate, Severe)."""
ANY_SEVERE_SPINAL = "any_severe_spinal"
TERMS: tuple[str, ...] = (*FAMILIES, ANY_SEVERE_SPINAL)
EPS = float(np.finfo(np.float64).eps)
UNLABELLED = -1
PRIOR_SMOOTHING = 1.0
"""Add-one (Laplace) smoothing of the prior's class counts: a grade never seen at a level in
training still gets a small probability, so one Severe there costs a finite loss."""
MAX_LISTED_PROBLEMS = 10

_FAMILY_COLUMNS: dict[str, np.ndarray] = {
    family: np.array([CONDITION_FAMILY[c] == family for c in CONDITIONS for _level in LEVELS])
    for family in FAMILIES
}  # family → a mask over the 25 columns
_SPINAL_COLUMNS = np.flatnonzero(_FAMILY_COLUMNS["spinal"])
_COLUMN_INDEX = {column: i for i, column in enumerate(LABEL_COLUMNS)}


class SubmissionError(DatasetError):
    """A submission file that cannot be scored; the message lists its problems with lines."""


@dataclass(frozen=True)
class Solution:
    """The truth: per study (in `study_ids` order) the 25 grades of LABEL_COLUMNS, −1 unlabelled."""

    study_ids: tuple[str, ...]
    grades: np.ndarray  # (studies, 25) int64

    @property
    def rows_labelled(self) -> int:
        return int((self.grades != UNLABELLED).sum())


@dataclass(frozen=True)
class Submission:
    """A read submission: per study the (25, 3) probabilities, NaN where a row was not given."""

    path: Path
    probabilities: dict[str, np.ndarray]

    def rows_for(self, solution: Solution) -> np.ndarray:
        """The (studies, 25, 3) probabilities of the solution's studies, in its order.

        Raises SubmissionError naming each study with missing rows and how many are missing.
        """
        problems = []
        absent = [s for s in solution.study_ids if s not in self.probabilities]
        if absent:
            shown = ", ".join(absent[:MAX_LISTED_PROBLEMS])
            more = len(absent) - MAX_LISTED_PROBLEMS
            more_text = f" and {more} more" if more > 0 else ""
            problems.append(f"{len(absent)} studies evaluated have no rows: {shown}{more_text}")
        for study_id in solution.study_ids:
            rows = self.probabilities.get(study_id)
            if rows is None:
                continue
            missing = np.flatnonzero(np.isnan(rows[:, 0]))
            if len(missing):
                problems.append(
                    f"study {study_id}: {len(missing)} of its {len(LABEL_COLUMNS)} rows are "
                    f"missing (e.g. {study_id}_{LABEL_COLUMNS[missing[0]]})"
                )
        if problems:
            raise SubmissionError(_problem_text(self.path, problems))
        return np.stack([self.probabilities[s] for s in solution.study_ids]).reshape(-1, 25, 3)

    def studies_not_in(self, solution: Solution) -> list[str]:
        wanted = set(solution.study_ids)
        return sorted((s for s in self.probabilities if s not in wanted), key=int)


@dataclass(frozen=True)
class MetricResult:
    """The four losses, their mean (`score`), and what was scored."""

    losses: dict[str, float | None]  # spinal, foraminal, subarticular, any_severe_spinal
    rows_scored: int
    studies: int
    studies_any_severe: int  # studies with a labelled spinal row (the fourth term's rows)

    @property
    def score(self) -> float | None:
        values = [v for term in TERMS if (v := self.losses[term]) is not None]
        return float(np.mean(values)) if len(values) == len(TERMS) else None

    def as_json(self) -> dict[str, object]:
        return {
            "losses": {family: self.losses[family] for family in FAMILIES},
            ANY_SEVERE_SPINAL: self.losses[ANY_SEVERE_SPINAL],
            "score": self.score,
            "rows_scored": self.rows_scored,
        }


# --- the metric ----------------------------------------------------------------------------


def weighted_log_loss(truth: np.ndarray, probabilities: np.ndarray, weights: np.ndarray) -> float:
    """scikit-learn 1.2–1.4's `log_loss(one-hot truth, probabilities, sample_weight=weights)`.

    `truth` holds class indices. Each row of `probabilities` is divided by its sum, then, as
    scikit-learn does, clipped to [eps, 1 − eps] and divided by its sum again; the weighted mean
    of −log p(true class) is returned. (The first division makes no difference for rows that sum
    to 1; see the module notes for the others.)
    """
    rows = np.asarray(probabilities, dtype=np.float64)
    clipped = np.clip(rows / rows.sum(axis=1, keepdims=True), EPS, 1 - EPS)
    clipped /= clipped.sum(axis=1, keepdims=True)
    losses = -np.log(clipped[np.arange(len(truth)), truth])
    return float(np.average(losses, weights=weights))


def rsna_score(solution: Solution, probabilities: np.ndarray) -> MetricResult:
    """Score (studies, 25, 3) probabilities aligned with `solution` (see the module notes)."""
    grades = solution.grades
    predicted = np.asarray(probabilities, dtype=np.float64).reshape(len(grades), 25, 3)
    if not np.isfinite(predicted).all() or (predicted < 0).any() or (predicted.sum(2) <= 0).any():
        raise ValueError("probabilities must be finite, >= 0, with a positive sum per row")
    labelled = grades != UNLABELLED
    weights = CLASS_WEIGHTS[np.where(labelled, grades, 0)]
    losses: dict[str, float | None] = {}
    for family in FAMILIES:
        mask = labelled & _FAMILY_COLUMNS[family][None, :]
        losses[family] = (
            weighted_log_loss(grades[mask], predicted[mask], weights[mask]) if mask.any() else None
        )
    spinal_mask = labelled[:, _SPINAL_COLUMNS]
    studies = spinal_mask.any(axis=1)
    spinal_grades = np.where(spinal_mask, grades[:, _SPINAL_COLUMNS], UNLABELLED)[studies]
    severe = predicted[:, _SPINAL_COLUMNS, 2] / predicted[:, _SPINAL_COLUMNS].sum(axis=2)
    severe = np.where(spinal_mask, severe, -np.inf)[studies]
    if studies.any():
        any_severe = (spinal_grades.max(axis=1) == 2).astype(np.int64)
        q = severe.max(axis=1)
        study_weights = CLASS_WEIGHTS[spinal_grades.max(axis=1)]
        losses[ANY_SEVERE_SPINAL] = weighted_log_loss(
            any_severe, np.stack([1 - q, q], axis=1), study_weights
        )
    else:
        losses[ANY_SEVERE_SPINAL] = None
    return MetricResult(
        losses=losses,
        rows_scored=int(labelled.sum()),
        studies=len(grades),
        studies_any_severe=int(studies.sum()),
    )


# --- the solution --------------------------------------------------------------------------


def solution_from_labels(
    labels: Mapping[str, Mapping[str, int | None]], study_ids: Iterable[str]
) -> Solution:
    """The solution of `study_ids` from train.csv labels (study → column → grade or None)."""
    ids = tuple(study_ids)
    unknown = [s for s in ids if s not in labels]
    if unknown:
        raise DatasetError(
            f"{len(unknown)} studies have no row in train.csv: {', '.join(unknown[:10])}"
        )
    grades = np.array(
        [
            [UNLABELLED if (g := labels[s].get(c)) is None else g for c in LABEL_COLUMNS]
            for s in ids
        ],
        dtype=np.int64,
    ).reshape(len(ids), len(LABEL_COLUMNS))
    return Solution(ids, grades)


def read_train_labels(
    train_csv: Path,
) -> tuple[dict[str, dict[str, int | None]], list[DatasetProblem]]:
    """train.csv's grades per study, and the problems found reading it (bad cells → None)."""
    log = ProblemLog()
    labels = read_labels(train_csv, log)
    if not labels:
        raise DatasetError(f"{train_csv}: no study rows")
    return labels, log.problems


def study_split(labels: Mapping[str, Mapping[str, int | None]], *, seed: int = 0) -> Split:
    """The studies of train.csv split train/validation/test with `grouped_split`.

    One example per study (the study is its own group), stratified by its worst known grade, so
    each split gets its share of studies with a Severe finding. The same labels and seed always
    give the same split.
    """
    ids = sorted(labels, key=int)
    worst = [max((g for g in labels[s].values() if g is not None), default=0) for s in ids]
    return grouped_split(ids, worst, seed=seed)


def split_studies(split: Split, name: str) -> list[str]:
    """The study ids of split `name`, in ascending order."""
    return sorted((s for s, where in split.group_split.items() if where == name), key=int)


# --- submissions ---------------------------------------------------------------------------


def read_submission(path: Path) -> Submission:
    """Read and check a submission CSV (`row_id,normal_mild,moderate,severe`).

    Every problem is collected (missing or unexpected columns, rows with the wrong number of
    fields, unknown row_ids, duplicates, numbers that are not finite, negative or all zero) and
    raised as one SubmissionError naming the file and the lines.
    """
    table = read_table(path)
    missing = [c for c in SUBMISSION_COLUMNS if c not in table.columns]
    extra = [c for c in table.columns if c not in SUBMISSION_COLUMNS]
    repeated = sorted({c for c in table.columns if table.columns.count(c) > 1})
    header = []
    if missing:
        header.append(f"missing columns: {', '.join(missing)}")
    if extra:
        header.append(f"unexpected columns: {', '.join(extra)}")
    if repeated:
        header.append(f"repeated columns: {', '.join(repeated)}")
    if header:
        header.append(f"a submission's header is {','.join(SUBMISSION_COLUMNS)}")
        raise SubmissionError(_problem_text(path, header))
    probabilities: dict[str, np.ndarray] = {}
    seen: dict[str, int] = {}
    problems: list[str] = []
    for row in table.rows:
        where = f"line {row.line}"
        if row.field_count != len(table.columns):
            problems.append(f"{where}: {row.field_count} fields, the header has 4")
            continue
        row_id = row.cells["row_id"]
        parsed = _parse_row_id(row_id)
        if parsed is None:
            problems.append(
                f"{where}: unknown row_id {row_id!r} (expected <study_id>_<condition>_<level>, "
                f"e.g. 4003253_{LABEL_COLUMNS[0]})"
            )
            continue
        if row_id in seen:
            problems.append(f"{where}: row_id {row_id} repeats line {seen[row_id]}")
            continue
        seen[row_id] = row.line
        values = _row_values(row.cells, f"{where} ({row_id})", problems)
        if values is None:
            continue
        study_id, column = parsed
        rows = probabilities.setdefault(study_id, np.full((len(LABEL_COLUMNS), 3), np.nan))
        rows[column] = values
    if problems:
        raise SubmissionError(_problem_text(path, problems))
    if not probabilities:
        raise SubmissionError(f"{path}: no rows")
    return Submission(path, probabilities)


def _parse_row_id(row_id: str) -> tuple[str, int] | None:
    study_id, _, column = row_id.partition("_")
    if not (study_id.isascii() and study_id.isdigit()) or column not in _COLUMN_INDEX:
        return None
    return study_id, _COLUMN_INDEX[column]


def _row_values(cells: Mapping[str, str], where: str, problems: list[str]) -> list[float] | None:
    values = []
    for column in GRADE_COLUMNS:
        text = cells[column]
        try:
            value = float(text)
        except ValueError:
            problems.append(f"{where}: {column} {text!r} is not a number")
            return None
        if not math.isfinite(value):
            problems.append(f"{where}: {column} {text!r} is not a finite number")
            return None
        if value < 0:
            problems.append(f"{where}: {column} {text!r} is negative")
            return None
        values.append(value)
    if not any(values):
        problems.append(
            f"{where}: all three probabilities are 0; a row must give each grade a probability "
            "(rows are divided by their sum, and a zero row has none)"
        )
        return None
    return values


def _problem_text(path: Path, problems: Sequence[str]) -> str:
    shown = list(problems[:MAX_LISTED_PROBLEMS])
    if len(problems) > MAX_LISTED_PROBLEMS:
        shown.append(f"... and {len(problems) - MAX_LISTED_PROBLEMS} more problems")
    return f"{path}: not a usable submission:\n  " + "\n  ".join(shown)


def write_submission(path: Path, probabilities: Mapping[str, np.ndarray]) -> None:
    """Write study → (25, 3) probabilities as a submission CSV (25 rows per study, file
    order), atomically: a reader never sees half a file."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(SUBMISSION_COLUMNS)
    for study_id, rows in probabilities.items():
        for column, values in zip(LABEL_COLUMNS, np.asarray(rows), strict=True):
            writer.writerow([f"{study_id}_{column}", *(repr(float(v)) for v in values)])
    write_text_atomic(Path(path), buffer.getvalue(), mode=0o644)


# --- the constant prior --------------------------------------------------------------------


def fit_prior(solution: Solution, *, smoothing: float = PRIOR_SMOOTHING) -> np.ndarray:
    """Per condition × level (the 25 columns) the smoothed class frequencies, shape (25, 3).

    Frequencies of the labelled rows with `smoothing` added to each class count:
    (n_c + α) / (n + 3α). Unlabelled rows are not counted.
    """
    counts = np.stack([(solution.grades == grade).sum(axis=0) for grade in range(3)], axis=1)
    smoothed = counts.astype(np.float64) + smoothing
    return np.asarray(smoothed / smoothed.sum(axis=1, keepdims=True))


def prior_submission(prior: np.ndarray, study_ids: Iterable[str]) -> dict[str, np.ndarray]:
    """The same (25, 3) prior for every study: a submission for any set of studies."""
    return {study_id: prior.copy() for study_id in study_ids}

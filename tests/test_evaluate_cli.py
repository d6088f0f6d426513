"""`spineview evaluate` on 12 synthetic studies: the prior, a perfect and a uniform submission."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

import pytest

from spineview.cli import EXIT_ERROR, EXIT_OK, run
from spineview.data.rsna_format import LABEL_COLUMNS, SEVERITY_INDEX
from spineview.data.synth import SynthOptions, synthesize

GRADES = ("normal_mild", "moderate", "severe")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("evaluate") / "data"
    synthesize(root, SynthOptions(studies=12, seed=1818, size=64), workers=2)
    return root


def train_labels(root: Path) -> dict[str, dict[str, int | None]]:
    with (root / "train.csv").open(newline="") as stream:
        return {
            row["study_id"]: {c: SEVERITY_INDEX.get(row[c]) for c in LABEL_COLUMNS}
            for row in csv.DictReader(stream)
        }


def write_csv(path: Path, rows: dict[str, list[float]]) -> Path:
    with path.open("w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["row_id", *GRADES])
        for row_id, values in rows.items():
            writer.writerow([row_id, *values])
    return path


def evaluate(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    assert run(["evaluate", *args]) == EXIT_OK
    result: dict[str, Any] = json.loads(capsys.readouterr().out)
    return result


def test_the_written_prior_scores_as_the_prior(
    dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prior_csv = tmp_path / "prior.csv"
    alone = evaluate(capsys, str(dataset), "--write-prior", str(prior_csv))
    assert alone["split"]["scored"] == "test split"
    assert alone["split"]["scored_studies_in_prior_training"] == 0
    assert alone["split"]["prior_studies"] > alone["studies"] > 0
    with prior_csv.open(newline="") as stream:
        assert sum(1 for _ in csv.DictReader(stream)) == 25 * alone["studies"]
    scored = evaluate(capsys, str(dataset), "--submission", str(prior_csv))
    assert scored["score"] == pytest.approx(scored["prior"]["score"], rel=1e-12)
    assert scored["losses"] == pytest.approx(scored["prior"]["losses"], rel=1e-12)
    assert scored["any_severe_spinal"] == pytest.approx(scored["prior"]["any_severe_spinal"])
    assert scored["rows_scored"] == alone["rows_scored"] > 0
    assert 0.0 < scored["score"] < math.log(3) * 2


def test_perfect_and_uniform_submissions(
    dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    labels = train_labels(dataset)
    studies = ",".join(labels)
    perfect: dict[str, list[float]] = {}
    uniform: dict[str, list[float]] = {}
    for study_id, grades in labels.items():
        for column, grade in grades.items():
            row_id = f"{study_id}_{column}"
            perfect[row_id] = (
                [1.0 / 3] * 3 if grade is None else [float(grade == g) for g in range(3)]
            )
            uniform[row_id] = [1.0 / 3] * 3
    best = evaluate(
        capsys, str(dataset), "--studies", studies,
        "--submission", str(write_csv(tmp_path / "perfect.csv", perfect)),
    )  # fmt: skip
    assert best["split"]["scored"] == "--studies"
    assert best["studies"] == len(labels)
    assert best["score"] == pytest.approx(0.0, abs=1e-12)
    assert best["rows_scored"] == sum(g is not None for s in labels.values() for g in s.values())

    # Uniform: every group's weighted loss is ln 3; any_severe_spinal predicts 1/3 for every
    # study: Σ w·(−ln(1/3) if any Severe else −ln(2/3)) / Σ w, with w the study's largest weight.
    weighted, total = 0.0, 0.0
    for grades in labels.values():
        spinal = [g for c, g in grades.items() if c.startswith("spinal") and g is not None]
        if spinal:
            weight = 2.0 ** max(spinal)
            weighted += weight * -math.log(1 / 3 if 2 in spinal else 2 / 3)
            total += weight
    expected_any = weighted / total
    flat = evaluate(
        capsys, str(dataset), "--studies", studies,
        "--submission", str(write_csv(tmp_path / "uniform.csv", uniform)),
    )  # fmt: skip
    assert flat["losses"] == pytest.approx(dict.fromkeys(flat["losses"], math.log(3)), rel=1e-12)
    assert flat["any_severe_spinal"] == pytest.approx(expected_any, rel=1e-12)
    assert flat["score"] == pytest.approx((3 * math.log(3) + expected_any) / 4, rel=1e-12)
    assert flat["prior"]["score"] < flat["score"]  # the prior beats guessing, even on 12 studies
    assert flat["split"]["scored_studies_in_prior_training"] == flat["split"]["prior_studies"]


def test_bad_input_is_a_message_not_a_traceback(
    dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("row_id,normal_mild,moderate,severe\n1_spinal_canal_stenosis_l1_l2,0,0,0\n")
    assert run(["evaluate", str(dataset), "--submission", str(bad)]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert f"{bad}: not a usable submission" in err and "all three probabilities are 0" in err
    assert "Traceback" not in err
    assert run(["evaluate", str(dataset), "--studies", "99", "--write-prior", str(bad)]) == 1
    assert "--studies: not in train.csv: 99" in capsys.readouterr().err
    assert run(["evaluate", str(tmp_path), "--write-prior", str(tmp_path / "p.csv")]) == 1
    assert "no train.csv" in capsys.readouterr().err

"""`spineview grade` with the bundled models, scored by `spineview evaluate`."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from spineview.cli import EXIT_OK, run
from spineview.data.rsna_format import LABEL_COLUMNS
from spineview.data.synth import SynthOptions, synthesize

pytestmark = pytest.mark.tf


@pytest.fixture(scope="module")
def studies(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("grade-cli") / "data"
    synthesize(root, SynthOptions(studies=3, seed=505, size=160, fov_shift_mm=30), workers=1)
    return root


def test_every_study_gets_its_25_rows_and_the_json_its_evidence(
    studies: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "submission.csv"
    assert run(["grade", str(studies / "train_images"), "--out", str(out), "--json"]) == EXIT_OK
    with out.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    ids = sorted(p.name for p in (studies / "train_images").iterdir())
    expected = [f"{s}_{c}" for s in ids for c in LABEL_COLUMNS]
    assert sorted(row["row_id"] for row in rows) == sorted(expected)
    for row in rows:
        values = [float(row[k]) for k in ("normal_mild", "moderate", "severe")]
        assert abs(sum(values) - 1.0) < 1e-6 and all(0 < v < 1 for v in values)
    report = json.loads(out.with_suffix(".json").read_text())
    assert report["model"] == "grades-demo"
    for study in report["studies"]:
        assert study["decision"] == "accepted" and len(study["findings"]) == 25
        for finding in study["findings"]:
            assert finding["series"] and finding["instance_number"] is not None
            assert len(finding["crop_box"]) == 4 and 0 < finding["confidence"] < 1
    capsys.readouterr()
    # the submission scores with the competition's metric
    assert (
        run(["evaluate", str(studies), "--submission", str(out), "--studies", ",".join(ids)]) == 0
    )
    scored = json.loads(capsys.readouterr().out)
    assert scored["rows_scored"] > 0 and scored["score"] is not None


def test_grade_wants_a_csv(studies: Path, tmp_path: Path) -> None:
    assert run(["grade", str(studies), "--out", str(tmp_path / "x.txt")]) != EXIT_OK


def test_levels_model_is_checked_and_only_for_the_grading_task(
    studies: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["train", str(studies), "--name", "x"]
    assert run([*base, "--task", "grades", "--levels-model", "cnn-demo"]) != EXIT_OK
    assert "is a slice classifier, not a level model" in capsys.readouterr().err
    assert run([*base, "--task", "levels", "--levels-model", "levels-demo"]) != EXIT_OK
    assert "--levels-model only applies to --task grades" in capsys.readouterr().err

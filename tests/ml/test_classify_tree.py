"""`spineview classify`: every series of a tree, CSV/JSON results, heatmaps, guard rails."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from spineview.classify_tree import (
    CSV_COLUMNS,
    OutputInsideInputError,
    check_outputs_outside,
    classify_paths,
)
from spineview.cli import run
from spineview.dicom.write import SeriesSpec, write_demo_study, write_series
from spineview.ml.inference import Classifier
from spineview.models.catalogue import bundled_models_dir

pytestmark = pytest.mark.tf


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("classify") / "study"
    write_demo_study(folder)
    write_series(
        folder / "ct",
        SeriesSpec(n_slices=3, series_number=9, description="CT BONE", extra={"Modality": "CT"}),
    )
    return folder


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    return Classifier.load(bundled_models_dir() / "cnn-demo")


def _tree_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        digest.update(str(path.relative_to(folder)).encode())
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def test_every_series_is_classified_with_warnings_kept(study: Path, classifier: Classifier) -> None:
    lines: list[str] = []
    report = classify_paths([study], classifier, report=lines.append)
    by_type = {result.series_type: result for result in report.series}
    assert sorted(by_type) == ["Axial T2", "Sagittal T1", "Sagittal T2/STIR", "other"]
    sagittal, axial, ct = by_type["Sagittal T1"], by_type["Axial T2"], by_type["other"]
    assert len(sagittal.predictions) == 15 and sagittal.warnings == []
    assert sagittal.instance_numbers == list(range(1, 16))
    assert np.all((sagittal.predictions.calibrated >= 0) & (sagittal.predictions.calibrated <= 1))
    assert any("Axial T2 series" in w for w in axial.warnings)
    assert any("modality CT" in w for w in ct.warnings)
    assert any(line.startswith("warning: Se 9 CT BONE") for line in lines)
    assert all(result.volume is None for result in report.series)  # not kept in memory


def test_skip_incompatible_leaves_those_series_out(study: Path, classifier: Classifier) -> None:
    report = classify_paths([study], classifier, skip_incompatible=True)
    assert sorted(r.series_type for r in report.series) == ["Sagittal T1", "Sagittal T2/STIR"]
    assert sum("(skipped)" in problem for problem in report.problems) == 2


def test_outputs_inside_the_dicom_folder_are_refused(study: Path, tmp_path: Path) -> None:
    with pytest.raises(OutputInsideInputError, match="never writes into DICOM folders"):
        check_outputs_outside([study], [study / "results.csv"])
    check_outputs_outside([study], [tmp_path / "results.csv", None])


def test_cli_writes_csv_json_and_heatmaps_and_never_touches_the_input(
    study: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _tree_digest(study)
    out_csv, out_json, heat = tmp_path / "r.csv", tmp_path / "r.json", tmp_path / "heat"
    # the demo phantom is far from cnn-demo's training data: declined, so given only by --force
    args = ["classify", str(study / "series-1"), "--out", str(out_csv), "--gradcam", str(heat)]
    assert run(args) == 0
    declined = capsys.readouterr()
    assert (
        "declined" in declined.out and "far from anything cnn-demo was trained on" in declined.out
    )
    assert {r["class"] for r in csv.DictReader(out_csv.open(encoding="utf-8"))} == {""}
    assert not list(heat.rglob("*.png"))  # nothing to explain without a verdict
    code = run([*args, "--force", "--healthy-maps"])
    captured = capsys.readouterr()
    assert code == 0
    assert "Sagittal T1" in captured.out and "rule: positive when 2 neighbouring" in captured.out
    assert "demo" in captured.err and "1/1" not in captured.out
    rows = list(csv.DictReader(out_csv.open(encoding="utf-8")))
    assert tuple(rows[0]) == CSV_COLUMNS and len(rows) == 15
    assert [int(r["instance_number"]) for r in rows] == list(range(1, 16))
    assert {r["class"] for r in rows} <= {"healthy", "degenerative"}
    assert {r["series_class"] for r in rows} <= {"healthy", "degenerative"}
    assert {r["model"] for r in rows} == {"cnn-demo"} and {r["warnings"] for r in rows} == {""}
    assert {r["decision"] for r in rows} == {"declined (shown on request)"}
    assert all(r["far"] == "true" and float(r["distance"]) > 0 for r in rows)
    pngs = sorted(heat.rglob("*.png"))
    assert len(pngs) == 15 and pngs[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert all(path.stem.endswith("-DECLINED") for path in pngs)
    positives = sum(r["class"] == "degenerative" for r in rows)
    decided_only = tmp_path / "decided-only"
    assert run([*args[:-1], str(decided_only), "--force"]) == 0  # without --healthy-maps
    capsys.readouterr()
    assert len(list(decided_only.rglob("*.png"))) == positives < 15

    json_args = ["classify", str(study), "--out", str(out_json), "--skip-incompatible", "--force"]
    assert run(json_args) == 0
    data = json.loads(out_json.read_text(encoding="utf-8"))
    assert data["model"] == "cnn-demo" and "not for clinical use" in data["demo_notice"]
    first = next(s for s in data["series"] if s["series_type"] == "Sagittal T1")
    assert first["verdict"]["neighbours_used"] == 2 and "rule" in first["verdict"]
    assert first["decision"]["status"] == "declined" and first["decision"]["shown_on_request"]
    assert data["rule"].startswith("positive when 2 neighbouring") and data["precision"]
    assert len(first["slices"]) == 15 and first["slices"][0]["slice"] == 1
    assert _tree_digest(study) == before


def test_cli_refuses_bad_outputs_and_unknown_models(
    study: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["classify", str(study), "--out", str(tmp_path / "r.txt")]) == 1
    assert "--out must end in .csv or .json" in capsys.readouterr().err
    assert run(["classify", str(study), "--out", str(study / "r.csv")]) == 1
    assert "never writes into DICOM folders" in capsys.readouterr().err
    assert run(["classify", str(study), "--model", "no-such-model"]) == 1
    assert "no model named 'no-such-model'" in capsys.readouterr().err


def test_cli_reports_an_unwritable_output_without_a_traceback(
    study: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert run(["classify", str(study / "series-1"), "--out", str(blocker / "r.csv")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("spineview: ") and "Traceback" not in err


def test_split_stacks_get_their_own_keys_and_heatmap_folders(
    tmp_path: Path, classifier: Classifier
) -> None:
    from spineview.classify_tree import classify_indexed_series
    from spineview.dicom.scan import scan_paths

    uid = "1.2.3.4.5"
    write_series(tmp_path / "a", SeriesSpec(n_slices=3, series_uid=uid, rows=64, cols=64))
    write_series(tmp_path / "b", SeriesSpec(n_slices=3, series_uid=uid, rows=80, cols=80,
                                            first_position=(-28.0, -32.0, 80.0)))  # fmt: skip
    scan = scan_paths([tmp_path])
    infos = [info for study in scan.studies for info in study.series]
    assert len(infos) == 2 and len({info.key for info in infos}) == 2
    keys = {classify_indexed_series(info, None, classifier).series_key for info in infos}
    assert keys == {info.key for info in infos}


def test_cli_on_a_folder_without_images(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty").mkdir()
    assert run(["classify", str(tmp_path / "empty")]) == 2
    assert "no series classified" in capsys.readouterr().out

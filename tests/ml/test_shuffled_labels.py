"""End to end: a model trained on shuffled labels is marked not usable wherever it appears —
its manifest, the model listing, and the results of `spineview classify`."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from spineview.cli import run
from spineview.data.examples import collect_examples
from spineview.data.synth import SynthOptions, synthesize
from spineview.dicom.write import write_demo_study
from spineview.models.catalogue import MANIFEST_FILE_NAME, list_models, user_models_dir
from spineview.models.model_text import model_details, model_listing, model_summary

pytestmark = pytest.mark.tf

CLASS_NAMES = ("degenerative", "healthy")  # class folders sort by name


@pytest.fixture(scope="module")
def shuffled_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Class folders holding the slices of small synthetic studies, each slice put under a
    class drawn by permuting the real labels: the images say nothing about the class."""
    work = tmp_path_factory.mktemp("shuffled")
    synthesize(work / "rsna", SynthOptions(studies=14, seed=21, size=64), workers=2)
    examples = collect_examples(work / "rsna").examples
    labels = np.random.default_rng(7).permutation([e.label for e in examples])
    root = work / "classes"
    for number, (example, label) in enumerate(zip(examples, labels, strict=True)):
        # label 1 = degenerative; the study stays the group, so splits keep studies whole
        target = root / CLASS_NAMES[0 if label == 1 else 1] / example.group / f"{number}.dcm"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(example.path, target)
    return root


@pytest.fixture(scope="module")
def trained(shuffled_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The model folder, trained once for the module (in a SPINEVIEW_HOME of its own)."""
    from spineview.ml.train import TrainConfig, train_model

    home = tmp_path_factory.mktemp("shuffled-home")
    config = TrainConfig(
        dataset=shuffled_dataset, name="shuffled", epochs=1, batch_size=16, seed=3,
        max_examples=240,
    )  # fmt: skip
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SPINEVIEW_HOME", str(home))
        result = train_model(config, models_dir=home / "models")
    return result.model_folder


@pytest.fixture
def shuffled_model(trained: Path) -> Path:
    """The trained model, copied into this test's user models folder."""
    folder = user_models_dir() / trained.name
    shutil.copytree(trained, folder)
    return folder


def test_its_manifest_says_not_usable(shuffled_model: Path) -> None:
    data = json.loads((shuffled_model / MANIFEST_FILE_NAME).read_text(encoding="utf-8"))
    calibrated = data["metrics"]["calibrated"]
    assert data["usable"] is False, data["usability_reason"]
    assert data["usability_reason"]
    assert "roc_auc_ci" in calibrated and "predicted_positives" in calibrated
    if calibrated["roc_auc_ci"] is not None:
        assert calibrated["roc_auc_ci"][0] <= calibrated["roc_auc"] <= calibrated["roc_auc_ci"][1]


def test_the_model_texts_say_not_usable(shuffled_model: Path) -> None:
    models, _ = list_models()
    info = next(info for info in models if info.path == shuffled_model)
    assert not info.manifest.usability.usable
    assert "NOT USABLE" in model_summary(info.manifest)
    assert "[NOT USABLE]" in model_listing(info)
    assert f"*** NOT USABLE: {info.manifest.usability.reason[:20]}" in model_details(info)


def test_spineview_models_says_not_usable(
    shuffled_model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["models"]) == 0
    line = next(line for line in capsys.readouterr().out.splitlines() if "shuffled" in line)
    assert "NOT USABLE" in line


def test_classify_results_say_not_usable(
    shuffled_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    study = tmp_path / "study"
    write_demo_study(study)
    out = tmp_path / "results.csv"
    assert run(["classify", str(study / "series-1"), "--model", "shuffled", "--out", str(out)]) == 0
    assert "warning: model not usable" in capsys.readouterr().out
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert rows and {row["model"] for row in rows} == {"shuffled"}
    assert {row["model_usable"] for row in rows} == {"false"}
    assert all("model not usable" in row["warnings"] for row in rows)

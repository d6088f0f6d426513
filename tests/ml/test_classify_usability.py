"""`spineview classify` with a model the quality gate rejects: CSV, JSON, stdout and heatmaps
all carry the warning; with a usable model they say so."""

from __future__ import annotations

import csv
import json
import shutil
import zlib
from pathlib import Path

import numpy as np
import pytest

from spineview.classify_tree import (
    CSV_COLUMNS,
    NOT_USABLE_FILE_TAG,
    WARNING_BAND_COLOUR,
    with_warning_band,
)
from spineview.cli import run
from spineview.core.png import encode_png, png_with_text
from spineview.dicom.write import write_demo_study
from spineview.models.catalogue import MANIFEST_FILE_NAME, WEIGHTS_FILE_NAME, bundled_models_dir
from spineview.models.distribution_check import DISTRIBUTION_FILE_NAME

DEMO_FOLDER = bundled_models_dir() / "cnn-demo"
REASON_START = "ROC AUC 0.55 (95 % interval 0.38–0.71) reaches 0.5"


def png_text_chunks(data: bytes) -> dict[str, str]:
    """The iTXt chunks of a PNG (keyword → text), read with a plain chunk walk."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    found: dict[str, str] = {}
    offset = 8
    while offset < len(data):
        length = int.from_bytes(data[offset : offset + 4], "big")
        kind = data[offset + 4 : offset + 8]
        body = data[offset + 8 : offset + 8 + length]
        crc = int.from_bytes(data[offset + 8 + length : offset + 12 + length], "big")
        assert crc == zlib.crc32(kind + body), kind
        if kind == b"iTXt":
            keyword, rest = body.split(b"\x00", 1)
            text = rest[2:].split(b"\x00", 2)[2]  # flag, method, language, translated keyword
            found[keyword.decode("latin-1")] = text.decode("utf-8")
        offset += 12 + length
    return found


def test_png_text_chunks_and_the_warning_band() -> None:
    picture = np.full((40, 120, 3), 77, dtype=np.uint8)
    banded = with_warning_band(picture)
    assert banded.shape[1] == 120 and banded.shape[0] > 40
    assert np.array_equal(banded[-40:], picture)  # the image itself is untouched
    band = banded[: banded.shape[0] - 40]
    assert tuple(band[0, 0]) == WARNING_BAND_COLOUR
    assert (band == 255).all(axis=2).any()  # white letters
    data = png_with_text(encode_png(banded), {"Warning": "model not usable: 0.41–0.80"})
    assert png_text_chunks(data) == {"Warning": "model not usable: 0.41–0.80"}
    with pytest.raises(ValueError, match="IEND"):
        png_with_text(b"not a png", {})


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("usability") / "study"
    write_demo_study(folder)
    return folder


@pytest.fixture(scope="module")
def not_usable_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled demo's weights under a manifest whose test metrics are at chance level."""
    folder = tmp_path_factory.mktemp("models") / "chance"
    folder.mkdir()
    data = json.loads((DEMO_FOLDER / MANIFEST_FILE_NAME).read_text(encoding="utf-8"))
    data.update(name="chance", demo=False, description="chance, trained here")
    for part in ("raw", "calibrated"):
        data["metrics"][part].update(roc_auc=0.55, roc_auc_ci=[0.38, 0.71])
    (folder / MANIFEST_FILE_NAME).write_text(json.dumps(data), encoding="utf-8")
    shutil.copyfile(DEMO_FOLDER / WEIGHTS_FILE_NAME, folder / WEIGHTS_FILE_NAME)
    shutil.copyfile(DEMO_FOLDER / DISTRIBUTION_FILE_NAME, folder / DISTRIBUTION_FILE_NAME)
    return folder


@pytest.mark.tf
def test_results_of_a_not_usable_model_carry_the_warning(
    study: Path, not_usable_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_csv, out_json, heat = tmp_path / "r.csv", tmp_path / "r.json", tmp_path / "heat"
    series = str(study / "series-1")
    # --force: the demo phantom is declined as far from the training data
    args = [
        "classify",
        series,
        "--model",
        str(not_usable_model),
        "--gradcam",
        str(heat),
        "--force",
        "--healthy-maps",
    ]
    assert run([*args, "--out", str(out_csv)]) == 0
    captured = capsys.readouterr()
    assert "[warning]" in captured.out
    assert f"warning: model not usable: {REASON_START}" in captured.out

    rows = list(csv.DictReader(out_csv.open(encoding="utf-8")))
    assert tuple(rows[0]) == CSV_COLUMNS and "model_usable" in CSV_COLUMNS
    assert {r["model_usable"] for r in rows} == {"false"}
    assert all(f"model not usable: {REASON_START}" in r["warnings"] for r in rows)

    pngs = sorted(heat.rglob("*.png"))
    assert len(pngs) == 15
    assert all(path.stem.endswith(f"{NOT_USABLE_FILE_TAG}-DECLINED") for path in pngs)
    chunks = png_text_chunks(pngs[0].read_bytes())
    assert chunks["Decision"].startswith("declined (shown on request): slices 1–15")
    assert chunks["Heat scale"].startswith("colour bar")
    assert chunks["Model"] == "chance"
    assert chunks["Warning"].startswith(f"model not usable: {REASON_START}")

    assert run(["classify", series, "--model", str(not_usable_model), "--out", str(out_json)]) == 0
    data = json.loads(out_json.read_text(encoding="utf-8"))
    assert data["model_usability"]["usable"] is False
    assert data["model_usability"]["reason"].startswith(REASON_START)
    assert any("model not usable" in w for w in data["series"][0]["warnings"])


@pytest.mark.tf
def test_results_of_a_usable_model_say_so(study: Path, tmp_path: Path) -> None:
    out_csv, out_json, heat = tmp_path / "r.csv", tmp_path / "r.json", tmp_path / "heat"
    series = str(study / "series-1")
    args = [
        "classify",
        series,
        "--out",
        str(out_csv),
        "--gradcam",
        str(heat),
        "--force",
        "--healthy-maps",
    ]
    assert run(args) == 0
    rows = list(csv.DictReader(out_csv.open(encoding="utf-8")))
    assert {r["model_usable"] for r in rows} == {"true"} and {r["warnings"] for r in rows} == {""}
    pngs = sorted(heat.rglob("*.png"))
    assert pngs and not any(NOT_USABLE_FILE_TAG in path.name for path in pngs)
    assert "Warning" not in png_text_chunks(pngs[0].read_bytes())
    assert run(["classify", series, "--out", str(out_json)]) == 0
    usability = json.loads(out_json.read_text(encoding="utf-8"))["model_usability"]
    assert usability["usable"] is True and "lies above 0.5" in usability["reason"]

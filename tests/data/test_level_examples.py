"""Level-localisation examples from an RSNA-layout dataset (synthetic studies)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from spineview.core.levels import LEVELS
from spineview.data.level_examples import LEVEL_CHANNELS, _neighbours, level_examples
from spineview.data.rsna import read_rsna_dataset
from spineview.data.synth import SynthOptions, synthesize


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("level-examples") / "data"
    synthesize(root, SynthOptions(studies=4, seed=515, size=160), workers=1)
    return root


def test_one_example_per_marked_sagittal_t2_series(synthetic: Path) -> None:
    dataset = read_rsna_dataset(synthetic)
    examples, problems = level_examples(dataset, size=64)
    assert problems == [] and len(examples) == 4
    for example in examples:
        assert example.image.shape == (64, 64, LEVEL_CHANNELS)
        assert example.image.dtype == np.float32 and example.image.min() >= 0.0
        assert example.image.max() <= 1.0
        assert example.mask.shape == (len(LEVELS),) and example.mask.any()
        marked = example.targets[example.mask]
        assert np.all((marked > 0.0) & (marked < 1.0))
        assert np.all(example.targets[~example.mask] == 0.0)
        rows = marked[:, 1]
        assert np.all(np.diff(rows) > 0)  # head at the top: L1/L2 above L5/S1
        assert example.pixel_spacing is not None
        # the targets are the CSV's own pixels, as fractions of this instance
        csv = [
            p
            for p in dataset.coordinates
            if p.study_id == example.study_id
            and p.series_id == example.series_id
            and p.instance_number == example.instance_number
            and p.condition == "Spinal Canal Stenosis"
        ]
        assert csv
        for point in csv:
            x, y = example.targets[LEVELS.index(point.level)]
            assert (x * example.shape[1], y * example.shape[0]) == pytest.approx(
                (point.x, point.y), rel=1e-5
            )


def test_an_unreadable_neighbour_is_named(synthetic: Path, tmp_path: Path) -> None:
    copy = tmp_path / "data"
    shutil.copytree(synthetic, copy)
    dataset = read_rsna_dataset(copy)
    examples, _ = level_examples(dataset, size=32)
    first = examples[0]
    series = dataset.series(first.study_id, first.series_id)
    assert series is not None
    series.file(first.instance_number).write_bytes(b"not DICOM")
    again, problems = level_examples(dataset, size=32)
    assert len(again) == len(examples) - 1
    assert len(problems) == 1 and first.series_id in problems[0]


def test_neighbours_repeat_at_the_ends_of_a_series() -> None:
    assert _neighbours([1, 2, 3, 4], 2, 3) == [1, 2, 3]
    assert _neighbours([1, 2, 3, 4], 1, 3) == [1, 1, 2]
    assert _neighbours([1, 2, 3, 4], 4, 3) == [3, 4, 4]


def test_t1_examples_carry_the_t2_marks_projected_through_patient_space(synthetic: Path) -> None:
    dataset = read_rsna_dataset(synthetic)
    examples, problems = level_examples(dataset, size=64, with_t1=True)
    assert problems == []
    t2 = {e.study_id: e for e in examples if e.description == "Sagittal T2/STIR"}
    t1 = {e.study_id: e for e in examples if e.description == "Sagittal T1"}
    assert t1 and set(t1) <= set(t2)
    for study, example in t1.items():
        # both sagittal series of a synthetic study share one field of view (within a slight
        # rotation and spacing), so the same disc sits at about the same fraction of the image
        both = example.mask & t2[study].mask
        assert both.sum() >= 4
        assert np.abs(example.targets[both] - t2[study].targets[both]).max() < 0.03, study

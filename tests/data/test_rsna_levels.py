"""Disc levels from an RSNA tree's spinal-canal coordinates label every axial stack of the
study by geometry alone (synthetic studies: their axial blocks are planned on each disc,
perpendicular to the spine, so oblique)."""

from __future__ import annotations

from pathlib import Path

import pytest

from spineview.core.levels import LEVELS
from spineview.data.rsna import read_rsna_dataset
from spineview.data.rsna_levels import study_level_maps
from spineview.data.synth import SynthOptions, synthesize
from spineview.dicom.scan import scan_paths


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("levels") / "data"
    synthesize(root, SynthOptions(studies=3, seed=404, size=192), workers=1)
    return root


def test_each_axial_stack_is_named_by_the_disc_it_was_planned_on(synthetic: Path) -> None:
    maps, problems = study_level_maps(read_rsna_dataset(synthetic))
    assert problems == [] and len(maps) == 3
    for study_id, levels in maps.items():
        assert [point.level for point in levels.points] == list(LEVELS)
        assert levels.in_order()
        scan = scan_paths([synthetic / "train_images" / study_id])
        (study,) = scan.studies
        axial = [info for info in study.series if info.plane == "axial"]
        named = []
        for stack in axial:
            planes = [plane for ref in stack.slices if (plane := ref.plane) is not None]
            level = levels.stack_level(planes)
            assert level is not None and abs(level.distance_mm) < 4.0, (study_id, level)
            named.append(level.level)
        # one stack per disc (a second axial series repeats some): every level is found
        assert set(named) == set(LEVELS), (study_id, named)


def test_a_missing_instance_is_named_not_guessed(synthetic: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "data"
    shutil.copytree(synthetic, copy)
    dataset = read_rsna_dataset(copy)
    point = next(p for p in dataset.coordinates if p.condition == "Spinal Canal Stenosis")
    series = dataset.series(point.study_id, point.series_id)
    assert series is not None
    series.file(point.instance_number).unlink()
    maps, problems = study_level_maps(dataset)
    assert any(point.level in problem and point.study_id in problem for problem in problems)
    assert point.level not in [p.level for p in maps[point.study_id].points]

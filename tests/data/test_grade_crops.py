"""Crops around each finding, placed from the disc levels in patient coordinates."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from spineview.core.geometry import row_col_normal
from spineview.data.grade_crops import (
    CACHE_PX,
    CACHE_SLICES,
    CANAL,
    CROP_PX,
    LEFT,
    LEFT_FORAMEN,
    LEFT_SUBARTICULAR,
    RIGHT_FORAMEN,
    RIGHT_SUBARTICULAR,
    SLICES,
    grade_crops,
    model_view,
)
from spineview.data.grade_examples import crops_by_column, study_series
from spineview.data.rsna import read_rsna_dataset
from spineview.data.rsna_format import AXIAL_T2, IMAGES_FOLDER, SAGITTAL_T1, SAGITTAL_T2_STIR
from spineview.data.rsna_levels import study_level_maps
from spineview.data.synth import SynthOptions, synthesize


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    root = tmp_path_factory.mktemp("grade-crops") / "data"
    synthesize(root, SynthOptions(studies=1, seed=61, size=128, missing_series_rate=0.0), workers=1)
    (study_id,) = read_rsna_dataset(root).studies
    return root, study_id


def test_every_finding_gets_a_crop_from_its_own_series_and_side(study: tuple[Path, str]) -> None:
    root, study_id = study
    levels = study_level_maps(read_rsna_dataset(root))[0][study_id]
    series = study_series(root / IMAGES_FOLDER / study_id)
    t2, t1 = series[SAGITTAL_T2_STIR][0], series[SAGITTAL_T1][0]
    crops = grade_crops(levels, sagittal_t2=t2, sagittal_t1=t1, axials=series[AXIAL_T2])
    assert len(crops) == 25
    pixels, present = crops_by_column(crops)
    assert present.all() and pixels.shape == (25, CACHE_PX, CACHE_PX, CACHE_SLICES)
    assert model_view(pixels[0]).shape == (CROP_PX, CROP_PX, SLICES)
    discs = {point.level: np.asarray(point.position) for point in levels.points}
    for crop in crops:
        assert crop.pixels.min() >= 0.0 and crop.pixels.max() <= 1.0 and crop.pixels.std() > 0.01
        source = {CANAL: t2, LEFT_FORAMEN: t1, RIGHT_FORAMEN: t1}.get(crop.condition)
        if source is not None:
            assert crop.series_key == source.key
            lateral = float((source.positions[crop.slice_index] - discs[crop.level]) @ LEFT)
            if crop.condition == CANAL:
                assert abs(lateral) < 5.0  # the mid-sagittal slice
            else:  # the foramen's side: the patient's left is +x
                side = 1 if crop.condition == LEFT_FORAMEN else -1
                assert side * lateral > 5.0, (crop.condition, lateral)
        else:
            assert crop.condition in (LEFT_SUBARTICULAR, RIGHT_SUBARTICULAR)
            axial = next(s for s in series[AXIAL_T2] if s.key == crop.series_key)
            normal = row_col_normal(axial.orientation)[2]  # type: ignore[arg-type]
            off = float((discs[crop.level] - axial.positions[crop.slice_index]) @ normal)
            assert abs(off) < 6.0  # the axial slice through that disc
    left = next(c for c in crops if c.condition == LEFT_SUBARTICULAR and c.level == "L4/L5")
    right = next(c for c in crops if c.condition == RIGHT_SUBARTICULAR and c.level == "L4/L5")
    # a right crop is mirrored: about the same anatomy as the left one (the spine is symmetric)
    same = np.abs(model_view(left.pixels) - model_view(right.pixels)).mean()
    unmirrored = np.abs(model_view(left.pixels) - model_view(right.pixels)[:, ::-1]).mean()
    assert same < unmirrored


def test_a_missing_series_leaves_its_findings_without_crops(study: tuple[Path, str]) -> None:
    root, study_id = study
    levels = study_level_maps(read_rsna_dataset(root))[0][study_id]
    series = study_series(root / IMAGES_FOLDER / study_id)
    crops = grade_crops(
        levels, sagittal_t2=series[SAGITTAL_T2_STIR][0], sagittal_t1=None, axials=[]
    )
    conditions = {crop.condition for crop in crops}
    # no T1: the foramina come from the T2; no axial: no subarticular crops
    assert conditions == {CANAL, LEFT_FORAMEN, RIGHT_FORAMEN}

"""Slice-level examples: the rule as a parameter, neighbours in spatial (not instance) order."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from pydicom.uid import generate_uid

from spineview.data.rsna import read_rsna_dataset
from spineview.data.rsna_format import AXIAL_T2, IMAGES_FOLDER, SAGITTAL_T2_STIR
from spineview.data.slice_examples import (
    BELOW_THRESHOLD,
    LABELS_MISSING,
    NO_POSITIVE_POINT,
    SliceExampleSet,
    SliceRule,
    slice_examples,
)
from spineview.data.splits import grouped_split
from spineview.dicom.scan import scan_paths
from spineview.errors import DatasetError
from tests.data.rsna_builder import (
    SHUFFLED_T2_INSTANCES,
    SPINAL_POINT_INSTANCE,
    standard_studies,
    write_series_plan,
)

SICK_T1, SICK_T2 = "1002001", "1002002"


def positives(result: SliceExampleSet) -> dict[str, set[int]]:
    found: dict[str, set[int]] = {}
    for example in result.examples:
        if example.label == 1:
            found.setdefault(example.series_id, set()).add(example.instance_number)
    return found


def negatives(result: SliceExampleSet) -> dict[str, set[int]]:
    found: dict[str, set[int]] = {}
    for example in result.examples:
        if example.label == 0:
            found.setdefault(example.series_id, set()).add(example.instance_number)
    return found


def test_fixture_instance_order_is_not_spatial_order(rsna_root: Path) -> None:
    scan = scan_paths([rsna_root / IMAGES_FOLDER / "1002" / SICK_T2])
    [series] = scan.studies[0].series
    assert not series.order_uncertain
    spatial = [int(ref.path.stem) for ref in series.slices]
    assert spatial == [ref.header.instance_number for ref in series.slices]
    assert spatial in (list(SHUFFLED_T2_INSTANCES), list(SHUFFLED_T2_INSTANCES[::-1]))
    assert spatial != sorted(spatial)


def test_default_rule(rsna_root: Path) -> None:
    result = slice_examples(read_rsna_dataset(rsna_root), SliceRule())
    # Severe spinal stenosis L4/L5 on instance 6 of the shuffled T2 series: its spatial
    # neighbours are instances 1 and 2 (instance 5 is only its neighbour by number).
    # Moderate left foraminal narrowing L4/L5 on instance 2 of the T1 series: 1, 2, 3.
    assert positives(result) == {SICK_T2: {1, 6, 2}, SICK_T1: {1, 2, 3}}
    assert negatives(result) == {
        "1001001": set(range(1, 7)),
        "1001002": set(range(1, 7)),
        "1003001": set(range(1, 6)),
        "1003002": set(range(1, 6)),
    }  # axial series are not in the default rule; study 1003's empty cells are allowed
    counts = result.counts
    assert (counts.positive_slices, counts.negative_slices) == (6, 22)
    assert (counts.positive_studies, counts.negative_studies) == (1, 2)
    assert counts.left_out_studies == {}
    assert (counts.scanned_series, counts.instance_order_series) == (2, 0)
    assert result.problems == []
    assert result.rule_text == SliceRule().describe()
    assert result.groups == [e.study_id for e in result.examples]
    assert result.labels == [e.label for e in result.examples]
    for e in result.examples:
        folder = rsna_root / IMAGES_FOLDER / e.study_id / e.series_id
        assert e.path == folder / f"{e.instance_number}.dcm"
        assert e.path.is_file()


def test_neighbour_is_chosen_in_spatial_order(rsna_root: Path) -> None:
    result = slice_examples(read_rsna_dataset(rsna_root), SliceRule())
    t2 = {e.instance_number: e for e in result.examples if e.series_id == SICK_T2}
    assert 5 not in t2  # next by instance number, but three positions away in space
    assert t2[SPINAL_POINT_INSTANCE].reason == (
        "Severe Spinal Canal Stenosis L4/L5 annotated on this slice"
    )
    assert t2[1].reason == (
        f"Severe Spinal Canal Stenosis L4/L5 annotated on instance {SPINAL_POINT_INSTANCE}, "
        "1 slice away"
    )
    # Output follows the spatial order of the series.
    assert [n for n in SHUFFLED_T2_INSTANCES if n in t2] in (
        [e.instance_number for e in result.examples if e.series_id == SICK_T2],
        [e.instance_number for e in result.examples if e.series_id == SICK_T2][::-1],
    )


def test_threshold_severe_only(rsna_root: Path) -> None:
    result = slice_examples(read_rsna_dataset(rsna_root), SliceRule(min_severity=2))
    assert positives(result) == {SICK_T2: {1, 6, 2}}  # the Moderate foraminal finding is out
    assert result.counts.positive_slices == 3


def test_threshold_severe_leaves_a_moderate_only_study_out(rsna_root: Path) -> None:
    rows = (rsna_root / "train.csv").read_text().replace(",Severe,", ",Normal/Mild,")
    (rsna_root / "train.csv").write_text(rows)
    result = slice_examples(read_rsna_dataset(rsna_root), SliceRule(min_severity=2))
    assert positives(result) == {}
    assert result.counts.left_out_studies == {BELOW_THRESHOLD: 1}
    assert "1002" not in {e.study_id for e in result.examples}


def test_neighbour_distance(rsna_root: Path) -> None:
    dataset = read_rsna_dataset(rsna_root)
    alone = slice_examples(dataset, SliceRule(neighbour_distance=0))
    assert positives(alone) == {SICK_T2: {6}, SICK_T1: {2}}
    wide = slice_examples(dataset, SliceRule(neighbour_distance=2))
    assert positives(wide) == {SICK_T2: {4, 1, 6, 2, 5}, SICK_T1: {1, 2, 3, 4}}


def test_healthy_requires_all_labels(rsna_root: Path) -> None:
    result = slice_examples(
        read_rsna_dataset(rsna_root), SliceRule(healthy_requires_all_labels_present=True)
    )
    assert "1003" not in {e.study_id for e in result.examples}
    assert result.counts.left_out_studies == {LABELS_MISSING: 1}
    assert result.counts.negative_studies == 1


def test_series_types_parameter(rsna_root: Path) -> None:
    result = slice_examples(read_rsna_dataset(rsna_root), SliceRule(series_types=(AXIAL_T2,)))
    assert positives(result) == {}  # the axial points are all Normal/Mild
    assert result.counts.left_out_studies == {NO_POSITIVE_POINT: 1}
    assert negatives(result) == {"1001003": set(range(1, 9)), "1003003": set(range(1, 7))}


def test_describe_states_the_parameters() -> None:
    default = SliceRule().describe()
    for words in (
        "Sagittal T1 or Sagittal T2/STIR",
        "Moderate or worse",
        "min_severity=1",
        "up to 1 position away",
        "neighbour_distance=1",
        "Normal/Mild",
        "empty label cells allowed",
        "left out",
    ):
        assert words in default, words
    strict = SliceRule(
        series_types=(SAGITTAL_T2_STIR,),
        min_severity=2,
        neighbour_distance=2,
        healthy_requires_all_labels_present=True,
    ).describe()
    assert "a Sagittal T2/STIR series" in strict and "Sagittal T1" not in strict
    assert "graded Severe" in strict and "min_severity=2" in strict
    assert "up to 2 positions away" in strict
    assert "all 25 labels present" in strict
    assert "annotated on it (" in SliceRule(neighbour_distance=0).describe()


@pytest.mark.parametrize(
    "changes",
    [
        {"min_severity": 0},
        {"min_severity": 3},
        {"neighbour_distance": -1},
        {"series_types": ()},
        {"series_types": ("Coronal T2",)},
    ],
)
def test_invalid_rules(changes: dict[str, object]) -> None:
    with pytest.raises(DatasetError, match="slice rule"):
        replace(SliceRule(), **changes)  # type: ignore[arg-type]


def test_fallback_to_instance_order_without_geometry(rsna_root: Path) -> None:
    plan = next(s for s in standard_studies()[1].series if s.series_id == SICK_T2)
    study_folder = rsna_root / IMAGES_FOLDER / "1002"
    shutil.rmtree(study_folder / SICK_T2)
    write_series_plan(study_folder, generate_uid(), 2, replace(plan, geometry=False))
    result = slice_examples(read_rsna_dataset(rsna_root), SliceRule())
    assert positives(result)[SICK_T2] == {5, 6}  # instance-number neighbours of 6 (no 7)
    assert result.counts.instance_order_series == 1
    reasons = [e.reason for e in result.examples if e.series_id == SICK_T2]
    assert all("instance-number order" in reason for reason in reasons)
    [problem] = result.problems
    assert problem.code == "instance-order" and problem.warning
    assert problem.path == study_folder / SICK_T2


def test_point_on_a_missing_slice_is_reported(rsna_root: Path) -> None:
    (rsna_root / IMAGES_FOLDER / "1002" / SICK_T2 / f"{SPINAL_POINT_INSTANCE}.dcm").unlink()
    dataset = read_rsna_dataset(rsna_root)
    assert any(p.code == "coordinate-target-missing" for p in dataset.problems)
    result = slice_examples(dataset, SliceRule())
    assert SICK_T2 not in positives(result)  # the point is ignored, nothing else breaks
    assert positives(result)[SICK_T1] == {1, 2, 3}


def test_dataset_read_without_images_is_refused(rsna_root: Path) -> None:
    with pytest.raises(DatasetError, match="check_images=False"):
        slice_examples(read_rsna_dataset(rsna_root, check_images=False), SliceRule())


def test_examples_feed_a_grouped_split(rsna_root: Path) -> None:
    result = slice_examples(read_rsna_dataset(rsna_root), SliceRule())
    split = grouped_split(result.groups, result.labels, seed=0)
    assert sorted(split.group_split) == ["1001", "1002", "1003"]
    assert len(set(split.group_split.values())) == 3

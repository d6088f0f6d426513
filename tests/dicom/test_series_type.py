"""Series type from headers alone: plane from orientation, weighting from description or timing.

Each case also checks that `reason` says what decided it, since the UI shows that to the user.
"""

from __future__ import annotations

from typing import NamedTuple

import pytest

from spineview.core.geometry import Plane
from spineview.dicom.series_type import (
    AXIAL_T2,
    OTHER,
    SAGITTAL_T1,
    SAGITTAL_T2_STIR,
    SequenceFacts,
    SeriesType,
    classify_series,
)


def mr(
    plane: Plane | None,
    description: str = "",
    *,
    te: float | None = None,
    tr: float | None = None,
    ti: float | None = None,
    sequence: str = "SE",
    image_type: tuple[str, ...] = ("ORIGINAL", "PRIMARY", "M", "ND"),
    modality: str = "MR",
) -> SequenceFacts:
    return SequenceFacts(
        modality=modality,
        plane=plane,
        description=description,
        image_type=image_type,
        echo_time=te,
        repetition_time=tr,
        inversion_time=ti,
        scanning_sequence=sequence,
    )


def assert_type(result: SeriesType, label: str, *reason_words: str) -> None:
    assert result.label == label, result
    assert result.reason.strip(), result
    for word in reason_words:
        assert word.lower() in result.reason.lower(), (word, result.reason)


# --- descriptions decide when they name the weighting -------------------------------------

DESCRIBED = [
    # RSNA 2024 series descriptions
    ("Sagittal T1", "sagittal", SAGITTAL_T1, "T1"),
    ("Sagittal T2/STIR", "sagittal", SAGITTAL_T2_STIR, ""),
    ("Axial T2", "axial", AXIAL_T2, "T2"),
    # what scanners write
    ("t1_tse_sag", "sagittal", SAGITTAL_T1, "T1"),
    ("T2_TSE_SAG", "sagittal", SAGITTAL_T2_STIR, "T2"),
    ("STIR_SAG", "sagittal", SAGITTAL_T2_STIR, "STIR"),
    ("t2_tse_tra", "axial", AXIAL_T2, "T2"),
    ("AX T2 FSE", "axial", AXIAL_T2, "T2"),
    ("SAG T1 FSE", "sagittal", SAGITTAL_T1, "T1"),
    ("T2 TSE AX FS RT.", "axial", AXIAL_T2, "T2"),
    ("t2_tse_sag_fs", "sagittal", SAGITTAL_T2_STIR, "T2"),  # fat-saturated T2 is still T2
    ("t2_tirm_sag", "sagittal", SAGITTAL_T2_STIR, "STIR"),  # Siemens' name for STIR
    ("SAG PD FSE", "sagittal", OTHER, "PD"),
]


@pytest.mark.parametrize(("description", "plane", "label", "weighting"), DESCRIBED)
def test_description_names_the_weighting(
    description: str, plane: Plane, label: str, weighting: str
) -> None:
    # Timing that disagrees (PD-like) proves the description is what decided.
    result = classify_series(mr(plane, description, te=15.0, tr=2500.0))

    assert_type(result, label, plane, "description", description)
    if weighting:
        assert result.weighting == weighting


def test_stir_description_on_a_sagittal_is_t2_stir() -> None:
    result = classify_series(mr("sagittal", "Sagittal T2/STIR"))
    assert result.weighting in ("T2", "STIR")
    assert_type(result, SAGITTAL_T2_STIR, "sagittal", "description")


# --- without a telling description, TE/TR/TI decide ------------------------------------------


class Timed(NamedTuple):
    plane: Plane
    te: float
    tr: float
    ti: float | None
    sequence: str
    label: str
    weighting: str
    words: tuple[str, ...]  # what the reason must mention


TIMED = [
    Timed("sagittal", 10.0, 500.0, None, "SE", SAGITTAL_T1, "T1", ("TE=10", "TR=500")),
    Timed("sagittal", 100.0, 3500.0, None, "SE", SAGITTAL_T2_STIR, "T2", ("TE=100", "TR=3500")),
    Timed("axial", 100.0, 3500.0, None, "SE", AXIAL_T2, "T2", ("TE=100", "TR=3500")),
    Timed("sagittal", 40.0, 3000.0, 150.0, "IR", SAGITTAL_T2_STIR, "STIR", ("inversion", "TI=150")),
    Timed("sagittal", 15.0, 2500.0, None, "SE", OTHER, "PD", ("proton density", "TE=15")),
    Timed("axial", 10.0, 500.0, None, "SE", OTHER, "T1", ("TE=10", "TR=500")),
]


@pytest.mark.parametrize("case", TIMED, ids=lambda c: f"{c.plane}-TE{c.te:g}-TR{c.tr:g}-TI{c.ti}")
def test_timing_decides_without_a_keyword(case: Timed) -> None:
    facts = mr(case.plane, "SE 3mm", te=case.te, tr=case.tr, ti=case.ti, sequence=case.sequence)

    result = classify_series(facts)

    assert_type(result, case.label, case.plane, *case.words)
    assert result.weighting == case.weighting


def test_long_inversion_time_is_not_stir() -> None:
    """A FLAIR-like TI (2000 ms) with long TE/TR reads as T2, not as fat-nulling STIR."""
    result = classify_series(mr("sagittal", te=120.0, tr=9000.0, ti=2000.0, sequence="SE\\IR"))
    assert result.weighting == "T2"


def test_no_keyword_and_no_timing_is_other_and_says_so() -> None:
    result = classify_series(mr("sagittal", "series 5"))
    assert_type(result, OTHER, "unknown", "TE/TR")
    assert result.weighting == ""


# --- never one of the three -------------------------------------------------------------------


def test_coronal_t2_is_other() -> None:
    result = classify_series(mr("coronal", "t2_tse_cor", te=100.0, tr=3500.0))
    assert_type(result, OTHER, "coronal")
    assert result.weighting == "T2"


@pytest.mark.parametrize(
    ("description", "image_type"),
    [
        ("localizer", ("ORIGINAL", "PRIMARY", "M", "ND")),
        ("3-PLANE LOC", ("ORIGINAL", "PRIMARY", "OTHER")),
        ("SCOUT 3-PLANE RT.", ("ORIGINAL", "PRIMARY")),
        ("Survey_MST", ("ORIGINAL", "PRIMARY")),
        ("AAHead_Scout", ("ORIGINAL", "PRIMARY", "M", "ND", "NORM")),  # Siemens, no LOCALIZER
        ("t2_tse_sag", ("ORIGINAL", "PRIMARY", "LOCALIZER")),  # ImageType alone is enough
    ],
)
def test_localisers_are_other(description: str, image_type: tuple[str, ...]) -> None:
    result = classify_series(
        mr("sagittal", description, te=100.0, tr=3500.0, image_type=image_type)
    )
    assert_type(result, OTHER, "localiser")


@pytest.mark.parametrize("modality", ["CT", "CR", ""])
def test_not_mr_is_other(modality: str) -> None:
    result = classify_series(mr("axial", "Axial T2", te=100.0, tr=3500.0, modality=modality))
    assert_type(result, OTHER, "modality", "not MR")
    if modality:
        assert modality in result.reason


def test_missing_orientation_is_other() -> None:
    result = classify_series(mr(None, "t2_tse_sag", te=100.0, tr=3500.0))
    assert_type(result, OTHER, "ImageOrientationPatient", "plane unknown")


def test_reformat_is_other() -> None:
    result = classify_series(
        mr("sagittal", "T2 sag reformat", image_type=("DERIVED", "SECONDARY", "MPR"))
    )
    assert_type(result, OTHER, "reformat")

"""Guard rails: warnings for series a model was not trained on."""

from __future__ import annotations

from spineview.models.manifest import ModelManifest
from spineview.models.series_check import (
    classification_warnings,
    series_label,
    trained_series_types,
)


def _manifest(series_types: list[str] | None) -> ModelManifest:
    training = {"rule_parameters": {"series_types": series_types}} if series_types else {}
    return ModelManifest.for_architecture("cnn", "sag-model", training=training)


def test_a_sagittal_model_warns_for_an_axial_series_only() -> None:
    manifest = _manifest(["Sagittal T1", "Sagittal T2/STIR"])
    assert trained_series_types(manifest) == ["Sagittal T1", "Sagittal T2/STIR"]
    ok = classification_warnings(
        manifest, modality="MR", series_type="Sagittal T1", series_label="Se 1 T1"
    )
    assert ok == []
    (warning,) = classification_warnings(
        manifest, modality="MR", series_type="Axial T2", series_label="Se 3 AX T2"
    )
    assert warning.startswith("Se 3 AX T2: Axial T2 series")
    assert "sag-model was trained on Sagittal T1 and Sagittal T2/STIR only" in warning


def test_a_ct_series_always_warns_even_without_known_series_types() -> None:
    manifest = _manifest(None)
    (warning,) = classification_warnings(
        manifest, modality="CT", series_type="other", series_label="Se 5 BONE"
    )
    assert "modality CT" in warning and "MR images only" in warning
    assert (
        classification_warnings(manifest, modality="MR", series_type="other", series_label="x")
        == []
    )


def test_series_label() -> None:
    assert series_label(3, "T2 SAG") == "Se 3 T2 SAG"
    assert series_label(None, "") == "(no description)"


def test_body_part_is_a_hint_that_flags_and_never_declines() -> None:
    from spineview.models.series_check import header_findings, is_lumbar_body_part

    manifest = ModelManifest.for_architecture("cnn", "m")
    for value in ("LSPINE", "L-SPINE", "Lumbar spine", "SPINE", "TLSPINE", "SSPINE", ""):
        assert not header_findings(
            manifest, modality="MR", series_type="Sagittal T1", series_label="x", body_part=value
        ), value
    (finding,) = header_findings(
        manifest, modality="MR", series_type="Sagittal T1", series_label="Se 3", body_part="HEAD"
    )
    assert not finding.declines
    assert finding.text == (
        "Se 3: BodyPartExamined says HEAD, not the lumbar spine (a hint only: this header is "
        "often wrong)"
    )
    assert not is_lumbar_body_part("CSPINE") and is_lumbar_body_part("lspine")

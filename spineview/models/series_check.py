"""Guard rails: whether a model was trained on the kind of series it is about to classify.

A slice classifier answers for any image it is given; on a CT, or on an axial series when it
learnt sagittal slices, the answer means nothing. These warnings are shown before classifying
(the viewer asks, the CLI prints them) and travel with the results.
"""

from __future__ import annotations

from spineview.models.manifest import ModelManifest
from spineview.models.series_decision import HeaderFinding

TRAINED_MODALITY = "MR"
LUMBAR_BODY_PARTS = frozenset({"SPINE", "LSPINE", "LSSPINE", "TLSPINE", "SSPINE", "LUMBAR"})
"""BodyPartExamined values (DICOM defined terms and common variants) that include the lumbar
spine; any other value flags a series."""


def trained_series_types(manifest: ModelManifest) -> list[str]:
    """The series types the model's training data used ([] when unknown, e.g. class folders)."""
    parameters = manifest.training.get("rule_parameters")
    if not isinstance(parameters, dict):
        return []
    types = parameters.get("series_types")
    if not isinstance(types, list):
        return []
    return [str(value) for value in types]


def classification_warnings(
    manifest: ModelManifest,
    *,
    modality: str,
    series_type: str,
    series_label: str,
    time_point: tuple[int, int] | None = None,
) -> list[str]:
    """What is wrong with classifying this series with this model, in sentences ([] = nothing).

    `series_label` names the series for the user (e.g. "Se 3 SAG T2").
    """
    findings = header_findings(
        manifest,
        modality=modality,
        series_type=series_type,
        series_label=series_label,
        time_point=time_point,
    )
    return [finding.text for finding in findings]


def header_findings(
    manifest: ModelManifest,
    *,
    modality: str,
    series_type: str,
    series_label: str,
    time_point: tuple[int, int] | None = None,
    body_part: str = "",
) -> list[HeaderFinding]:
    """The header checks as findings: a modality other than MR declines the series; another
    series type, one time point of a time series, or a BodyPartExamined that names another
    part (a hint only: a head CT in the test corpus says CSPINE) flags it."""
    findings = []
    if modality != TRAINED_MODALITY:
        findings.append(
            HeaderFinding(
                f"{series_label}: modality {modality or 'unknown'}, but {manifest.name} was "
                "trained on MR images only; its output for this series means nothing",
                declines=True,
            )
        )
    trained = trained_series_types(manifest)
    if trained and modality == TRAINED_MODALITY and series_type not in trained:
        findings.append(
            HeaderFinding(
                f"{series_label}: {series_type} series (by its headers), but {manifest.name} was "
                f"trained on {' and '.join(trained)} only; treat its output with suspicion"
            )
        )
    if body_part and not is_lumbar_body_part(body_part):
        findings.append(
            HeaderFinding(
                f"{series_label}: BodyPartExamined says {body_part}, not the lumbar spine "
                "(a hint only: this header is often wrong)"
            )
        )
    if time_point is not None:
        number, count = time_point
        findings.append(
            HeaderFinding(
                f"{series_label}: time point {number} of {count} of a time series; "
                f"{manifest.name} learnt from single acquisitions"
            )
        )
    return findings


def is_lumbar_body_part(value: str) -> bool:
    """Whether a BodyPartExamined value may include the lumbar spine ("L-SPINE" and "LUMBAR
    SPINE" count: spaces, hyphens and underscores are ignored)."""
    compact = "".join(ch for ch in value.upper() if ch.isalnum())
    return compact in LUMBAR_BODY_PARTS or "LUMBAR" in compact or compact.startswith("LSPINE")


def series_label(series_number: int | None, description: str) -> str:
    """How a series is named in warnings and reports."""
    number = f"Se {series_number} " if series_number is not None else ""
    return f"{number}{description or '(no description)'}".strip()

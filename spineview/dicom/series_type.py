"""Which of the three lumbar MRI series types a series is, from its headers alone.

Clinical folders carry no RSNA CSV, so the type comes from the plane (ImageOrientationPatient)
and the sequence: the description when it names the weighting, else the timing parameters
(TE/TR/TI). The rule is stated in `SeriesType.reason` so a user can see why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from spineview.core.geometry import Plane

SAGITTAL_T1 = "Sagittal T1"
SAGITTAL_T2_STIR = "Sagittal T2/STIR"
AXIAL_T2 = "Axial T2"
OTHER = "other"
SERIES_TYPES = (SAGITTAL_T1, SAGITTAL_T2_STIR, AXIAL_T2, OTHER)

# STIR nulls fat with a short inversion time: ~150 ms at 1.5 T, ~230 ms at 3 T.
_STIR_TI_MS = (80.0, 300.0)
# Word edges that treat "_" as a separator too ("AAHead_Scout", "t2_tse_sag").
_START, _END = r"(?<![A-Z0-9])", r"(?![A-Z0-9])"
_LOCALISER_WORDS = re.compile(
    rf"{_START}(LOC|LOCALI[SZ]ER|SCOUT|SURVEY|3[ -]?PLANE|(TRI[ -]?)?PILOT){_END}", re.I
)
_DERIVED_PROJECTIONS = frozenset({"PROJECTION IMAGE", "MIP", "MPR"})
_STIR_WORDS = re.compile(rf"STIR|TIRM|{_START}IR{_END}", re.I)
_PD_WORD = re.compile(rf"{_START}PD{_END}", re.I)
_T2_WORDS = re.compile(rf"T2|{_START}PD{_END}|MYELO", re.I)
_T1_WORDS = re.compile(r"T1", re.I)


@dataclass(frozen=True)
class SeriesType:
    label: str
    weighting: str  # "T1", "T2", "STIR", "PD", "" (unknown)
    reason: str


@dataclass(frozen=True)
class SequenceFacts:
    """The header attributes the classification looks at."""

    modality: str
    plane: Plane | None
    description: str = ""
    image_type: tuple[str, ...] = ()
    echo_time: float | None = None
    repetition_time: float | None = None
    inversion_time: float | None = None
    scanning_sequence: str = ""


def classify_series(facts: SequenceFacts) -> SeriesType:
    """Sagittal T1, Sagittal T2/STIR, Axial T2 or other, with the reason in words."""
    if facts.modality != "MR":
        return SeriesType(OTHER, "", f"modality {facts.modality or 'unknown'}, not MR")
    if "LOCALIZER" in facts.image_type or _LOCALISER_WORDS.search(facts.description):
        return SeriesType(OTHER, "", "localiser/scout series")
    derived = "DERIVED" in facts.image_type or "PROJECTION IMAGE" in facts.image_type
    if derived and _DERIVED_PROJECTIONS.intersection(facts.image_type):
        return SeriesType(OTHER, "", "derived projection or reformat, not an acquired stack")
    if facts.plane is None:
        return SeriesType(OTHER, "", "no ImageOrientationPatient: plane unknown")
    weighting, how = sequence_weighting(facts)
    label = _label_for(facts.plane, weighting)
    return SeriesType(label, weighting, f"{facts.plane} by orientation; {how}")


def sequence_weighting(facts: SequenceFacts) -> tuple[str, str]:
    """("T1" | "T2" | "STIR" | "PD" | "", how it was decided)."""
    description = facts.description
    if description:
        if _STIR_WORDS.search(description):
            return "STIR", f"STIR named in description {description!r}"
        if _T1_WORDS.search(description) and not _T2_WORDS.search(description):
            return "T1", f"T1 named in description {description!r}"
        if _T2_WORDS.search(description) and not _T1_WORDS.search(description):
            proton_density = _PD_WORD.search(description) and "T2" not in description.upper()
            weighting = "PD" if proton_density else "T2"
            return weighting, f"{weighting} named in description {description!r}"
    return _weighting_from_timing(facts)


def _weighting_from_timing(facts: SequenceFacts) -> tuple[str, str]:
    te, tr, ti = facts.echo_time, facts.repetition_time, facts.inversion_time
    timing = ", ".join(
        f"{name}={value:g} ms" for name, value in (("TE", te), ("TR", tr), ("TI", ti)) if value
    )
    if (
        ti is not None
        and _STIR_TI_MS[0] <= ti <= _STIR_TI_MS[1]
        and "IR" in facts.scanning_sequence
    ):
        return "STIR", f"STIR by short inversion time ({timing})"
    if te is None or tr is None:
        return "", "weighting unknown: no description keyword and no TE/TR"
    if tr < 1000 and te < 30:
        return "T1", f"T1 by short TR and TE ({timing})"
    if tr >= 1500 and te >= 60:
        return "T2", f"T2 by long TR and TE ({timing})"
    if tr >= 1500 and te < 30:
        return "PD", f"proton density by long TR, short TE ({timing})"
    return "", f"weighting unclear from timing ({timing})"


def _label_for(plane: Plane, weighting: str) -> str:
    if plane == "sagittal" and weighting == "T1":
        return SAGITTAL_T1
    if plane == "sagittal" and weighting in ("T2", "STIR"):
        return SAGITTAL_T2_STIR
    if plane == "axial" and weighting == "T2":
        return AXIAL_T2
    return OTHER

"""Names and vocabularies of the RSNA 2024 Lumbar Spine layout (../shared/data/RSNA2024_FORMAT.md).

One place for the strings both the synthetic generator (which writes the layout) and the readers
(which check it) use, so the two cannot drift apart.
"""

from __future__ import annotations

LEVELS: tuple[str, ...] = ("L1/L2", "L2/L3", "L3/L4", "L4/L5", "L5/S1")
CONDITIONS: tuple[str, ...] = (
    "Spinal Canal Stenosis",
    "Left Neural Foraminal Narrowing",
    "Right Neural Foraminal Narrowing",
    "Left Subarticular Stenosis",
    "Right Subarticular Stenosis",
)
SEVERITIES: tuple[str, ...] = ("Normal/Mild", "Moderate", "Severe")
SEVERITY_INDEX: dict[str, int] = {name: index for index, name in enumerate(SEVERITIES)}

SAGITTAL_T1 = "Sagittal T1"
SAGITTAL_T2_STIR = "Sagittal T2/STIR"
AXIAL_T2 = "Axial T2"
SERIES_DESCRIPTIONS: tuple[str, ...] = (SAGITTAL_T1, SAGITTAL_T2_STIR, AXIAL_T2)

# Where graders place each condition's points (the usual placement; exceptions exist).
SERIES_FOR_CONDITION: dict[str, str] = {
    "Spinal Canal Stenosis": SAGITTAL_T2_STIR,
    "Left Neural Foraminal Narrowing": SAGITTAL_T1,
    "Right Neural Foraminal Narrowing": SAGITTAL_T1,
    "Left Subarticular Stenosis": AXIAL_T2,
    "Right Subarticular Stenosis": AXIAL_T2,
}

TRAIN_CSV = "train.csv"
COORDINATES_CSV = "train_label_coordinates.csv"
SERIES_DESCRIPTIONS_CSV = "train_series_descriptions.csv"
IMAGES_FOLDER = "train_images"
COORDINATE_COLUMNS: tuple[str, ...] = (
    "study_id", "series_id", "instance_number", "condition", "level", "x", "y",
)  # fmt: skip
SERIES_DESCRIPTION_COLUMNS: tuple[str, ...] = ("study_id", "series_id", "series_description")


def level_key(level: str) -> str:
    """ "L4/L5" → "l4_l5"."""
    return level.lower().replace("/", "_")


def condition_key(condition: str) -> str:
    """ "Left Neural Foraminal Narrowing" → "left_neural_foraminal_narrowing"."""
    return condition.lower().replace(" ", "_")


def label_column(condition: str, level: str) -> str:
    """The train.csv column of a (condition, level) pair."""
    return f"{condition_key(condition)}_{level_key(level)}"


LABEL_COLUMNS: tuple[str, ...] = tuple(
    label_column(condition, level) for condition in CONDITIONS for level in LEVELS
)
TRAIN_COLUMNS: tuple[str, ...] = ("study_id", *LABEL_COLUMNS)

"""A PNG montage of synthetic (or real RSNA-layout) studies, with the label points marked.

One row per study: Sagittal T1, Sagittal T2/STIR and Axial T2, each on the slice where the
L4/L5 finding of that series type was annotated, with every label point of that slice drawn as
a cross (green Normal/Mild, yellow Moderate, red Severe). It reads the files back through
spineview's own DICOM loader, so it also proves the files decode.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import numpy as np

from spineview.core.png import write_png
from spineview.core.presets import AUTO
from spineview.core.windowing import apply_preset
from spineview.data import rsna_format
from spineview.dicom.decode import decode_frame
from spineview.dicom.scan import scan_paths

TILE = 256
COLOURS = {"Normal/Mild": (60, 220, 60), "Moderate": (255, 210, 0), "Severe": (255, 40, 40)}
FOCUS = {  # series type → the finding whose slice is shown
    rsna_format.SAGITTAL_T1: "Left Neural Foraminal Narrowing",
    rsna_format.SAGITTAL_T2_STIR: "Spinal Canal Stenosis",
    rsna_format.AXIAL_T2: "Left Subarticular Stenosis",
}


def write_montage(root: Path, png: Path, *, studies: int = 4) -> Path:
    """Render up to `studies` studies of an RSNA-layout folder into one PNG."""
    descriptions = _read_csv(root / rsna_format.SERIES_DESCRIPTIONS_CSV)
    points = _read_csv(root / rsna_format.COORDINATES_CSV)
    grades = {row["study_id"]: row for row in _read_csv(root / rsna_format.TRAIN_CSV)}
    by_study: dict[str, dict[str, str]] = defaultdict(dict)
    for row in descriptions:
        by_study[row["study_id"]].setdefault(row["series_description"], row["series_id"])
    rows = []
    for study_id in list(by_study)[:studies]:
        tiles = [
            _tile(root, study_id, by_study[study_id].get(kind), kind, points, grades[study_id])
            for kind in rsna_format.SERIES_DESCRIPTIONS
        ]
        rows.append(np.hstack(tiles))
    if not rows:
        raise ValueError(f"{root}: no studies to show")
    write_png(png, np.vstack(rows))
    return png


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as stream:
        return list(csv.DictReader(stream))


def _tile(
    root: Path,
    study_id: str,
    series_id: str | None,
    kind: str,
    points: list[dict[str, str]],
    grades: dict[str, str],
) -> np.ndarray:
    blank = np.zeros((TILE, TILE, 3), dtype=np.uint8)
    if series_id is None:
        return blank
    mine = [p for p in points if p["study_id"] == study_id and p["series_id"] == series_id]
    focus = [p for p in mine if p["condition"] == FOCUS[kind] and p["level"] == "L4/L5"]
    folder = root / rsna_format.IMAGES_FOLDER / study_id / series_id
    series = [s for study in scan_paths([folder]).studies for s in study.series]
    refs = [ref for info in series for ref in info.slices]
    if not refs:
        return blank
    instance = (
        int(focus[0]["instance_number"]) if focus else refs[len(refs) // 2].header.instance_number
    )
    ref = next((r for r in refs if r.header.instance_number == instance), refs[len(refs) // 2])
    pixels = decode_frame(ref.header, ref.frame)
    grey = apply_preset(pixels, AUTO.window_for(pixels))
    image = np.repeat(grey[:, :, None], 3, axis=2)
    for point in mine:
        if int(point["instance_number"]) != ref.header.instance_number:
            continue
        column = rsna_format.label_column(point["condition"], point["level"])
        colour = COLOURS.get(grades.get(column, ""), (120, 120, 255))
        _cross(image, float(point["x"]), float(point["y"]), colour)
    return _resize(image, TILE)


def _cross(image: np.ndarray, x: float, y: float, colour: tuple[int, int, int]) -> None:
    rows, cols = image.shape[:2]
    r, c = round(y), round(x)
    arm = max(3, rows // 60)
    for dr in range(-arm, arm + 1):
        for rr, cc in ((r + dr, c), (r, c + dr)):
            if 0 <= rr < rows and 0 <= cc < cols:
                image[rr, cc] = colour


def _resize(image: np.ndarray, size: int) -> np.ndarray:
    """Nearest-neighbour resize to size×size (the montage is for looking, not measuring)."""
    rows = (np.arange(size) * image.shape[0] / size).astype(int)
    cols = (np.arange(size) * image.shape[1] / size).astype(int)
    return image[rows][:, cols]

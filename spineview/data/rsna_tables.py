"""Read the three CSV files of the RSNA 2024 layout, row by row, collecting every problem.

Only the `csv` module: IDs stay strings of digits (never floats), a malformed cell is reported
with its line and column and the rest of the file is still read.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from spineview.data.problems import ProblemLog
from spineview.data.rsna_format import (
    CONDITIONS,
    COORDINATE_COLUMNS,
    LABEL_COLUMNS,
    LEVELS,
    SERIES_DESCRIPTION_COLUMNS,
    SERIES_DESCRIPTIONS,
    SEVERITIES,
    SEVERITY_INDEX,
    TRAIN_COLUMNS,
    label_column,
)
from spineview.errors import DatasetError


class CsvRow(NamedTuple):
    line: int
    cells: dict[str, str]
    field_count: int


@dataclass(frozen=True)
class CsvTable:
    path: Path
    columns: tuple[str, ...]
    rows: tuple[CsvRow, ...]


@dataclass(frozen=True)
class DescribedSeries:
    study_id: str
    series_id: str
    description: str
    line: int


@dataclass(frozen=True)
class LabelPoint:
    """A grader's point: pixel (x = column, y = row) on one slice, for one condition and level."""

    study_id: str
    series_id: str
    instance_number: int
    condition: str
    level: str
    x: float
    y: float

    @property
    def label_column(self) -> str:
        return label_column(self.condition, self.level)


class CoordinateRow(NamedTuple):
    """A parsed row of train_label_coordinates.csv (line kept for later problems)."""

    line: int
    point: LabelPoint


def parse_id(text: str) -> str | None:
    """A study/series id as its digit string, or None when it is not a plain whole number."""
    text = text.strip()
    return text if text.isascii() and text.isdigit() else None


def read_table(path: Path) -> CsvTable:
    """All rows of a CSV file (header stripped of spaces and BOM); raises DatasetError."""
    if not path.is_file():
        raise DatasetError(f"{path}: file not found")
    rows: list[CsvRow] = []
    try:
        with path.open(newline="", encoding="utf-8-sig") as stream:
            reader = csv.reader(stream)
            header = next(reader, None)
            if header is None:
                raise DatasetError(f"{path}: the file is empty (no header line)")
            columns = tuple(name.strip() for name in header)
            for cells in reader:
                if not any(cells) or not "".join(cells).strip():
                    continue
                values = dict(zip(columns, map(str.strip, cells), strict=False))
                if len(cells) < len(columns):
                    values.update(dict.fromkeys(columns[len(cells) :], ""))
                rows.append(CsvRow(reader.line_num, values, len(cells)))
    except UnicodeDecodeError as error:
        raise DatasetError(
            f"{path}: not UTF-8 text ({error.reason} at byte {error.start})"
        ) from None
    except csv.Error as error:
        raise DatasetError(f"{path}: not a readable CSV file ({error})") from None
    except OSError as error:
        raise DatasetError(f"{path}: cannot read ({error.strerror or error})") from None
    return CsvTable(path, columns, tuple(rows))


def check_columns(
    table: CsvTable, expected: Sequence[str], problems: ProblemLog, *, required: Sequence[str]
) -> bool:
    """Report missing, unexpected and reordered columns; False when a required one is missing."""
    missing = [name for name in expected if name not in table.columns]
    extra = [name for name in table.columns if name not in expected]
    duplicated = sorted({name for name in table.columns if table.columns.count(name) > 1})
    if missing:
        problems.add(table.path, "columns", f"missing columns: {', '.join(missing)}")
    if extra:
        problems.add(table.path, "columns", f"unexpected columns: {', '.join(extra)}", warning=True)
    if duplicated:
        problems.add(table.path, "columns", f"repeated columns: {', '.join(duplicated)}")
    present = [name for name in table.columns if name in expected]
    if not missing and not duplicated and present != list(expected):
        problems.add(table.path, "columns", "columns are not in the usual order", warning=True)
    return all(name in table.columns for name in required)


def usable_rows(table: CsvTable, problems: ProblemLog) -> list[CsvRow]:
    """Rows whose field count matches the header; the others are reported and skipped."""
    good = []
    for row in table.rows:
        if row.field_count != len(table.columns):
            problems.add(
                table.path,
                "bad-row",
                f"line {row.line}: {row.field_count} fields where the header has "
                f"{len(table.columns)}; row skipped",
            )
            continue
        good.append(row)
    return good


def read_labels(path: Path, problems: ProblemLog) -> dict[str, dict[str, int | None]]:
    """train.csv as study_id → {label column → severity index or None}, in file order.

    Raises DatasetError when the file is missing, unreadable or has no study_id column.
    """
    table = read_table(path)
    check_columns(table, TRAIN_COLUMNS, problems, required=("study_id",))
    if "study_id" not in table.columns:
        raise DatasetError(f"{path}: no study_id column (found: {', '.join(table.columns)})")
    labels: dict[str, dict[str, int | None]] = {}
    first_line: dict[str, int] = {}
    for row in usable_rows(table, problems):
        study_id = parse_id(row.cells["study_id"])
        if study_id is None:
            problems.add(
                path,
                "bad-id",
                f"line {row.line}: study_id {row.cells['study_id']!r} is not a "
                "whole number; row skipped",
            )
            continue
        if study_id in labels:
            problems.add(
                path,
                "duplicate-study",
                f"line {row.line}: study {study_id} already has a row (line "
                f"{first_line[study_id]}); this one is ignored",
            )
            continue
        first_line[study_id] = row.line
        labels[study_id] = _row_labels(path, row, study_id, problems)
    return labels


def _row_labels(
    path: Path, row: CsvRow, study_id: str, problems: ProblemLog
) -> dict[str, int | None]:
    result: dict[str, int | None] = {}
    for column in LABEL_COLUMNS:
        text = row.cells.get(column, "")
        if not text:
            result[column] = None
        elif text in SEVERITY_INDEX:
            result[column] = SEVERITY_INDEX[text]
        else:
            result[column] = None
            problems.add(
                path,
                "unknown-grade",
                f"line {row.line} (study {study_id}), column {column}: unknown grade {text!r} "
                f"(expected {', '.join(SEVERITIES)} or empty)",
            )
    return result


def read_series_descriptions(path: Path, problems: ProblemLog) -> list[DescribedSeries]:
    """The rows of train_series_descriptions.csv; a missing file is a problem, not an error."""
    table = _optional_table(path, problems)
    if table is None:
        return []
    if not check_columns(
        table, SERIES_DESCRIPTION_COLUMNS, problems, required=SERIES_DESCRIPTION_COLUMNS
    ):
        return []
    result: list[DescribedSeries] = []
    seen: dict[tuple[str, str], int] = {}
    for row in usable_rows(table, problems):
        ids = _row_ids(path, row, ("study_id", "series_id"), problems)
        if ids is None:
            continue
        study_id, series_id = ids
        description = row.cells["series_description"]
        if (study_id, series_id) in seen:
            problems.add(
                path,
                "duplicate-series",
                f"line {row.line}: series {series_id} of study {study_id} already described "
                f"on line {seen[study_id, series_id]}; this row is ignored",
            )
            continue
        seen[study_id, series_id] = row.line
        if description not in SERIES_DESCRIPTIONS:
            problems.add(
                path,
                "unknown-description",
                f"line {row.line} (series {series_id}): unknown series description "
                f"{description!r} (expected {', '.join(SERIES_DESCRIPTIONS)})",
            )
        result.append(DescribedSeries(study_id, series_id, description, row.line))
    return result


def read_coordinates(path: Path, problems: ProblemLog) -> list[CoordinateRow]:
    """The rows of train_label_coordinates.csv that parse; each bad cell is a problem."""
    table = _optional_table(path, problems)
    if table is None:
        return []
    if not check_columns(table, COORDINATE_COLUMNS, problems, required=COORDINATE_COLUMNS):
        return []
    result = []
    for row in usable_rows(table, problems):
        parsed = _coordinate_row(path, row, problems)
        if parsed is not None:
            result.append(parsed)
    return result


def _coordinate_row(path: Path, row: CsvRow, problems: ProblemLog) -> CoordinateRow | None:
    cells = row.cells
    ids = _row_ids(path, row, ("study_id", "series_id", "instance_number"), problems)
    good = ids is not None
    if cells["condition"] not in CONDITIONS:
        problems.add(
            path,
            "unknown-condition",
            f"line {row.line}: unknown condition {cells['condition']!r} "
            f"(expected one of {', '.join(CONDITIONS)})",
        )
        good = False
    if cells["level"] not in LEVELS:
        problems.add(
            path,
            "unknown-level",
            f"line {row.line}: unknown level {cells['level']!r} (expected {', '.join(LEVELS)})",
        )
        good = False
    x = _coordinate(path, row, "x", problems)
    y = _coordinate(path, row, "y", problems)
    if not good or ids is None or x is None or y is None:
        return None
    study_id, series_id, instance = ids
    return CoordinateRow(
        row.line,
        LabelPoint(study_id, series_id, int(instance), cells["condition"], cells["level"], x, y),
    )


def _coordinate(path: Path, row: CsvRow, column: str, problems: ProblemLog) -> float | None:
    text = row.cells[column]
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        problems.add(
            path, "bad-number", f"line {row.line}: {column} {text!r} is not a finite number"
        )
        return None
    if value < 0:
        problems.add(path, "bad-number", f"line {row.line}: {column} {text!r} is negative")
        return None
    return value


def _row_ids(
    path: Path, row: CsvRow, columns: Sequence[str], problems: ProblemLog
) -> tuple[str, ...] | None:
    ids = []
    for column in columns:
        value = parse_id(row.cells[column])
        if value is None:
            problems.add(
                path,
                "bad-id",
                f"line {row.line}: {column} {row.cells[column]!r} is not a whole number",
            )
        ids.append(value)
    return None if None in ids else tuple(i for i in ids if i is not None)


def _optional_table(path: Path, problems: ProblemLog) -> CsvTable | None:
    try:
        return read_table(path)
    except DatasetError as error:
        message = str(error).removeprefix(f"{path}: ")
        problems.add(path, "missing-file" if not path.is_file() else "unreadable", message)
        return None

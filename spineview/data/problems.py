"""What a dataset reader found wrong: one `DatasetProblem` per finding, never just the first.

Readers collect problems instead of raising, so a user sees every fault of a folder in one pass
(raising `DatasetError` is kept for faults that leave nothing to read).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class DatasetProblem:
    """One finding: the file (or folder) concerned and what is wrong with it.

    `code` is a short stable name of the kind of finding (tests and reports group by it);
    `warning` marks findings that real data is known to have and that do not stop use.
    """

    path: Path
    message: str
    code: str = "problem"
    warning: bool = False

    def __str__(self) -> str:
        prefix = "warning: " if self.warning else ""
        return f"{self.path}: {prefix}{self.message}"


class ProblemLog:
    """An append-only list of problems with a terse `add`."""

    def __init__(self) -> None:
        self.problems: list[DatasetProblem] = []

    def add(self, path: Path, code: str, message: str, *, warning: bool = False) -> None:
        self.problems.append(DatasetProblem(Path(path), message, code, warning))

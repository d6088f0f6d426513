"""A loaded model of one task (disc levels, grades) with its distribution check: loading is the
same for every task, checked as `store.load_model` checks any model."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from spineview.models.distribution_check import DistributionCheck
from spineview.models.manifest import ModelManifest
from spineview.models.precision import resolve_precision

TaskModelT = TypeVar("TaskModelT", bound="TaskModel")


@dataclass
class TaskModel:
    model: Any
    manifest: ModelManifest
    folder: Path | None
    check: DistributionCheck | None = None
    TASK: ClassVar[str]

    @classmethod
    def load(cls: type[TaskModelT], folder: Path, *, precision: str = "auto") -> TaskModelT:
        """Load a model folder of this class's task (ModelLoadError for another task)."""
        from spineview.ml.store import load_model
        from spineview.models.catalogue import load_distribution_check, require_task

        require_task(Path(folder), cls.TASK)
        model, manifest = load_model(Path(folder), precision=resolve_precision(precision))
        return cls(model, manifest, Path(folder), load_distribution_check(Path(folder), manifest))

    @property
    def name(self) -> str:
        return self.manifest.name

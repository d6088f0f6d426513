"""Slice-level binary examples (degenerative / healthy) from an RSNA-layout dataset.

The rule is a parameter (`SliceRule`), not a constant: by default a slice of a sagittal series is
degenerative (1) when a Moderate or Severe finding is annotated on it or on its neighbour, and
healthy (0) when its study's labels are all Normal/Mild; other slices are left out. Studies with a
finding at or above the threshold give only their positive slices; studies with a finding below
it (e.g. Moderate when the threshold is Severe) give none: they are neither clearly positive nor
clearly healthy.

"Neighbour" is meant in space: the slice order comes from the files' geometry (a header scan of
the series folder with `spineview.dicom.scan`, done only for series that carry a positive point),
because instance numbers need not follow the slice position. When the scan finds no usable
geometry the instance-number order is used instead and the example says so.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from spineview.data.problems import DatasetProblem, ProblemLog
from spineview.data.rsna import LabelPoint, RsnaDataset, RsnaSeries, RsnaStudy
from spineview.data.rsna_format import (
    LABEL_COLUMNS,
    SAGITTAL_T1,
    SAGITTAL_T2_STIR,
    SERIES_DESCRIPTIONS,
    SEVERITIES,
)
from spineview.data.rsna_images import instance_from_name
from spineview.dicom.scan import scan_paths
from spineview.errors import DatasetError

logger = logging.getLogger(__name__)

# Why a study gave no example (keys of SliceCounts.left_out_studies).
NO_LABEL_ROW = "no train.csv row"
NO_KNOWN_LABEL = "no known label"
LABELS_MISSING = "some labels missing"
BELOW_THRESHOLD = "findings below the threshold only"
NO_POSITIVE_POINT = "no annotated finding on the rule's series"


@dataclass(frozen=True)
class SliceRule:
    """Which slices are degenerative (1), which are healthy (0); the rest are left out.

    `series_types`: the series descriptions whose slices are used. `min_severity`: the grade
    index a finding needs to make a slice positive (1 = Moderate, 2 = Severe). A slice within
    `neighbour_distance` positions (spatial order) of an annotated point is positive too.
    Healthy studies have only Normal/Mild labels; with `healthy_requires_all_labels_present`
    a study with empty label cells is left out instead.
    """

    series_types: tuple[str, ...] = (SAGITTAL_T1, SAGITTAL_T2_STIR)
    min_severity: int = 1
    neighbour_distance: int = 1
    healthy_requires_all_labels_present: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "series_types", tuple(self.series_types))
        unknown = [t for t in self.series_types if t not in SERIES_DESCRIPTIONS]
        if not self.series_types or unknown:
            raise DatasetError(
                f"slice rule: series types must be some of {', '.join(SERIES_DESCRIPTIONS)}; "
                f"got {', '.join(map(repr, self.series_types)) or 'none'}"
            )
        if self.min_severity not in (1, 2):
            raise DatasetError(
                f"slice rule: min_severity must be 1 (Moderate) or 2 (Severe), "
                f"got {self.min_severity}"
            )
        if self.neighbour_distance < 0:
            raise DatasetError(
                f"slice rule: neighbour_distance must be 0 or more, got {self.neighbour_distance}"
            )

    def describe(self) -> str:
        """The rule in one sentence (printed by the CLI and the training reports)."""
        series = " or ".join(self.series_types)
        grade = "Severe" if self.min_severity == 2 else f"{SEVERITIES[self.min_severity]} or worse"
        d = self.neighbour_distance
        where = (
            "on it"
            if d == 0
            else f"on it or on a slice up to {d} position{'s' if d > 1 else ''} away in "
            "spatial order"
        )
        healthy = (
            f"all {len(LABEL_COLUMNS)} labels present and Normal/Mild"
            if self.healthy_requires_all_labels_present
            else "every known label Normal/Mild (empty label cells allowed)"
        )
        return (
            f"A slice of a {series} series is degenerative (1) when a finding graded {grade} "
            f"(min_severity={self.min_severity}) is annotated {where} "
            f"(neighbour_distance={d}); it is healthy (0) when its study has {healthy}; "
            "other slices are left out."
        )


@dataclass(frozen=True)
class SliceExample:
    study_id: str
    series_id: str
    instance_number: int
    path: Path
    label: int  # 1 degenerative, 0 healthy
    reason: str


@dataclass(frozen=True)
class SliceCounts:
    positive_slices: int
    negative_slices: int
    positive_studies: int
    negative_studies: int
    left_out_studies: dict[str, int]  # reason → studies
    scanned_series: int
    instance_order_series: int  # scanned series that fell back to instance-number order

    def lines(self) -> list[str]:
        left_out = ", ".join(f"{reason}: {n}" for reason, n in self.left_out_studies.items())
        return [
            f"degenerative slices: {self.positive_slices} from {self.positive_studies} studies",
            f"healthy slices: {self.negative_slices} from {self.negative_studies} studies",
            f"studies left out: {sum(self.left_out_studies.values())}"
            + (f" ({left_out})" if left_out else ""),
            f"series scanned for slice order: {self.scanned_series} "
            f"({self.instance_order_series} in instance-number order)",
        ]


@dataclass
class SliceExampleSet:
    rule: SliceRule
    examples: list[SliceExample]
    counts: SliceCounts
    problems: list[DatasetProblem] = field(default_factory=list)

    @property
    def rule_text(self) -> str:
        return self.rule.describe()

    @property
    def groups(self) -> list[str]:
        """The study of each example (the group for `grouped_split`)."""
        return [example.study_id for example in self.examples]

    @property
    def labels(self) -> list[int]:
        return [example.label for example in self.examples]


@dataclass(frozen=True)
class _SliceOrder:
    instances: list[int]
    spatial: bool


def slice_examples(dataset: RsnaDataset, rule: SliceRule) -> SliceExampleSet:
    """Label the slices of `dataset` by `rule` (see the module notes).

    Raises DatasetError when the dataset was read without listing its images.
    """
    if not dataset.images_checked:
        raise DatasetError(
            f"{dataset.root}: read with check_images=False; slice examples need the image files"
        )
    points: dict[tuple[str, str], list[LabelPoint]] = {}
    for point in dataset.coordinates:
        points.setdefault((point.study_id, point.series_id), []).append(point)
    builder = _Builder(rule, points)
    for study in dataset.studies.values():
        builder.add_study(study)
    counts = SliceCounts(
        positive_slices=sum(e.label == 1 for e in builder.examples),
        negative_slices=sum(e.label == 0 for e in builder.examples),
        positive_studies=builder.positive_studies,
        negative_studies=builder.negative_studies,
        left_out_studies=dict(builder.left_out),
        scanned_series=builder.scanned,
        instance_order_series=builder.fallbacks,
    )
    logger.info(
        "slice examples: %d positive, %d negative slices",
        counts.positive_slices,
        counts.negative_slices,
    )
    return SliceExampleSet(rule, builder.examples, counts, builder.log.problems)


class _Builder:
    def __init__(self, rule: SliceRule, points: dict[tuple[str, str], list[LabelPoint]]) -> None:
        self.rule = rule
        self.points = points
        self.examples: list[SliceExample] = []
        self.log = ProblemLog()
        self.left_out: Counter[str] = Counter()
        self.positive_studies = 0
        self.negative_studies = 0
        self.scanned = 0
        self.fallbacks = 0

    def add_study(self, study: RsnaStudy) -> None:
        worst = study.max_severity
        series = [s for s in study.series if s.description in self.rule.series_types]
        if not study.labelled:
            self.left_out[NO_LABEL_ROW] += 1
        elif worst is None:
            self.left_out[NO_KNOWN_LABEL] += 1
        elif worst >= self.rule.min_severity:
            found = [example for s in series for example in self._positives(study, s)]
            self.examples += found
            if found:
                self.positive_studies += 1
            else:
                self.left_out[NO_POSITIVE_POINT] += 1
        elif worst > 0:
            self.left_out[BELOW_THRESHOLD] += 1
        elif self.rule.healthy_requires_all_labels_present and not study.all_labels_present:
            self.left_out[LABELS_MISSING] += 1
        else:
            known = len(study.known_labels)
            reason = f"study {study.study_id}: all {known} known labels are Normal/Mild"
            for s in series:
                self.examples += [
                    SliceExample(study.study_id, s.series_id, n, s.file(n), 0, reason)
                    for n in s.instance_numbers
                ]
            self.negative_studies += 1

    def _positives(self, study: RsnaStudy, series: RsnaSeries) -> list[SliceExample]:
        hits = []
        for point in self.points.get((study.study_id, series.series_id), []):
            grade = study.labels.get(point.label_column)
            if grade is not None and grade >= self.rule.min_severity:
                hits.append((point, grade))
        if not hits:
            return []
        order = self._slice_order(series)
        best: dict[int, tuple[tuple[int, int], str]] = {}  # instance → (rank, reason)
        for point, grade in hits:
            if point.instance_number not in order.instances:
                self.log.add(
                    series.file(point.instance_number),
                    "coordinate-target-missing",
                    f"{point.condition} {point.level} points at this slice, which is missing or "
                    "unreadable; point ignored",
                )
                continue
            at = order.instances.index(point.instance_number)
            finding = f"{SEVERITIES[grade]} {point.condition} {point.level}"
            low, high = max(0, at - self.rule.neighbour_distance), at + self.rule.neighbour_distance
            for position, instance in enumerate(order.instances[low : high + 1], start=low):
                steps = abs(position - at)
                reason = (
                    f"{finding} annotated on this slice"
                    if steps == 0
                    else f"{finding} annotated on instance {point.instance_number}, "
                    f"{steps} slice{'s' if steps > 1 else ''} away"
                )
                if not order.spatial:
                    reason += " (instance-number order: no usable slice geometry)"
                rank = (steps, -grade)
                if instance not in best or rank < best[instance][0]:
                    best[instance] = (rank, reason)
        return [
            SliceExample(study.study_id, series.series_id, n, series.file(n), 1, best[n][1])
            for n in order.instances
            if n in best
        ]

    def _slice_order(self, series: RsnaSeries) -> _SliceOrder:
        """Instance numbers in spatial order, or in numeric order when geometry is unusable."""
        self.scanned += 1
        result = scan_paths([series.folder])
        for problem in result.problems:
            self.log.add(problem.path, "unreadable", problem.reason, warning=True)
        found = [s for study in result.studies for s in study.series]
        if len(found) == 1 and not found[0].order_uncertain:
            instances = [instance_from_name(ref.path.name) for ref in found[0].slices]
            order = list(dict.fromkeys(n for n in instances if n is not None))
            if order:
                return _SliceOrder(order, spatial=True)
        self.fallbacks += 1
        why = (
            f"{len(found)} stacks"
            if len(found) > 1
            else (found[0].order_note if found else "no readable image")
        )
        self.log.add(
            series.folder,
            "instance-order",
            f"no usable slice geometry ({why}); neighbours taken in instance-number order",
            warning=True,
        )
        return _SliceOrder(list(series.instance_numbers), spatial=False)

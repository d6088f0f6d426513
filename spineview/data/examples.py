"""Training examples: which slices, with which label and group, decoded once into an array.

An RSNA-layout folder gives slice-level examples by a `SliceRule`; a class-folder tree gives every
frame of every file its folder's class. Each slice is decoded and preprocessed exactly once into
one float16 array (the cache), so epochs after the first cost only the network.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from spineview.core.preprocess import INPUT_SIZE, preprocess_slice
from spineview.data.class_folders import read_class_folders
from spineview.data.rsna import read_rsna_dataset
from spineview.data.rsna_format import TRAIN_CSV
from spineview.data.slice_examples import SliceRule, slice_examples
from spineview.dicom.decode import decode_frame
from spineview.dicom.header import read_header
from spineview.errors import DatasetError, DicomLoadError, TrainingCancelled, TrainingError

logger = logging.getLogger(__name__)

CLASS_NAMES = ("healthy", "degenerative")
CACHE_MEMORY_SHARE = 0.6
"""The decode cache may take at most this share of the memory available when training starts:
the network, tf.data's batches and the rest of the process need the remainder."""
ProgressCallback = Callable[[int, int], None]


@dataclass
class Example:
    path: Path
    frame: int
    label: int
    group: str  # study or patient: never split across train/validation/test
    name: str  # for people: "study 123 / instance 7"


@dataclass
class ExampleSet:
    examples: list[Example]
    class_names: tuple[str, ...]
    source: str  # "rsna" or "class folders"
    rule_text: str
    problems: list[str] = field(default_factory=list)

    @property
    def labels(self) -> np.ndarray:
        return np.array([e.label for e in self.examples], dtype=np.int64)

    @property
    def groups(self) -> list[str]:
        return [e.group for e in self.examples]

    def class_counts(self) -> list[int]:
        labels = self.labels
        return [int((labels == index).sum()) for index in range(len(self.class_names))]


def collect_examples(
    root: Path, rule: SliceRule | None = None, *, cancel: threading.Event | None = None
) -> ExampleSet:
    """The labelled slices of a dataset folder (RSNA layout or one folder per class).

    `cancel` is checked between the headers of a class-folder tree (TrainingCancelled).
    """
    if not root.is_dir():
        raise DatasetError(f"{root}: no such folder")
    if (root / TRAIN_CSV).is_file():
        return _rsna_examples(root, rule or SliceRule())
    return _class_folder_examples(root, cancel)


def _rsna_examples(root: Path, rule: SliceRule) -> ExampleSet:
    dataset = read_rsna_dataset(root)
    chosen = slice_examples(dataset, rule)
    examples = [
        Example(
            e.path, 0, e.label, e.study_id, f"study {e.study_id} / instance {e.instance_number}"
        )
        for e in chosen.examples
    ]
    problems = [str(p) for p in dataset.problems if not p.warning]
    return ExampleSet(examples, CLASS_NAMES, "rsna", chosen.rule_text, problems)


def _class_folder_examples(root: Path, cancel: threading.Event | None) -> ExampleSet:
    folders = read_class_folders(root)
    examples: list[Example] = []
    problems = [f"{path}: unreadable" for path in folders.unreadable]
    for item in folders.examples:
        if cancel is not None and cancel.is_set():
            raise TrainingCancelled("cancelled while reading the dataset")
        try:
            frames = read_header(item.path).frames
        except DicomLoadError as error:
            problems.append(str(error))
            continue
        for frame in range(frames):
            suffix = f" / frame {frame + 1}" if frames > 1 else ""
            examples.append(
                Example(
                    item.path, frame, item.class_index, item.group_id, f"{item.path.name}{suffix}"
                )
            )
    rule = "class folders: " + ", ".join(
        f"{name} = {index}" for index, name in enumerate(folders.class_names)
    )
    return ExampleSet(examples, tuple(folders.class_names), "class folders", rule, problems)


def check_trainable(examples: ExampleSet) -> None:
    """Refuse, before any decoding, a dataset that cannot train a classifier."""
    if not examples.examples:
        raise DatasetError(
            f"no usable slices ({examples.rule_text}); "
            + (
                f"first problem: {examples.problems[0]}"
                if examples.problems
                else "check the dataset"
            )
        )
    counts = examples.class_counts()
    if len(counts) != 2:
        raise DatasetError(f"binary models need exactly two classes, found {len(counts)}")
    empty = [name for name, count in zip(examples.class_names, counts, strict=True) if count == 0]
    if empty:
        raise DatasetError(f"no example of class {', '.join(empty)}: one class cannot be learned")


def subsample_examples(examples: ExampleSet, count: int, seed: int) -> ExampleSet:
    """Keep whole groups until about `count` examples remain, alternating groups that hold
    positives with groups that hold none, so both classes survive."""
    rng = np.random.default_rng(seed)
    per_group: dict[str, list[int]] = {}
    for example in examples.examples:
        per_group.setdefault(example.group, []).append(example.label)
    with_positive = sorted(g for g, labels in per_group.items() if max(labels) == 1)
    without = sorted(g for g, labels in per_group.items() if max(labels) == 0)
    rng.shuffle(with_positive)
    rng.shuffle(without)
    order = [g for pair in zip(with_positive, without, strict=False) for g in pair]
    longer = with_positive if len(with_positive) > len(without) else without
    order += longer[min(len(with_positive), len(without)) :]
    chosen: set[str] = set()
    total = 0
    for group in order:
        if total >= count:
            break
        chosen.add(group)
        total += len(per_group[group])
    kept = [e for e in examples.examples if e.group in chosen]
    return ExampleSet(
        kept, examples.class_names, examples.source, examples.rule_text, examples.problems
    )


@dataclass(frozen=True)
class CacheEstimate:
    """What the float16 decode cache of `count` slices needs, against what the machine has."""

    count: int
    size: int
    needed_bytes: int
    available_bytes: int | None  # None: the platform does not say

    @property
    def error(self) -> TrainingError | None:
        """The refusal when the cache would take more than CACHE_MEMORY_SHARE of the memory."""
        available = self.available_bytes
        if available is None or self.needed_bytes <= CACHE_MEMORY_SHARE * available:
            return None
        return TrainingError(
            f"{self.count} slices at {self.size}×{self.size} need "
            f"{self.needed_bytes / 2**30:.1f} GiB of cache but only "
            f"{available / 2**30:.1f} GiB are free: use fewer examples or a smaller size"
        )


def estimate_cache(count: int, size: int = INPUT_SIZE, channels: int = 1) -> CacheEstimate:
    """The cache's size (float16, `channels` per pixel) and the memory available now."""
    return CacheEstimate(count, size, count * size * size * channels * 2, available_memory())


def check_cache_fits(count: int, size: int = INPUT_SIZE, channels: int = 1) -> int:
    """Bytes the float16 cache needs; TrainingError when it would not fit in memory."""
    estimate = estimate_cache(count, size, channels)
    if estimate.error is not None:
        raise estimate.error
    return estimate.needed_bytes


def available_memory() -> int | None:
    """Physical memory available now, in bytes (None where the platform cannot tell)."""
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def decode_examples(
    examples: ExampleSet,
    *,
    scaling: str,
    size: int = INPUT_SIZE,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    transform: Callable[[np.ndarray], np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray, ExampleSet]:
    """Decode and preprocess every example once: (images float16 (n, size, size), labels, kept).

    `scaling` is the intensity scaling (a key of `core.preprocess.INTENSITY_SCALINGS`).

    Slices that fail to decode are dropped and listed in the returned set's problems.
    A set `cancel` stops before the next slice with TrainingCancelled. `transform` changes
    the decoded pixels before preprocessing (`spineview bench learn` makes unfamiliar data so).
    """
    check_cache_fits(len(examples.examples), size)
    images = np.empty((len(examples.examples), size, size), dtype=np.float16)
    kept: list[Example] = []
    problems = list(examples.problems)
    for index, example in enumerate(examples.examples):
        if cancel is not None and cancel.is_set():
            raise TrainingCancelled("cancelled while reading the slices; nothing was saved")
        try:
            pixels = decode_frame(read_header(example.path), example.frame)
        except DicomLoadError as error:
            problems.append(str(error))
            continue
        if transform is not None:
            pixels = transform(pixels)
        images[len(kept)] = preprocess_slice(pixels, size, scaling=scaling)[:, :, 0]
        kept.append(example)
        if progress is not None and (index % 16 == 0 or index == len(examples.examples) - 1):
            progress(index + 1, len(examples.examples))
    result = ExampleSet(kept, examples.class_names, examples.source, examples.rule_text, problems)
    logger.info("decoded %d slices (%d dropped)", len(kept), len(examples.examples) - len(kept))
    return images[: len(kept)], result.labels, result

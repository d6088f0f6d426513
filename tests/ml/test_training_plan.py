"""The dataset inspection before training (no TensorFlow), and the config's augmentation checks."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from spineview.core.preprocess import INPUT_SIZE
from spineview.data import examples as examples_module
from spineview.data.examples import (
    Example,
    ExampleSet,
    check_cache_fits,
    collect_examples,
    decode_examples,
)
from spineview.data.splits import Split
from spineview.data.synth import SynthOptions, synthesize
from spineview.dicom.write import SeriesSpec, write_series
from spineview.errors import DatasetError, TrainingCancelled, TrainingError
from spineview.models.training_plan import (
    AUGMENTATIONS,
    TrainConfig,
    augmentation_name,
    augmentation_settings,
    plan_training,
    split_failures,
)

SLICE_BYTES = INPUT_SIZE * INPUT_SIZE * 2  # one float16 slice in the decode cache


def _patient(folder: Path, seed: int, slices: int = 3) -> None:
    write_series(folder, SeriesSpec(n_slices=slices, rows=32, cols=32), seed=seed)


@pytest.fixture(scope="module")
def class_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """11 patients, 12 series, 36 slices (18 a class): h4 has two series, everyone else one."""
    root = tmp_path_factory.mktemp("classes")
    for index in range(6):
        _patient(root / "degenerative" / f"d{index}", seed=index)
    for index in range(4):
        _patient(root / "healthy" / f"h{index}", seed=10 + index)
    _patient(root / "healthy" / "h4" / "series-1", seed=20)
    _patient(root / "healthy" / "h4" / "series-2", seed=21)
    return root


@pytest.fixture(scope="module")
def rsna_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("plan-rsna") / "rsna"
    synthesize(root, SynthOptions(studies=6, seed=21, size=64), workers=2)
    return root


def _good(dataset: Path, **changes: object) -> TrainConfig:
    settings: dict[str, object] = {"name": "plan-test", "batch_size": 8, "epochs": 2}
    settings.update(changes)
    return TrainConfig(dataset=dataset, **settings)  # type: ignore[arg-type]


# --- a dataset that can train -----------------------------------------------------------------


def test_a_good_dataset_can_train_and_is_described(class_dataset: Path) -> None:
    plan = plan_training(_good(class_dataset))
    assert plan.errors == [] and plan.can_train
    assert plan.source == "class folders" and "healthy" in plan.rule_text
    assert plan.class_names == ("degenerative", "healthy")  # class folders sort by name
    assert plan.class_counts == {"degenerative": 18, "healthy": 18}
    assert (plan.studies, plan.series, plan.examples, plan.examples_found) == (11, 12, 36, 36)
    assert list(plan.split_counts) == ["train", "validation", "test"]
    assert sum(sum(counts.values()) for counts in plan.split_counts.values()) == plan.examples
    for name in plan.class_names:
        assert sum(counts[name] for counts in plan.split_counts.values()) == plan.class_counts[name]
    assert all(sum(counts.values()) > 0 for counts in plan.split_counts.values())
    assert all(plan.split_counts["train"].values())  # both classes in training
    assert plan.cache_bytes == 36 * SLICE_BYTES
    assert plan.available_bytes is not None and plan.available_bytes > 0  # Linux reports it
    assert plan.problems == []


def test_max_examples_describes_the_subsample(class_dataset: Path) -> None:
    plan = plan_training(_good(class_dataset, max_examples=20, batch_size=4))
    assert plan.can_train, plan.errors
    assert plan.examples_found == 36 and 20 <= plan.examples < 36  # whole patients only
    assert sum(plan.class_counts.values()) == plan.examples
    assert sum(sum(counts.values()) for counts in plan.split_counts.values()) == plan.examples
    assert plan.cache_bytes == plan.examples * SLICE_BYTES


def test_an_rsna_dataset_is_described(rsna_dataset: Path) -> None:
    plan = plan_training(_good(rsna_dataset))
    found = collect_examples(rsna_dataset)
    assert plan.can_train, plan.errors
    assert plan.source == "rsna" and plan.class_names == ("healthy", "degenerative")
    assert plan.examples == len(found.examples) and plan.studies == 6
    series_folders = {p.parent for p in (rsna_dataset / "train_images").rglob("*.dcm")}
    assert plan.studies < plan.series <= len(series_folders)
    assert list(plan.class_counts.values()) == found.class_counts()


def test_plan_training_does_not_load_tensorflow(class_dataset: Path) -> None:
    script = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from spineview.models.training_plan import TrainConfig, plan_training\n"
        f"plan = plan_training(TrainConfig(dataset=Path({str(class_dataset)!r}), name='x',"
        " batch_size=8))\n"
        "loaded = sorted(m for m in ('tensorflow', 'keras') if m in sys.modules)\n"
        "print(json.dumps({'can_train': plan.can_train, 'loaded': loaded}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report == {"can_train": True, "loaded": []}


# --- what stops training --------------------------------------------------------------------


def test_one_class_only_is_an_error_with_counts(tmp_path: Path) -> None:
    for index in range(4):
        _patient(tmp_path / "healthy" / f"h{index}", seed=index)
    broken = tmp_path / "degenerative" / "d0"
    broken.mkdir(parents=True)
    (broken / "x.dcm").write_bytes(bytes(128) + b"DICM" + b"\xff" * 16)  # a broken header
    plan = plan_training(_good(tmp_path))
    assert not plan.can_train
    assert any("no example of class degenerative" in error for error in plan.errors)
    assert plan.class_counts == {"degenerative": 0, "healthy": 12}
    assert plan.studies == 4 and plan.examples == 12
    assert plan.problems and plan.split_counts == {}


def test_too_few_studies_for_three_splits_is_an_error(tmp_path: Path) -> None:
    _patient(tmp_path / "healthy" / "h0", seed=1)
    _patient(tmp_path / "degenerative" / "d0", seed=2)
    plan = plan_training(_good(tmp_path, batch_size=1))
    assert not plan.can_train
    assert len(plan.errors) == 1 and "cannot fill 3 splits" in plan.errors[0]
    assert plan.class_counts == {"degenerative": 3, "healthy": 3} and plan.studies == 2
    assert plan.split_counts == {}


def test_a_training_split_of_one_class_is_refused() -> None:
    examples = ExampleSet(
        [Example(Path(f"{g}.dcm"), 0, label, g, g) for g, label in
         (("a", 0), ("a", 0), ("b", 1), ("c", 1))],
        ("healthy", "degenerative"), "class folders", "rule",
    )  # fmt: skip
    split = Split(
        seed=0,
        fractions=(0.8, 0.1, 0.1),
        group_split={"a": "train", "b": "validation", "c": "test"},
        groups=tuple(examples.groups),
        labels=tuple(examples.labels.tolist()),
    )
    failures = split_failures(examples, split)
    assert len(failures) == 1 and isinstance(failures[0], DatasetError)
    assert "training split holds no degenerative slice" in str(failures[0])
    emptied = Split(0, (0.8, 0.1, 0.1), {"a": "train", "b": "train", "c": "test"},
                    split.groups, split.labels)  # fmt: skip
    assert [str(f) for f in split_failures(examples, emptied)] == [
        "the validation split is empty: the dataset has too few studies"
    ]


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"batch_size": 1000}, "the batch size 1000 is larger than the training split"),
        ({"batch_size": 0}, "the batch size must be at least 1"),
        ({"name": "a/b"}, "'a/b' is not a usable model name"),
        ({"name": ""}, "'' is not a usable model name"),
        ({"name": ".hidden"}, "is not a usable model name"),
        ({"epochs": 0}, "epochs must be at least 1"),
        ({"learning_rate": 0.0}, "the learning rate must be a positive number"),
        ({"learning_rate": math.nan}, "the learning rate must be a positive number"),
        ({"learning_rate": -1e-3}, "the learning rate must be a positive number"),
        ({"architecture": "vgg"}, "unknown architecture 'vgg'"),
        ({"seed": -1}, "the seed must be 0 or more"),
        ({"max_examples": 0}, "the example limit must be at least 1"),
        ({"precision": "float8"}, "unknown precision 'float8'"),
    ],
)
def test_settings_that_cannot_work_are_errors(
    class_dataset: Path, changes: dict[str, object], expected: str
) -> None:
    plan = plan_training(_good(class_dataset, **changes))
    assert not plan.can_train
    assert len(plan.errors) == 1 and expected in plan.errors[0], plan.errors
    assert plan.examples > 0 and plan.split_counts  # the dataset is still described


def test_batch_size_bound_is_the_training_split(class_dataset: Path) -> None:
    train = sum(plan_training(_good(class_dataset)).split_counts["train"].values())
    assert plan_training(_good(class_dataset, batch_size=train)).can_train
    assert not plan_training(_good(class_dataset, batch_size=train + 1)).can_train


def test_a_cache_too_big_for_memory_is_an_error(
    class_dataset: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(examples_module, "available_memory", lambda: 2 * SLICE_BYTES)
    plan = plan_training(_good(class_dataset))
    assert not plan.can_train and plan.available_bytes == 2 * SLICE_BYTES
    assert plan.cache_bytes == 36 * SLICE_BYTES
    assert len(plan.errors) == 1 and "36 slices at 224×224 need" in plan.errors[0]
    with pytest.raises(TrainingError) as refused:  # decoding refuses by the same numbers
        check_cache_fits(36)
    assert str(refused.value) == plan.errors[0]
    monkeypatch.setattr(examples_module, "available_memory", lambda: None)
    unknown = plan_training(_good(class_dataset))
    assert unknown.can_train and unknown.available_bytes is None


@pytest.mark.parametrize("make", ["empty", "missing", "one class folder"])
def test_a_folder_that_is_no_dataset_gives_an_error(tmp_path: Path, make: str) -> None:
    root = tmp_path / "data"
    if make == "empty":
        root.mkdir()
    elif make == "one class folder":
        _patient(root / "healthy" / "h0", seed=0)
    plan = plan_training(_good(root))
    assert not plan.can_train and plan.errors
    assert str(root) in plan.errors[0]
    assert (plan.examples, plan.studies, plan.series, plan.cache_bytes) == (0, 0, 0, 0)
    assert plan.source == "" and plan.class_counts == {} and plan.split_counts == {}


def test_dataset_and_setting_errors_are_all_listed(tmp_path: Path) -> None:
    plan = plan_training(_good(tmp_path / "nowhere", name="a/b", epochs=0))
    assert len(plan.errors) == 3
    assert "no such folder" in plan.errors[0]  # dataset errors first


# --- cancelling -----------------------------------------------------------------------------


def test_a_set_cancel_stops_the_inspection(class_dataset: Path) -> None:
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(TrainingCancelled):
        plan_training(_good(class_dataset), cancel=cancel)
    with pytest.raises(TrainingCancelled):
        collect_examples(class_dataset, cancel=cancel)


def test_cancel_while_decoding_raises_training_cancelled(class_dataset: Path) -> None:
    examples = collect_examples(class_dataset)
    cancel = threading.Event()
    reports: list[int] = []

    def cancel_after_first_slice(done: int, total: int) -> None:
        reports.append(done)
        cancel.set()

    with pytest.raises(TrainingCancelled, match="cancelled while reading the slices"):
        decode_examples(
            examples,
            scaling="percentile",
            size=32,
            progress=cancel_after_first_slice,
            cancel=cancel,
        )
    assert reports == [1]


# --- augmentation settings ------------------------------------------------------------------


def test_presets_and_custom_settings(tmp_path: Path) -> None:
    reference = TrainConfig(dataset=tmp_path, name="r", augmentation="reference")
    assert augmentation_settings(reference) == AUGMENTATIONS["reference"]
    assert augmentation_name(reference) == "reference"
    augmentation_settings(reference)["rotation"] = 99.0
    assert AUGMENTATIONS["reference"]["rotation"] == 30.0  # a copy, not the preset itself
    custom = TrainConfig(
        dataset=tmp_path, name="c", augmentation="none", augmentation_settings={"rotation": 12}
    )
    expected = {"rotation": 12.0, "shift": 0.0, "shear": 0.0, "zoom": 0.0, "flip": 0.0}
    assert custom.augmentation_settings == expected
    assert augmentation_settings(custom) == expected and augmentation_name(custom) == "custom"
    widest = {"rotation": 180, "shift": 1, "shear": 1.0, "zoom": 1, "flip": 1}
    assert TrainConfig(dataset=tmp_path, name="w", augmentation_settings=widest)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"rotation": 181.0}, "rotation must be between 0 and 180"),
        ({"rotation": -1}, "rotation must be between 0 and 180"),
        ({"shift": 1.5}, "shift must be between 0 and 1"),
        ({"shear": -0.1}, "shear must be between 0 and 1"),
        ({"zoom": math.inf}, "zoom must be a number"),
        ({"zoom": math.nan}, "zoom must be a number"),
        ({"flip": 0.5}, "flip must be 0 .off. or 1 .on."),
        ({"flip": 2}, "flip must be 0 .off. or 1 .on."),
        ({"rotation": "10"}, "rotation must be a number"),
        ({"hue": 0.1}, "unknown augmentation setting 'hue'"),
    ],
)
def test_bad_augmentation_settings_are_refused(
    tmp_path: Path, settings: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        TrainConfig(dataset=tmp_path, name="x", augmentation_settings=settings)  # type: ignore[arg-type]


def test_an_unknown_preset_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown augmentation 'heavy'"):
        TrainConfig(dataset=tmp_path, name="x", augmentation="heavy")  # type: ignore[arg-type]


def test_custom_settings_changed_in_place_are_caught_by_the_plan(class_dataset: Path) -> None:
    config = _good(class_dataset, augmentation_settings={"rotation": 10})
    assert config.augmentation_settings is not None
    config.augmentation_settings["rotation"] = 500.0
    plan = plan_training(config)
    assert plan.errors == ["augmentation rotation must be between 0 and 180, got 500.0"]


def test_the_caller_s_dict_is_copied(tmp_path: Path) -> None:
    settings = {"rotation": 10.0}
    config = TrainConfig(dataset=tmp_path, name="x", augmentation_settings=settings)
    settings["rotation"] = 500.0
    assert augmentation_settings(config)["rotation"] == 10.0
    assert np.isclose(augmentation_settings(config)["flip"], 0.0)

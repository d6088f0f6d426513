"""Retraining that starts from a model (`spineview train --from`), its lineage, and recipes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from spineview.cli import run
from spineview.models.training_plan import (
    FROM_MODEL_LEARNING_RATE,
    RECIPES,
    TrainConfig,
    plan_training,
    recipe_config,
)

pytestmark = pytest.mark.tf


def test_recipes_share_the_config_defaults_and_the_reference_keeps_its_values() -> None:
    default = recipe_config("default", Path("d"), "m")
    assert default == TrainConfig(dataset=Path("d"), name="m")
    reference = recipe_config("reference", Path("d"), "m", epochs=2)
    assert reference.augmentation == "reference" and reference.learning_rate == 1e-3
    assert reference.epochs == 2 and reference.recipe == "reference"  # the user's edit wins
    assert set(RECIPES) >= {"default", "reference", "light-augmentation"}
    with pytest.raises(ValueError, match="unknown recipe"):
        recipe_config("fast", Path("d"), "m")


def test_starting_from_a_model_lowers_the_learning_rate_unless_given() -> None:
    start = recipe_config("default", Path("d"), "m", start_from="cnn-demo")
    assert start.learning_rate == FROM_MODEL_LEARNING_RATE < TrainConfig.learning_rate
    given = recipe_config("default", Path("d"), "m", start_from="cnn-demo", learning_rate=0.01)
    assert given.learning_rate == 0.01


def test_fine_tuning_keeps_the_start_model_s_intensity_scaling(tiny_dataset: Path) -> None:
    assert recipe_config("default", Path("d"), "m").intensity_scaling == "percentile"
    assert recipe_config("reference", Path("d"), "m").intensity_scaling == "min-max"
    fields = {"architecture": "resnet50", "start_from": "resnet50-demo"}
    start = recipe_config("default", tiny_dataset, "m", **fields)
    assert start.intensity_scaling == "min-max"  # resnet50-demo's manifest predates "percentile"
    assert plan_training(start).can_train, plan_training(start).errors
    forced = plan_training(
        recipe_config("default", tiny_dataset, "m", intensity_scaling="percentile", **fields)
    )
    assert any("min-max intensity scaling" in error for error in forced.errors), forced.errors


def test_the_plan_refuses_a_start_model_that_is_missing_or_of_another_architecture(
    tiny_dataset: Path,
) -> None:
    missing = plan_training(TrainConfig(dataset=tiny_dataset, name="m", start_from="no-such-model"))
    assert any("no-such-model" in error for error in missing.errors)
    mismatch = plan_training(
        TrainConfig(dataset=tiny_dataset, name="m", architecture="cnn", start_from="resnet50-demo")
    )
    assert any("keeps its architecture" in error for error in mismatch.errors)
    frozen_alone = plan_training(TrainConfig(dataset=tiny_dataset, name="m", freeze_features=True))
    assert any("model to start from" in error for error in frozen_alone.errors)
    unknown = plan_training(TrainConfig(dataset=tiny_dataset, name="m", intensity_scaling="z"))  # type: ignore[arg-type]
    assert any("unknown intensity scaling 'z'" in error for error in unknown.errors)


def test_cli_fine_tunes_cnn_demo_with_frozen_features_and_records_its_parent(
    tiny_dataset: Path, tmp_path: Path
) -> None:
    from spineview.ml.store import load_model
    from spineview.models.catalogue import find_model

    parent = find_model("cnn-demo")
    code = run(
        ["train", str(tiny_dataset), "--name", "tuned", "--from", "cnn-demo", "--freeze-features",
         "--epochs", "1", "--batch-size", "16", "--max-examples", "96", "--out", str(tmp_path)]
    )  # fmt: skip
    assert code == 0
    model, manifest = load_model(tmp_path / "tuned")
    lineage = manifest.training["parent"]
    assert lineage["name"] == "cnn-demo" and lineage["frozen_features"] is True
    assert lineage["weights_sha256"] == parent.manifest.weights_sha256
    assert lineage["training"] == json.loads(json.dumps(parent.manifest.training))
    assert manifest.training["learning_rate"] == FROM_MODEL_LEARNING_RATE
    assert "fine-tuned from cnn-demo" in manifest.description
    start, _ = load_model(parent.path)
    for name in ("conv1", "conv2", "conv3"):  # frozen: exactly the parent's weights
        for kept, was in zip(
            model.get_layer(name).get_weights(), start.get_layer(name).get_weights(), strict=True
        ):
            np.testing.assert_array_equal(kept, was)
    changed = [
        not np.array_equal(a, b)
        for a, b in zip(
            model.get_layer("dense").get_weights(),
            start.get_layer("dense").get_weights(),
            strict=True,
        )
    ]
    assert any(changed)  # the head trained

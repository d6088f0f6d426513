"""Fixtures shared by the ml tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from spineview.data.synth import SynthOptions, synthesize


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """14 small synthetic studies in the RSNA layout (seed 21): enough for a few training steps.
    Tests read it and never write into it."""
    root = tmp_path_factory.mktemp("tiny") / "rsna"
    synthesize(root, SynthOptions(studies=14, seed=21, size=64), workers=2)
    return root

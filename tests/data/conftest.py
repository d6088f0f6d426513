"""Fixtures of tests/data: one RSNA-layout dataset built once, copied for each test."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.data.rsna_builder import standard_studies, write_rsna


@pytest.fixture(scope="session")
def rsna_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_rsna(tmp_path_factory.mktemp("rsna-template") / "rsna", standard_studies())


@pytest.fixture
def rsna_root(rsna_template: Path, tmp_path: Path) -> Path:
    """A fresh copy of the standard dataset that a test may change."""
    return Path(shutil.copytree(rsna_template, tmp_path / "rsna"))

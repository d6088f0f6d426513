"""`spineview --self-test`: decoders, a synthetic study, the bundled CNN and Grad-CAM."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from spineview import selftest
from spineview.__main__ import main
from spineview.paths import resources_dir, user_log_dir


def test_every_shipped_sample_decodes_with_every_required_plugin() -> None:
    line = selftest.check_decoders()
    assert line.startswith("6 transfer syntaxes decoded")
    assert "gdcm" in line and "pylibjpeg" in line


def test_a_missing_plugin_or_a_damaged_sample_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "selftest"
    shutil.copytree(resources_dir() / "selftest", folder)
    required = dict(selftest.REQUIRED_PLUGINS)
    required["rle.dcm"] = ("pydicom", "no-such-plugin")
    monkeypatch.setattr(selftest, "REQUIRED_PLUGINS", required)
    with pytest.raises(RuntimeError, match=r"rle\.dcm: decoder plugin 'no-such-plugin' missing"):
        selftest.check_decoders(folder)
    monkeypatch.setattr(selftest, "REQUIRED_PLUGINS", {"deflated.dcm": ()})
    (folder / "deflated.dcm").write_bytes((folder / "deflated.dcm").read_bytes()[:300])
    result = selftest.SelfTestResult()
    selftest._run("decoders", lambda: selftest.check_decoders(folder), result, None)
    assert not result.ok and result.failures[0].startswith("decoders: ")
    assert "FAILED" in result.summary()


@pytest.mark.tf
def test_self_test_command_passes_and_leaves_its_line_in_the_log_folder(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["--self-test"]) == 0
    out = capsys.readouterr().out.strip()
    assert out.startswith("spineview self-test passed") and "cnn-demo" in out
    assert "Grad-CAM" in out and "\n" not in out
    assert (user_log_dir() / "self-test.txt").read_text(encoding="utf-8").strip() == out

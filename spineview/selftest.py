"""`spineview --self-test`: prove an installation (source or frozen app) really works.

It decodes one sample of each compressed transfer syntax shipped in resources/selftest with
every pixel decoder plugin the install is meant to have (a frozen app that lost a plugin to
PyInstaller fails here, not on a user's study), generates a small synthetic lumbar study,
reads it back with spineview's own DICOM loader, classifies it with the bundled CNN and
computes one Grad-CAM. One line says what passed, or what failed and why. Qt is not used.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from spineview.paths import resources_dir

# The decoder plugins spineview's dependencies provide (pyproject.toml): pylibjpeg with its
# libjpeg, openjpeg and rle plugins, and GDCM. pydicom's own RLE and deflate need nothing.
REQUIRED_PLUGINS: dict[str, tuple[str, ...]] = {
    "deflated.dcm": (),
    "jpeg-baseline.dcm": ("gdcm", "pylibjpeg"),
    "jpeg-lossless.dcm": ("gdcm", "pylibjpeg"),
    "jpeg-ls-lossless.dcm": ("gdcm", "pylibjpeg"),
    "jpeg2000-lossless.dcm": ("gdcm", "pylibjpeg"),
    "rle.dcm": ("pydicom", "pylibjpeg"),
}
LOSSY_TOLERANCE = 2  # grey levels a baseline JPEG of a smooth 8-bit pattern may differ by
SELF_TEST_MODEL = "cnn-demo"


@dataclass
class SelfTestResult:
    passed: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failures

    def summary(self) -> str:
        state = "passed" if self.ok else "FAILED"
        parts = self.failures if not self.ok else self.passed
        return f"spineview self-test {state} in {self.seconds:.1f} s: " + "; ".join(parts)


def run_self_test(report: Callable[[str], None] | None = None) -> SelfTestResult:
    """Run every check; one failing check never stops the others."""
    started = time.perf_counter()
    result = SelfTestResult()
    _run("decoders", check_decoders, result, report)
    _run("study and model", check_study_and_model, result, report)
    result.seconds = time.perf_counter() - started
    return result


def _run(
    name: str,
    check: Callable[[], str],
    result: SelfTestResult,
    report: Callable[[str], None] | None,
) -> None:
    try:
        passed = check()
    except Exception as error:  # the self-test reports every failure in words
        message = f"{name}: {type(error).__name__}: {error}"
        result.failures.append(message)
    else:
        message = passed
        result.passed.append(passed)
    if report is not None:
        report(message)


def check_decoders(folder: Path | None = None) -> str:
    """Decode every sample with each required plugin and with spineview's reader."""
    from pydicom import dcmread
    from pydicom.pixels import get_decoder, pixel_array

    from spineview.dicom.decode import decode_frame
    from spineview.dicom.decoder_pool import decoder_pool
    from spineview.dicom.header import read_header

    folder = folder or resources_dir() / "selftest"
    expected = np.load(folder / "expected.npz")
    problems: list[str] = []
    used: set[str] = set()
    for name, required in REQUIRED_PLUGINS.items():
        path = folder / name
        reference = expected["pixels8" if "baseline" in name else "pixels12"].astype(np.float64)
        tolerance = LOSSY_TOLERANCE if "baseline" in name else 0
        syntax = dcmread(path, stop_before_pixels=True).file_meta.TransferSyntaxUID
        available = set(get_decoder(syntax).available_plugins) if required else set()
        for plugin in required:
            if plugin not in available:
                problems.append(f"{name}: decoder plugin {plugin!r} missing")
                continue
            pixels = pixel_array(path, decoding_plugin=plugin).astype(np.float64)
            if np.abs(pixels - reference).max() > tolerance:
                problems.append(f"{name}: {plugin} decoded wrong pixels")
            used.add(plugin)
        ours = decode_frame(read_header(path), 0)
        if np.abs(ours - reference).max() > tolerance:
            problems.append(f"{name}: spineview's reader decoded wrong pixels")
    import imagecodecs

    if not imagecodecs.JPEG8.available:
        problems.append("the 12-bit JPEG decoder (imagecodecs) is missing")
    pool = decoder_pool().status()
    if not pool.isolated:  # a frozen app whose decoder processes cannot start
        problems.append(pool.note)
    if problems:
        raise RuntimeError(", ".join(problems))
    return (
        f"{len(REQUIRED_PLUGINS)} transfer syntaxes decoded ({', '.join(sorted(used))}; "
        f"JPEG family in {pool.workers} decoder processes)"
    )


def check_study_and_model() -> str:
    """Synthetic study → scan → load → classify with the bundled CNN → one Grad-CAM."""
    from spineview.data.synth import SynthOptions, synthesize
    from spineview.dicom.load import load_series
    from spineview.dicom.scan import scan_paths
    from spineview.ml.gradcam import GradCam
    from spineview.ml.inference import Classifier
    from spineview.models.catalogue import find_model

    with tempfile.TemporaryDirectory(prefix="spineview-self-test-") as tmp:
        root = Path(tmp) / "study"
        synthesize(root, SynthOptions(studies=1, seed=3, size=128), workers=1)
        scan = scan_paths([root / "train_images"])
        if scan.problems:
            raise RuntimeError(f"{len(scan.problems)} generated files unreadable")
        series = [s for study in scan.studies for s in study.series if s.plane == "sagittal"]
        if not series:
            raise RuntimeError("no sagittal series in the generated study")
        volume = load_series(series[0]).volume
    classifier = Classifier.load(find_model(SELF_TEST_MODEL).path)
    predictions = classifier.classify_volume(volume)
    if not np.all((predictions.calibrated >= 0) & (predictions.calibrated <= 1)):
        raise RuntimeError("probabilities outside [0, 1]")
    middle = volume[len(volume) // 2]
    started = time.perf_counter()
    heat = GradCam(classifier).compute(middle)
    milliseconds = (time.perf_counter() - started) * 1000
    if heat.values.shape != middle.shape or not np.isfinite(heat.values).all():
        raise RuntimeError(f"Grad-CAM map of shape {heat.values.shape} for {middle.shape}")
    return (
        f"study of {len(volume)} slices classified by {classifier.name} ({classifier.precision}, "
        f"max P {np.nanmax(predictions.calibrated):.2f}), Grad-CAM {milliseconds:.0f} ms"
    )

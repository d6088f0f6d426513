"""Seeded mutation fuzzing: damaged real files never break spineview beyond a SpineViewError.

Each mutant of a corpus file (see `tests/dicom/fuzz.py`) lies in a folder beside an intact file
and goes through `scan_paths`, `load_series` on every series found and `decode_frame` on every
header, in a child process capped at 3 GiB of address space; a sample also goes through
`python -m spineview info DIR --json`. A mutant fails the test when anything but a
`SpineViewError` is raised (Rust panics included), its process dies, it takes over 10 s, the
intact neighbour is not scanned, loaded and decoded, or the CLI prints a traceback, dies, or
does not print JSON listing the neighbour. Run with `-s` to see the counts per outcome; every
failure names its reproducer (source file, seed and index, mutation description).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.dicom import fuzz
from tests.dicom.fuzz import REGRESSIONS, SOURCES, FuzzReport, Job, Mutant, Regression

pytestmark = pytest.mark.skipif(
    sys.platform == "win32", reason="needs RLIMIT_AS, fork/exec and select on pipes"
)

SEED = 0
DEFAULT_MUTANTS = 300
DEFAULT_CLI_SAMPLE = 12
SLOW_SEED = 1  # other mutants than the default run's
SLOW_MUTANTS = 3000
SLOW_CLI_SAMPLE = 100


def failure_message(report: FuzzReport) -> str:
    lines = [report.text(), "", "every failure:"]
    lines += [f"  {mutant.reproducer}: {failure.kind} {failure.detail}".rstrip()
              for mutant, failure in report.failures()]  # fmt: skip
    lines.append(
        "write one out: python -m tests.dicom.fuzz --reproduce SOURCE INDEX --seed SEED --out x.dcm"
    )
    return "\n".join(lines)


# --- the generator -------------------------------------------------------------------------


def test_mutants_are_a_function_of_seed_source_and_index(shared_data: Path) -> None:
    first = fuzz.generate(SEED, 60, shared_data)
    again = fuzz.generate(SEED, 60, shared_data)
    assert [(m.description, m.data) for m in first] == [(m.description, m.data) for m in again]
    assert all(m.description and m.data != fuzz.read_source(shared_data, m.source) for m in first)
    other_seed = fuzz.generate(SEED + 1, 60, shared_data)
    assert [m.data for m in other_seed] != [m.data for m in first]
    single = fuzz.make_mutant(SEED, shared_data, first[25].source, first[25].index)
    assert (single.description, single.data) == (first[25].description, first[25].data)


def test_the_generator_uses_every_mutation_on_every_source(shared_data: Path) -> None:
    mutants = fuzz.generate(SEED, 1200, shared_data)
    operators = {
        description.split("@")[0].split("(")[0].split("#")[0]
        for mutant in mutants
        for description in mutant.description.split("; ")
    }
    assert operators == {
        "truncate", "byte", "xor", "zero", "noise", "delete", "duplicate", "length", "value",
        "fragment",
    }  # fmt: skip
    assert {m.source for m in mutants} == set(SOURCES)
    fragment_sources = {m.source for m in mutants if "fragment#" in m.description}
    encapsulated = {
        s for s in SOURCES if len(fuzz.walk(fuzz.read_source(shared_data, s)).fragments)
    }
    assert fragment_sources == encapsulated
    assert len(encapsulated) >= 10  # RLE, every JPEG flavour, JPEG-LS, JPEG 2000


def test_the_walk_finds_the_pixel_data_and_its_fragments(shared_data: Path) -> None:
    for source in SOURCES:
        layout = fuzz.walk(fuzz.read_source(shared_data, source))
        if layout.syntax == fuzz.DEFLATED:
            assert layout.pixel_data is None and layout.elements  # the file meta only
            continue
        assert layout.pixel_data is not None, source
        if layout.pixel_data.length == fuzz.UNDEFINED_LENGTH:
            assert len(layout.fragments) >= 2, source  # the offset table and a fragment
            delimiter = {e.offset: e.tag for e in layout.elements}.get(
                layout.fragments[-1].value_end
            )
            assert delimiter == fuzz.SEQUENCE_END, source


REGRESSION_BYTES = {  # each regression's description → the bytes it may change
    "byte@586=0x83": range(586, 587),
    "byte@1712=0x39": range(1712, 1713),
    "zero@3154+470": range(3154, 3624),
    "xor@374^0xFF": range(374, 375),
}


@pytest.mark.parametrize("regression", REGRESSIONS, ids=lambda r: r.source.split("/")[-1])
def test_regression_mutants_are_what_their_descriptions_say(
    shared_data: Path, regression: Regression
) -> None:
    original = fuzz.read_source(shared_data, regression.source)
    mutant = regression.mutant(shared_data)
    changed = {i for i, (a, b) in enumerate(zip(original, mutant.data, strict=True)) if a != b}
    assert changed
    assert changed <= set(REGRESSION_BYTES[mutant.description])


# --- the harness ---------------------------------------------------------------------------


def test_the_harness_attributes_deaths_hangs_and_exceptions_to_their_mutant(
    shared_data: Path, tmp_path: Path
) -> None:
    """A probe job aborts, hangs, raises or exhausts memory; the jobs around it are unharmed."""
    source = "dicom-zoo/pydicom/MR_small.dcm"
    intact = Mutant(source, "intact", fuzz.read_source(shared_data, source))
    jobs = fuzz.prepare_jobs([intact] * 9, tmp_path, shared_data)
    probes = {1: "abort", 3: "hang", 5: "raise"}
    if sys.platform.startswith("linux"):  # where the child's RLIMIT_AS is set
        probes[7] = "memory"
    jobs = [Job(job.id, job.folder, probes.get(job.id, "")) for job in jobs]
    outcomes = fuzz.run_jobs(jobs, workers=1, timeout=3.0)

    assert sorted(outcomes) == list(range(9))
    kinds = {number: [f.kind for f in outcomes[number].failures] for number in probes}
    assert kinds[1] == ["probe: process killed by SIGABRT"]
    assert kinds[3] == ["probe: over 3 s"]
    assert kinds[5] == ["probe: ValueError escaped outside spineview"]
    if 7 in probes:
        assert kinds[7] == ["probe: MemoryError escaped outside spineview"]
    for number in range(0, 9, 2):
        assert outcomes[number] == fuzz.Outcome("ok", outcomes[number].seconds), number


# --- fuzzing spineview ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "regression", REGRESSIONS, ids=lambda r: f"{r.source.split('/')[-1]}:{r.description}"
)
def test_known_breaking_mutants_are_refused_cleanly(
    shared_data: Path, tmp_path: Path, regression: Regression
) -> None:
    """Mutants that once aborted the process, panicked or leaked zlib.error (`found`)."""
    report = fuzz.fuzz([regression.mutant(shared_data)], shared_data, tmp_path, cli_count=1)
    print(f"\n{report.text()}")
    if report.failures():
        pytest.fail(f"{regression.found}\n{failure_message(report)}", pytrace=False)


def test_fuzzed_files_are_refused_cleanly(shared_data: Path, tmp_path: Path) -> None:
    mutants = fuzz.generate(SEED, DEFAULT_MUTANTS, shared_data)
    report = fuzz.fuzz(mutants, shared_data, tmp_path, cli_count=DEFAULT_CLI_SAMPLE, seed=SEED)
    print(f"\n{report.text()}")
    assert len(report.outcomes) == DEFAULT_MUTANTS
    assert len(report.cli) == DEFAULT_CLI_SAMPLE
    if report.failures():
        pytest.fail(failure_message(report), pytrace=False)


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_thousands_of_fuzzed_files_are_refused_cleanly(shared_data: Path, tmp_path: Path) -> None:
    mutants = fuzz.generate(SLOW_SEED, SLOW_MUTANTS, shared_data)
    report = fuzz.fuzz(mutants, shared_data, tmp_path, cli_count=SLOW_CLI_SAMPLE, seed=SLOW_SEED)
    print(f"\n{report.text()}")
    assert len(report.outcomes) == SLOW_MUTANTS
    if report.failures():
        pytest.fail(failure_message(report), pytrace=False)

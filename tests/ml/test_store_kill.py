"""Model folders survive being killed: SIGKILL a process in the middle of saving a model, again
and again; the previous model must still load and nothing half-written may be listed.

One child process per kill (a killed process is gone), each started while the previous one is
still saving so that importing TensorFlow overlaps the saves. A child saves the model once into
the same folder as every child before it (recovering whatever the killed one left), waits for the
parent to look, then saves in a loop, announcing each save, until it is killed: either by the
parent at a seeded random moment after a save starts, or by itself exactly between the two
renames of a swap (a window too short for a random kill to hit), where nothing is at the
model's name. After the kill, the folder is checked as the kill left it, then recovered by
listing, by loading (the Classifier) or by the next child's save, in turn.
"""

from __future__ import annotations

import collections
import os
import queue
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pytest

from spineview.ml.store import load_model
from spineview.models import catalogue
from spineview.models.catalogue import (
    MANIFEST_FILE_NAME,
    WEIGHTS_FILE_NAME,
    file_sha256,
    list_models,
    read_manifest,
    user_model_folder,
)

pytestmark = pytest.mark.skipif(os.name != "posix", reason="needs SIGKILL")

MODEL = "killed"
TRIGGERS = ("list", "load", "save")
"""How the parent lets the store recover after kill number r: TRIGGERS[r % 3]."""
STARTED_AHEAD = 2
"""Children started before their turn."""
LINE_TIMEOUT = 120.0
"""Seconds to wait for a line from a child (importing TensorFlow on a busy machine is slow)."""

SAVER = """
import os, signal, sys
import numpy as np
from spineview.ml import store
from spineview.models import catalogue
from spineview.ml.architectures import build_model
from spineview.models.catalogue import ModelManifest, user_model_folder
from spineview.ml.store import save_model

def say(*words):
    print(*words, flush=True)

folder = user_model_folder(sys.argv[1])
model = build_model("cnn", seed=0)
bias = model.get_layer("output").bias
kill_between_renames = False
real_rename = store._rename

def rename(source, target):
    if kill_between_renames and ".tmp-" in source.name:  # the previous model is aside
        os.kill(os.getpid(), signal.SIGKILL)
    real_rename(source, target)

store._rename = rename
say("ready")
_, tag, mode = sys.stdin.readline().split()
save = 0
while True:
    # Every save has other weights (the output's bias is its number) and another name.
    bias.assign(np.array([save], dtype="float32"))
    say("start", save)
    info = save_model(model, ModelManifest.for_architecture("cnn", f"{tag}-{save}"), folder)
    say("saved", save, info.manifest.weights_sha256)
    if kill_between_renames:
        say("not killed: the save never renamed a temporary folder into place")
        sys.exit(3)
    if save == 0:
        sys.stdin.readline()  # the parent looks at the folder, then says go on
        kill_between_renames = mode == "between-renames"
    save += 1
"""


@dataclass
class Child:
    """A saver process and the lines it printed, read by a thread."""

    process: subprocess.Popen[str]
    stderr_path: Path
    lines: queue.Queue[tuple[float, str | None]] = field(default_factory=queue.Queue)

    @classmethod
    def start(cls, script: Path, folder: Path, number: int) -> Child:
        stderr_path = folder / f"saver-{number}.stderr"
        with stderr_path.open("w") as stderr:
            process = subprocess.Popen(
                [sys.executable, str(script), MODEL],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
                env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
            )
        child = cls(process, stderr_path)
        assert process.stdout is not None
        threading.Thread(target=child._read, args=(process.stdout,), daemon=True).start()
        return child

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self.lines.put((time.monotonic(), line.strip()))
        self.lines.put((time.monotonic(), None))

    def expect(self, word: str) -> tuple[float, list[str]]:
        """Wait for the next line, which must start with `word`: when it came, and its words."""
        try:
            when, line = self.lines.get(timeout=LINE_TIMEOUT)
        except queue.Empty:
            line, when = "(nothing)", 0.0
        if line is None or not line.startswith(word):
            self.process.kill()
            self.process.wait()
            raise AssertionError(
                f"expected {word!r} from the saver, got {line!r}; its stderr ends:\n"
                + self.stderr_path.read_text(errors="replace")[-3000:]
            )
        return when, line.split()

    def send(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def rest(self) -> list[str]:
        """The lines printed before it died (after it died)."""
        lines: list[str] = []
        while (line := self.lines.get(timeout=LINE_TIMEOUT)[1]) is not None:
            lines.append(line)
        return lines


@pytest.fixture
def children() -> Iterator[list[Child]]:
    """Every child started, killed at the end whatever happened."""
    started: list[Child] = []
    yield started
    for child in started:
        if child.process.poll() is None:
            child.process.kill()
        child.process.wait()


def _phase(root: Path) -> str:
    """Where the save was when it was killed, told by what it left (before any recovery)."""
    folder = root / MODEL
    temporary = [p for p in root.iterdir() if p.name.startswith(f".{MODEL}.tmp-")]
    aside = [p for p in root.iterdir() if p.name.startswith(f".{MODEL}.old-")]
    if not folder.exists():
        return "between-renames"
    if temporary:
        files = {p.name for p in temporary[0].iterdir()}
        if MANIFEST_FILE_NAME in files:
            return "verifying"
        return "writing" if files else "starting"
    if aside:
        return "removing-previous"
    return "between-saves"


def _check_as_left(root: Path, allowed: set[str], shas: dict[str, str], copy: Path | None) -> str:
    """The model the kill left (at its name, or set aside between the renames) is one of
    `allowed` and whole, and loads when `copy` is given: from a copy there, so that nothing
    recovers the models folder yet. Its name."""
    folder = root / MODEL
    if not folder.exists():
        aside = [p for p in root.iterdir() if p.name.startswith(f".{MODEL}.old-")]
        assert len(aside) == 1, sorted(p.name for p in root.iterdir())
        folder = aside[0]
    manifest = read_manifest(folder)
    assert manifest.name in allowed, (manifest.name, allowed)
    digest = file_sha256(folder / WEIGHTS_FILE_NAME)
    assert digest == shas.get(manifest.name, manifest.weights_sha256)
    if copy is not None:
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(folder, copy / MODEL)
        model, loaded = load_model(copy / MODEL)
        _check_weights(model, loaded.name)
    return manifest.name


def _check_weights(model: Any, name: str) -> None:
    """The weights are those of save `name` (its output bias is the save's number)."""
    bias = float(model.get_layer("output").bias.numpy()[0])
    assert bias == float(name.rsplit("-", 1)[1]), (name, bias)


def _check_listed_alone(root: Path, name: str) -> None:
    models, problems = list_models()
    users = [info for info in models if not info.bundled]
    assert [(info.path, info.manifest.name) for info in users] == [(root / MODEL, name)]
    assert problems == []
    assert sorted(p.name for p in root.iterdir()) == [MODEL], "leftovers were not removed"


def _kill_while_saving(
    tmp_path: Path, children: list[Child], kills: int, between_renames: set[int]
) -> None:
    """`kills` rounds: a child saves, then is killed while saving again; in the rounds
    `between_renames` it kills itself between the swap's renames, in the others the parent
    kills it at a random moment."""
    from spineview.ml.inference import Classifier

    script = tmp_path / "saver.py"
    script.write_text(SAVER, encoding="utf-8")
    root = user_model_folder(MODEL).parent
    rng = random.Random(13)
    phases: collections.Counter[str] = collections.Counter()
    save_seconds = 1.0
    started = time.monotonic()

    for kill in range(kills):
        # The next ones import TensorFlow (seconds) while this one saves.
        while len(children) < min(kill + 1 + STARTED_AHEAD, kills):
            children.append(Child.start(script, tmp_path, len(children)))
        child = children[kill]
        trigger = TRIGGERS[kill % 3]
        exact = kill in between_renames
        child.expect("ready")
        child.send(f"go k{kill} {'between-renames' if exact else 'random'}")

        # Its first save replaced (or recovered and replaced) whatever was there before.
        begun, _ = child.expect("start")
        finished, words = child.expect("saved")
        save_seconds = finished - begun
        shas = {f"k{kill}-0": words[2]}
        assert sorted(p.name for p in root.iterdir()) == [MODEL], "leftovers were not removed"
        assert read_manifest(root / MODEL).name == f"k{kill}-0"

        child.send("go on")
        child.expect("start")
        if not exact:
            time.sleep(rng.uniform(0.0, 1.2 * save_seconds))
            child.process.send_signal(signal.SIGKILL)
        killed = child.process.wait(timeout=LINE_TIMEOUT) == -signal.SIGKILL
        lines = child.rest()
        assert killed, lines
        saved = [line.split() for line in lines if line.startswith("saved")]
        shas.update({f"k{kill}-{number}": sha for _, number, sha in saved})
        last_started = lines[-1].split()[1] if lines else "1"
        # The model at its name after recovery: the last one saved, or the one being saved
        # when the kill came after its swap (its "saved" line never printed, maybe).
        last_saved = max(shas, key=lambda name: int(name.split("-")[1]))
        allowed = {f"k{kill}-{last_started}", last_saved}

        phase = _phase(root)
        phases[phase] += 1
        if exact:
            assert phase == "between-renames"
        # Listing and loading check the model loads below; the next save would replace it.
        copy = tmp_path / "copy" if trigger == "save" else None
        as_left = _check_as_left(root, allowed, shas, copy)
        if phase in ("between-renames", "starting", "writing", "verifying"):
            assert as_left == last_saved, (as_left, phase)  # the new one never took the name

        if trigger == "list":
            _check_listed_alone(root, as_left)
            model, manifest = load_model(root / MODEL)
            _check_weights(model, manifest.name)
            assert manifest.name == as_left
        elif trigger == "load":
            classifier = Classifier.load(root / MODEL)
            assert classifier.name == as_left
            _check_weights(classifier.model, as_left)
            _check_listed_alone(root, as_left)
        # "save": the next child's first save must cope with what is there.

    print(
        f"{kills} kills in {time.monotonic() - started:.0f} s "
        f"(a save took {save_seconds:.2f} s): {dict(sorted(phases.items()))}"
    )
    assert phases["between-renames"] >= len(between_renames)


@pytest.mark.tf
def test_killed_saves_leave_a_loadable_model(tmp_path: Path, children: list[Child]) -> None:
    # Kills 1, 2 and 3 between the renames are recovered by loading, saving and listing.
    _kill_while_saving(tmp_path, children, kills=5, between_renames={1, 2, 3})


@pytest.mark.tf
@pytest.mark.slow
@pytest.mark.timeout(900)  # minutes on a busy two-core machine
def test_twenty_killed_saves_leave_a_loadable_model(tmp_path: Path, children: list[Child]) -> None:
    _kill_while_saving(tmp_path, children, kills=20, between_renames={3, 4, 5, 12, 13, 14})


def test_recovery_keeps_what_running_saves_left() -> None:
    """Leftovers of a process still running (this one, another one) are not touched, and a
    set-aside folder that lost its manifest (half deleted) is never put back as the model."""
    root = user_model_folder(MODEL).parent
    root.mkdir(parents=True)
    mine = root / f".{MODEL}.tmp-{os.getpid()}"
    running = root / f".{MODEL}.old-{os.getppid()}"
    for folder in (mine, running):
        folder.mkdir()
        (folder / "model.weights.h5").write_bytes(b"half written")
    with subprocess.Popen([sys.executable, "-c", "pass"]) as dead:
        pass
    half_deleted = root / f".{MODEL}.old-{dead.pid}"
    shutil.copytree(running, half_deleted)
    assert [info for info in list_models()[0] if not info.bundled] == []
    assert sorted(p.name for p in root.iterdir()) == sorted([mine.name, running.name])
    assert catalogue._process_running(os.getpid()) and not catalogue._process_running(dead.pid)

"""No network: the test session refuses internet sockets (tests/conftest.py), and the CLI and the
viewer, run as they ship, open no connection (an audit hook in each subprocess records every
connect, send-to and name look-up)."""

from __future__ import annotations

import ipaddress
import json
import os
import socket
import subprocess
import sys
import xml.etree.ElementTree as ET
from multiprocessing import connection
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO_ROOT

# The guard's own test run in a pytest of its own (so that its failures are the outcome looked
# at): every attempt to reach the network fails its test, naming where it went.
GUARDED_TESTS = """
import socket
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context


def test_create_connection():
    socket.create_connection(("192.0.2.1", 443), timeout=1)


def test_connect_ex():
    with socket.socket() as sock:
        sock.connect_ex(("192.0.2.2", 80))


def test_udp_sendto():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(b"?", ("192.0.2.3", 53))


def test_ipv6_connect():
    with socket.socket(socket.AF_INET6) as sock:
        sock.connect(("2001:db8::1", 443, 0, 0))


def test_loopback_connect():
    with socket.socket() as sock:
        sock.connect_ex(("127.0.0.1", 9))


def test_name_lookup():
    socket.getaddrinfo("example.com", 443)


def test_refusal_caught_by_the_code():
    try:
        socket.create_connection(("192.0.2.4", 443), timeout=1)
    except Exception:
        pass  # code that carries on without the network still fails its test


def test_unix_sockets_and_a_forkserver_pool_work():
    first, second = socket.socketpair()
    with first, second:
        first.sendall(b"ok")
        assert second.recv(2) == b"ok"
    socket.getaddrinfo("localhost", 0)
    with ProcessPoolExecutor(1, mp_context=get_context("forkserver")) as pool:
        assert pool.submit(abs, -3).result(timeout=60) == 3
"""

EXPECTED_REFUSALS = {
    "test_create_connection": "refused to connect to 192.0.2.1:443",
    "test_connect_ex": "refused to connect to 192.0.2.2:80",
    "test_udp_sendto": "refused to send to 192.0.2.3:53",
    "test_ipv6_connect": "refused to connect to [2001:db8::1]:443",
    "test_loopback_connect": "refused to connect to 127.0.0.1:9",
    "test_name_lookup": "refused to look up 'example.com'",
    "test_refusal_caught_by_the_code": "the code tried to connect to 192.0.2.4:443",
}

# sitecustomize.py for the subprocesses (and, through PYTHONPATH, their Python children):
# records to $SPINEVIEW_NETWORK_LOG, one JSON line each, the process's start and every socket
# connect, send-to and name look-up; refuses those that would leave the machine.
RECORDER = """
import ipaddress
import json
import os
import socket
import sys

LOG = os.environ.get("SPINEVIEW_NETWORK_LOG")
INTERNET = ("AF_INET", "AF_INET6", None)  # None: a name look-up


def record(**fields):
    with open(LOG, "a", encoding="utf-8") as log:
        log.write(json.dumps({"pid": os.getpid(), **fields}) + "\\n")


def leaves_the_machine(family, host):
    if family not in INTERNET or host in (None, "", "localhost"):
        return False
    try:
        return not ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return True


def hook(event, args):
    if event in ("socket.connect", "socket.sendto", "socket.sendmsg"):
        sock, address = args
        family = getattr(sock.family, "name", str(sock.family))
        if address is None:
            return
    elif event in ("socket.getaddrinfo", "socket.gethostbyname"):
        family, address = None, args[:2]
    else:
        return
    parts = list(address) if isinstance(address, tuple) else [address]
    host, port = parts[0], (parts[1] if len(parts) > 1 else None)
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    host = None if host is None else str(host)
    record(event=event, family=family, host=host, port=port)
    if leaves_the_machine(family, host):
        raise RuntimeError(f"network refused by the test: {event} {host}:{port}")


if LOG:
    record(event="started", argv=sys.orig_argv)
    sys.addaudithook(hook)
"""

# Runs the viewer as `spineview --demo` does, then closes it once the demo study is shown, the
# model is ready and the active series is classified (or at the deadline, given in ms).
VIEWER_DRIVER = """
import sys

from PySide6.QtCore import QTimer

import spineview.app
from spineview.__main__ import main
from spineview.ui.main_window import MainWindow


class DrivenWindow(MainWindow):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.stage = "loading the demo study and the model"
        self.poll = QTimer(self)
        self.poll.timeout.connect(self.step)
        self.poll.start(100)
        QTimer.singleShot(int(sys.argv[1]), self.give_up)

    def step(self):
        control = self.classification
        if self.stage.startswith("loading"):
            if self.session.scan_result is not None and not self.is_busy() and control.model_ready:
                self.stage = "classifying"
                self.classify_active()
        elif not control.busy and control.result_for(self.active.view) is not None:
            self.finish("classified")

    def give_up(self):
        self.finish(f"deadline passed while {self.stage}")

    def finish(self, outcome):
        self.poll.stop()
        print(f"driver: {outcome}", flush=True)
        self.close()


spineview.app.MainWindow = DrivenWindow
sys.exit(main(["--demo"]))
"""


class Recorder:
    """Runs Python subprocesses with the RECORDER as their sitecustomize."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.log = folder / "network.jsonl"
        harness = folder / "harness"
        harness.mkdir()
        (harness / "sitecustomize.py").write_text(RECORDER, encoding="utf-8")
        python_path = [str(harness), *filter(None, [os.environ.get("PYTHONPATH")])]
        self.environment = {
            **os.environ,  # with the test's private SPINEVIEW_HOME
            "PYTHONPATH": os.pathsep.join(python_path),
            "SPINEVIEW_NETWORK_LOG": str(self.log),
            "QT_QPA_PLATFORM": "offscreen",
        }

    def run(self, *arguments: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, *arguments], env=self.environment, cwd=self.folder,
            capture_output=True, text=True, timeout=timeout, check=False,
        )  # fmt: skip

    def records(self) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        lines = self.log.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines]

    def started(self) -> list[list[str]]:
        """The command line of every process that ran with the recorder."""
        return [record["argv"] for record in self.records() if record["event"] == "started"]

    def leaving_the_machine(self) -> list[dict[str, Any]]:
        return [record for record in self.records() if leaves_the_machine(record)]

    def assert_stayed_on_the_machine(self) -> None:
        """Fail naming each attempt to reach the network and the process that made it."""
        commands = {
            record["pid"]: " ".join(record["argv"])
            for record in self.records()
            if record["event"] == "started"
        }
        attempts = [
            f"{item['event']} {item['host']}:{item['port']} by `{commands.get(item['pid'])}`"
            for item in self.leaving_the_machine()
        ]
        assert not attempts, "tried to reach the network: " + "; ".join(attempts)


def leaves_the_machine(record: dict[str, Any]) -> bool:
    """A connect or send to, or a look-up of, anything but this machine (loopback, localhost,
    a Unix-domain socket)."""
    internet = ("AF_INET", "AF_INET6", None)  # None: a name look-up
    if record["event"] == "started" or record["family"] not in internet:
        return False
    host = record["host"]
    if host in (None, "", "localhost"):
        return False
    try:
        return not ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return True


@pytest.fixture
def recorder(tmp_path: Path) -> Recorder:
    return Recorder(tmp_path)


def test_every_attempt_to_reach_the_network_fails_its_test(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    (tmp_path / "test_guarded.py").write_text(GUARDED_TESTS, encoding="utf-8")
    report = tmp_path / "report.xml"
    python_path = [str(REPO_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.conftest", "-p", "no:cacheprovider",
         f"--junitxml={report}", "test_guarded.py"],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": os.pathsep.join(python_path)},
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert report.exists(), completed.stdout + completed.stderr
    outcomes: dict[str, str] = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        failure = case.find("failure")
        outcomes[case.attrib["name"]] = "passed" if failure is None else failure.attrib["message"]
    assert outcomes["test_unix_sockets_and_a_forkserver_pool_work"] == "passed"
    for name, refusal in EXPECTED_REFUSALS.items():
        assert f"no network in the tests: {refusal}" in outcomes[name], outcomes[name]
    assert len(outcomes) == len(EXPECTED_REFUSALS) + 1


def test_unix_domain_sockets_work_in_this_session(tmp_path: Path) -> None:
    """What multiprocessing talks over passes the guard. (The guarded run tries a forkserver
    pool: one started here would serve the rest of the session, without the preload that
    spineview's decoder pool asks for.)"""
    first, second = socket.socketpair()
    with first, second:
        first.sendall(b"ok")
        assert second.recv(2) == b"ok"
    address = str(tmp_path / "listener.sock")
    with (
        connection.Listener(address, family="AF_UNIX") as listener,
        connection.Client(address, family="AF_UNIX") as client,
    ):
        client.send("hello")
        with listener.accept() as server_side:
            assert server_side.recv() == "hello"


def test_the_recorder_sees_an_attempt_to_reach_the_network(recorder: Recorder) -> None:
    code = "import socket\nsocket.socket().connect_ex(('192.0.2.7', 443))\n"
    completed = recorder.run("-c", code)
    assert "network refused by the test: socket.connect 192.0.2.7:443" in completed.stderr
    (attempt,) = recorder.leaving_the_machine()
    assert attempt["event"] == "socket.connect" and attempt["host"] == "192.0.2.7"
    assert attempt["port"] == 443 and attempt["family"] == "AF_INET"


@pytest.mark.tf
def test_the_command_line_opens_no_connection(recorder: Recorder, tmp_path: Path) -> None:
    info = recorder.run("-m", "spineview", "info", "--demo")
    assert info.returncode == 0, info.stderr
    assert "Sagittal T1" in info.stdout
    study = tmp_path / "study"
    synth = recorder.run(
        "-m", "spineview", "synth", str(study), "--studies", "2", "--size", "64",
        "--workers", "2",
    )  # fmt: skip
    assert synth.returncode == 0, synth.stderr
    results = tmp_path / "r.csv"
    classify = recorder.run(
        "-m", "spineview", "classify", str(study / "train_images"), "--model", "cnn-demo",
        "--out", str(results),
    )  # fmt: skip
    assert classify.returncode == 0, classify.stderr
    assert len(results.read_text(encoding="utf-8").splitlines()) > 10
    commands = [" ".join(argv) for argv in recorder.started()]
    for command in ("spineview info", "spineview synth", "spineview classify"):
        assert any(command in line for line in commands), commands
    assert any("spawn_main" in line for line in commands), commands  # synth's worker processes
    recorder.assert_stayed_on_the_machine()


@pytest.mark.tf
@pytest.mark.gui
def test_the_viewer_opens_no_connection(recorder: Recorder, tmp_path: Path) -> None:
    driver = tmp_path / "drive_viewer.py"
    driver.write_text(VIEWER_DRIVER, encoding="utf-8")
    viewer = recorder.run(str(driver), "90000")
    assert viewer.returncode == 0, viewer.stderr
    assert "driver: classified" in viewer.stdout, viewer.stdout + viewer.stderr
    assert recorder.started(), "the viewer ran without the recorder"
    recorder.assert_stayed_on_the_machine()

"""Shared test setup: headless Qt, a private SPINEVIEW_HOME, the shared DICOM corpus."""

from __future__ import annotations

import ipaddress
import os
import socket
import sys
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

# Qt aborts the process without a display unless told to render offscreen.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("SPINEVIEW_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


# --- No network --------------------------------------------------------------------------------
# The tests run offline, as spineview must. An audit hook sees every socket call made through
# Python's socket module (however the socket was made: urllib, ssl, asyncio, a saved method) and
# refuses connect/connect_ex/sendto/sendmsg on IPv4 and IPv6 sockets, loopback included (nothing
# needs it), and name look-ups of anything but localhost. Unix-domain sockets and pipes
# (multiprocessing, its forkserver) are untouched. Sockets opened by native code (C++ inside a
# library) do not pass through Python and are not seen. tests/test_no_network.py tests this.


class NetworkBlockedError(RuntimeError):
    """A test tried to reach the network. Not an OSError, so code that copes with a network
    failure does not take it for one and carry on."""


network_attempts: list[str] = []  # every refused attempt of the session, described
_NETWORK_EVENTS = frozenset(
    ("socket.connect", "socket.sendto", "socket.sendmsg", "socket.getaddrinfo",
     "socket.gethostbyname")
)  # fmt: skip
_LOCAL_NAMES = frozenset(("", "localhost", "localhost.localdomain", "ip6-localhost"))


def _is_local_name(host: object) -> bool:
    """None, localhost or an IP address literal: nothing to ask a name server."""
    if host is None:
        return True
    name = host.decode("ascii", "replace") if isinstance(host, bytes) else str(host)
    try:
        ipaddress.ip_address(name.split("%")[0])
    except ValueError:
        return name.lower() in _LOCAL_NAMES
    return True


def _describe_address(address: object) -> str:
    if isinstance(address, tuple) and len(address) >= 2:
        host, port = address[0], address[1]
        return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"
    return repr(address)


def _network_attempt(event: str, args: tuple[Any, ...]) -> str | None:
    """What the audited socket call would do, when that is to reach the network."""
    if event in ("socket.getaddrinfo", "socket.gethostbyname"):
        return None if _is_local_name(args[0]) else f"look up {args[0]!r}"
    sock, address = args
    if sock.family not in (socket.AF_INET, socket.AF_INET6) or address is None:
        return None
    verb = "connect to" if event == "socket.connect" else "send to"
    return f"{verb} {_describe_address(address)}"


def _refuse_network(event: str, args: tuple[Any, ...]) -> None:
    if event not in _NETWORK_EVENTS:
        return
    attempt = _network_attempt(event, args)
    if attempt is None:
        return
    network_attempts.append(attempt)
    if event == "socket.connect":
        args[0].close()  # the caller's cleanup expects an OSError, so would leak it
    raise NetworkBlockedError(f"no network in the tests: refused to {attempt}")


sys.addaudithook(_refuse_network)  # for the whole session (an audit hook stays till exit)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    """Fail a test during which a refused attempt was caught and ignored by the code."""
    before = len(network_attempts)
    result = yield
    if len(network_attempts) > before:
        refused = "; ".join(network_attempts[before:])
        raise NetworkBlockedError(f"no network in the tests: the code tried to {refused}")
    return result


@pytest.fixture(scope="session")
def qapp(qapp_args: list[str]) -> object:
    """pytest-qt's application, made by the app's own factory: the tests run with the cyclic
    garbage collector pinned to the GUI thread, as the app does."""
    from spineview.ui.application import create_application

    return create_application(qapp_args)


@pytest.fixture(autouse=True)
def garbage_collected_on_the_gui_thread() -> Iterator[None]:
    """Once Qt is up: collect what is due after each test (there is no event loop between
    tests to run the collector's timer), and fail a test during which a collection started on
    another thread (that is how Qt objects get destroyed off the GUI thread)."""
    collector = _gui_collector()
    before = len(collector.foreign) if collector else 0
    yield
    collector = collector or _gui_collector()
    if collector is None:
        return
    collector.collect_due()
    foreign = collector.foreign[before:]
    if foreign:
        pytest.fail(f"garbage collection ran off the GUI thread: {foreign}")


def _gui_collector():  # type: ignore[no-untyped-def]
    if "spineview.ui.garbage_collection" not in sys.modules:
        return None  # Qt was never started in this session
    from spineview.ui.garbage_collection import GuiGarbageCollector

    return GuiGarbageCollector.installed()


@pytest.fixture(autouse=True)
def private_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own SPINEVIEW_HOME, so no test touches a real user's files."""
    home = tmp_path_factory.mktemp("spineview-home")
    monkeypatch.setenv("SPINEVIEW_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data: the real DICOM corpus (CI has it beside the clone)."""
    if not (SHARED_DATA / "MANIFEST.tsv").is_file():
        pytest.skip(f"shared DICOM corpus not found at {SHARED_DATA}")
    return SHARED_DATA


def manifest_rows() -> list[dict[str, str]]:
    """MANIFEST.tsv as dicts (empty when the corpus is absent)."""
    manifest = SHARED_DATA / "MANIFEST.tsv"
    if not manifest.is_file():
        return []
    lines = manifest.read_text(encoding="utf-8").splitlines()
    header = lines[0].split("\t")
    return [dict(zip(header, line.split("\t"), strict=False)) for line in lines[1:] if line]


@pytest.fixture
def chdir_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.chdir(tmp_path)
    yield tmp_path

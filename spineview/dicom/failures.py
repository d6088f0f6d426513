"""Turn whatever a parser or decoder raised on a damaged file into words, without its values.

Third-party messages on hostile input quote raw bytes ("Unknown Value Representation 'U\\x91'",
a person's name where a UID was expected), so a user-facing reason and every log line are built
from the exception's type and a fixed description, never from its text. Tracebacks go to the
log with the final message replaced by the exception's type.
"""

from __future__ import annotations

import io
import logging
import re
import struct
import threading
import traceback
import warnings
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pydicom.config

from spineview.errors import DicomLoadError, SpineViewError, UnreadableDicomError

logger = logging.getLogger(__name__)

INTERRUPTS = (KeyboardInterrupt, SystemExit, GeneratorExit)
"""What a per-file boundary lets through: the user or the interpreter stopping the program."""

_FILE_POSITION = re.compile(r"file position ([0-9A-Fa-f]+)")


def describe_parse_failure(exc: BaseException) -> str:
    """Why a header could not be parsed, in a user's words (no value from the file)."""
    text = str(exc)
    position = _FILE_POSITION.search(text)
    if position:
        offset = int(position.group(1), 16)
        return f"the data set breaks off at byte {offset}: no complete data element there"
    if isinstance(exc, (EOFError, struct.error)):
        return "the file ends inside a data element"
    if isinstance(exc, zlib.error):
        return "the deflated data set is corrupt and cannot be inflated"
    if isinstance(exc, MemoryError):
        return "a declared length is too large to read"
    if isinstance(exc, NotImplementedError) and "Value Representation" in text:
        return "a data element has an unknown value representation (VR)"
    if isinstance(exc, UnicodeError):
        return "a text element cannot be decoded in the declared character set"
    return f"the header is malformed ({kind_of(exc)})"


def kind_of(exc: BaseException) -> str:
    """The exception's class, qualified by its module when it is not a builtin."""
    cls = type(exc)
    module = cls.__module__
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"


@contextmanager
def file_boundary(path: Path, stage: str) -> Iterator[None]:
    """The per-file boundary: whatever a parser or decoder raises on one file becomes a
    `DicomLoadError` naming the file (its own errors and cancellations pass unchanged).

    Native extensions raise `BaseException` subclasses too (pyo3's PanicException from the
    Rust RLE decoder), which `except Exception` would let through to stop a whole folder.
    Only the user or the interpreter stopping the program (`INTERRUPTS`) passes.
    """
    try:
        yield
    except (SpineViewError, *INTERRUPTS):
        raise
    except OSError as exc:
        if exc.errno is not None:  # the file system, not the content
            raise DicomLoadError(path, f"cannot read: {exc.strerror or exc}") from exc
        log_failure(path, stage, exc)
        raise UnreadableDicomError(path, f"{stage}: {describe_parse_failure(exc)}") from exc
    except BaseException as exc:
        log_failure(path, stage, exc)
        raise UnreadableDicomError(path, f"{stage}: {describe_parse_failure(exc)}") from exc


def log_failure(path: Path, stage: str, exc: BaseException) -> None:
    """The traceback of a per-file failure, at debug level, with every message withheld."""
    if logger.isEnabledFor(logging.DEBUG):
        logger.debug("%s failed for %s:\n%s", stage, path.name, redacted_traceback(exc))


def redacted_traceback(exc: BaseException) -> str:
    """Frames and exception types of `exc` and the exceptions it chains, without messages."""
    parts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        frames = "".join(traceback.format_tb(current.__traceback__))
        parts.append(f"{frames}{kind_of(current)} (message withheld)")
        current = current.__cause__ or current.__context__
    return "\n-- while handling --\n".join(parts)


class BoundedFile(io.BufferedReader):
    """A read-only file whose reads never ask for more than the file still holds.

    pydicom reads an element's value with `read(length)`; with a damaged length field
    (0xFFFFFFF0 in an 888-byte file) a plain file allocates the declared size first and
    fails with MemoryError. Capped here, the read comes back short and the parser reports a
    truncated element instead.
    """

    def __init__(self, path: Path) -> None:
        super().__init__(io.FileIO(str(path), "rb"))
        self.size = path.stat().st_size

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            return super().read()
        return super().read(min(size, max(self.size - self.tell(), 0)))


@dataclass
class WarningCount:
    """How many warnings pydicom gave while reading one file (their texts are dropped)."""

    count: int = 0

    def __bool__(self) -> bool:
        return self.count > 0


_current = threading.local()
_install_lock = threading.Lock()
_installed = threading.Event()


@contextmanager
def capture_pydicom_warnings() -> Iterator[WarningCount]:
    """Count pydicom's warnings in this thread while the block runs; none reaches a log.

    pydicom reports odd values through its logger and `warnings.warn` at once
    (`pydicom.misc.warn_and_log`), quoting the value: on a damaged file that is a name, an ID
    or a birth date. Its value validation on reading is switched off, its warnings ignored and
    its log records dropped (counted here first).
    """
    _install_once()
    counter = WarningCount()
    previous = getattr(_current, "counter", None)
    _current.counter = counter
    try:
        yield counter
    finally:
        _current.counter = previous


class _DropPydicomRecords(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        counter = getattr(_current, "counter", None)
        if counter is not None:
            counter.count += 1
        return False


def _install_once() -> None:
    with _install_lock:
        if _installed.is_set():
            return
        pydicom.config.settings.reading_validation_mode = pydicom.config.IGNORE
        logging.getLogger("pydicom").addFilter(_DropPydicomRecords())
        warnings.filterwarnings("ignore", module=r"pydicom(\.|$)")
        _installed.set()

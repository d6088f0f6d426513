"""Decoder processes: compressed pixel data is decoded where a native crash costs one file.

GDCM aborts the process with an uncaught C++ exception on some damaged JPEG-LS and JPEG
streams, and a segfault or a runaway allocation in any native codec would take the viewer with
it; none of that can be caught in-process. So compressed frames are decoded in worker processes
of a standard `ProcessPoolExecutor` (fork server start: the workers never inherit the viewer's
Qt or TensorFlow threads), each under an address-space cap.

When a worker dies, every task in flight on the pool fails with `BrokenProcessPool` and the
pool is replaced. Each of those files is then decoded once more in a process of its own: the
one whose process dies again is the culprit and gets a problem ("the JPEG-LS decoder crashed
..."), the others decode normally. A task that runs past `TASK_TIMEOUT_SECONDS` is treated the
same way (its processes are killed).

Where worker processes cannot be started at all, decoding falls back to this process, with a
warning in the log and in `status()`.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import sys
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.context import BaseContext

import numpy as np
from pydicom.uid import UID, RLELossless

from spineview.dicom import pixel_worker
from spineview.dicom.header import FileHeader
from spineview.dicom.limits import SafetyLimits
from spineview.errors import CorruptPixelDataError, DicomLoadError

logger = logging.getLogger(__name__)

MEMORY_CAP_BYTES = 3 * 1024**3
"""Address space of one decoder process: the largest task (`MAX_TASK_BYTES` of float32 frames,
plus the compressed file and the codec's buffers) fits with room to spare."""
MAX_TASK_BYTES = 256 * 1024**2
"""Decoded bytes one task returns at most: a large multi-frame file is split into tasks."""
TASK_TIMEOUT_SECONDS = 120.0
MAX_WORKERS = 8

_SIGNAL_NAMES = {6: "SIGABRT", 9: "SIGKILL", 11: "SIGSEGV", 7: "SIGBUS", 8: "SIGFPE", 4: "SIGILL"}


@dataclass(frozen=True)
class PoolStatus:
    isolated: bool
    """True when compressed data is decoded in worker processes."""
    workers: int
    crashes: int
    """Worker processes that died (each replaced) since the pool started."""
    note: str = ""


def needs_isolation(header: FileHeader) -> bool:
    """JPEG, JPEG-LS and JPEG 2000 go through codecs written in C and C++ (GDCM, libjpeg,
    OpenJPEG, Pillow), which can abort or corrupt memory on a damaged stream. Native and
    deflated data (numpy, zlib) and RLE (numpy, or Rust whose panics are exceptions) are
    decoded in this process: memory-safe, and cheaper than a round trip to a worker."""
    syntax = UID(header.transfer_syntax)
    return bool(syntax.is_transfer_syntax and syntax.is_compressed and syntax != RLELossless)


def frame_chunks(header: FileHeader, indices: Sequence[int]) -> list[list[int]]:
    """`indices` in runs whose decoded float32 size stays under `MAX_TASK_BYTES`."""
    frame_bytes = max(header.rows * header.columns * 4, 1)
    per_task = max(1, MAX_TASK_BYTES // frame_bytes)
    wanted = list(indices)
    return [wanted[start : start + per_task] for start in range(0, len(wanted), per_task)]


class DecoderPool:
    """The decoder processes of this program (one pool, shared by every thread)."""

    def __init__(
        self,
        workers: int | None = None,
        memory_cap: int = MEMORY_CAP_BYTES,
        *,
        processes: bool = True,
    ) -> None:
        """`workers` defaults to one per core (at most `MAX_WORKERS`); `processes=False`
        decodes everything in this process (benchmarks compare the two)."""
        self.workers = workers or max(1, min(os.cpu_count() or 1, MAX_WORKERS))
        self.memory_cap = memory_cap
        self._lock = threading.Lock()
        self._executor: ProcessPoolExecutor | None = None
        self._context: BaseContext | None = None
        self._unavailable = "" if processes else "decoding in this process, as asked"
        self.crashes = 0

    # --- public ---------------------------------------------------------------------------

    def submit(
        self, header: FileHeader, indices: Sequence[int], limits: SafetyLimits
    ) -> Future[pixel_worker.Outcome]:
        """Start decoding frames `indices` of one file; collect with `result`."""
        for _attempt in range(2):
            executor = self._running_executor()
            if executor is None:
                break
            try:
                return executor.submit(pixel_worker.decode_task, header, list(indices), limits)
            except (BrokenProcessPool, EOFError):
                # a crash on another thread's task broke it, or the fork server that starts
                # worker processes died (EOFError reading its reply: seen once in the suite
                # when something killed it): a new pool, whose start restarts the fork server
                self._replace(executor)
            except (OSError, RuntimeError, ValueError) as error:
                with self._lock:
                    replaced = self._executor is not executor
                if not replaced:  # worker processes cannot be started on this machine
                    self._give_up(executor, error)
        future: Future[pixel_worker.Outcome] = Future()
        future.set_result(pixel_worker.decode_task(header, indices, limits))
        return future

    def result(
        self,
        future: Future[pixel_worker.Outcome],
        header: FileHeader,
        indices: Sequence[int],
        limits: SafetyLimits,
    ) -> list[np.ndarray]:
        """The frames of a submitted task, or its `DicomLoadError`; a task whose process died
        is run again alone to find out whether this file is the cause."""
        try:
            outcome = future.result(timeout=TASK_TIMEOUT_SECONDS)
        except (BrokenProcessPool, FutureTimeout) as exc:
            timed_out = isinstance(exc, FutureTimeout)
            self._replace(None, kill=timed_out)
            outcome = self._run_alone(header, indices, limits)
        if isinstance(outcome, DicomLoadError):
            raise outcome
        return outcome

    def warm_up(self) -> None:
        """Start the fork server and the workers now (in the background), so the first
        compressed file does not wait for them."""
        executor = self._running_executor()
        if executor is not None:
            try:
                executor.submit(pixel_worker.ready)
            except (BrokenProcessPool, RuntimeError):
                self._replace(executor)

    def status(self) -> PoolStatus:
        with self._lock:
            return PoolStatus(
                isolated=not self._unavailable,
                workers=0 if self._unavailable else self.workers,
                crashes=self.crashes,
                note=self._unavailable,
            )

    def shutdown(self) -> None:
        """Stop the worker processes (queued tasks are dropped; running ones finish)."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)

    # --- internals ----------------------------------------------------------------------------

    def _running_executor(self) -> ProcessPoolExecutor | None:
        with self._lock:
            if self._unavailable:
                return None
            if self._executor is None:
                try:
                    self._context = self._context or _start_context()
                    self._executor = ProcessPoolExecutor(
                        max_workers=self.workers,
                        mp_context=self._context,
                        initializer=pixel_worker.start_decoder_process,
                        initargs=(self.memory_cap,),
                    )
                except (OSError, RuntimeError, ValueError) as error:
                    self._unavailable = _unavailable_note(error)
                    logger.warning("%s", self._unavailable)
                    return None
            return self._executor

    def _give_up(self, executor: ProcessPoolExecutor, error: BaseException) -> None:
        """Decode in this process from now on (said once in the log and in `status()`)."""
        with self._lock:
            self._unavailable = _unavailable_note(error)
            self._executor = None
        executor.shutdown(wait=False, cancel_futures=True)
        logger.warning("%s", self._unavailable)

    def _replace(self, broken: ProcessPoolExecutor | None, *, kill: bool = False) -> None:
        """Drop the current pool (when it is still `broken`, or whatever it is when None);
        the next task starts a new one."""
        with self._lock:
            executor = self._executor
            if executor is None or (broken is not None and executor is not broken):
                return  # another thread replaced it already
            self._executor = None
            self.crashes += 1
        if kill:  # a hung codec: its process must go (the executor has no public way)
            for process in list(getattr(executor, "_processes", {}).values()):
                process.kill()
        executor.shutdown(wait=False, cancel_futures=True)
        logger.warning("a decoder process ended abnormally; its files are retried one by one")

    def _run_alone(
        self, header: FileHeader, indices: Sequence[int], limits: SafetyLimits
    ) -> pixel_worker.Outcome:
        context = self._context or _start_context()
        receiver, sender = context.Pipe(duplex=False)
        process = context.Process(  # type: ignore[attr-defined]
            target=pixel_worker.run_alone,
            args=(sender, header, list(indices), limits, self.memory_cap),
            daemon=True,
        )
        process.start()
        sender.close()
        outcome: pixel_worker.Outcome | None = None
        try:
            if receiver.poll(TASK_TIMEOUT_SECONDS):
                outcome = receiver.recv()
        except (EOFError, OSError):
            outcome = None  # the process died before sending anything
        finally:
            receiver.close()
            process.join(timeout=5)
            if process.is_alive():
                process.kill()
                process.join()
        if outcome is not None:
            return outcome
        return CorruptPixelDataError(header.path, _crash_reason(header, process.exitcode))


def _crash_reason(header: FileHeader, exitcode: int | None) -> str:
    syntax = UID(header.transfer_syntax).name
    if exitcode is None or exitcode == -9:
        how = "did not finish" if exitcode is None else "was stopped (out of memory or time)"
        return f"the {syntax} decoder {how} while reading the pixel data"
    if exitcode < 0:
        name = _SIGNAL_NAMES.get(-exitcode, f"signal {-exitcode}")
        return f"the {syntax} decoder crashed ({name}) while reading the pixel data"
    return (
        f"the {syntax} decoder process ended (exit status {exitcode}) while reading the pixel data"
    )


def _unavailable_note(error: BaseException) -> str:
    return (
        f"decoder processes unavailable ({type(error).__name__}); compressed data is decoded "
        "in this process, where a crashing decoder would end the program"
    )


def _start_context() -> BaseContext:
    """Fork server where there is one (workers fork from a clean, preloaded server, never from
    this multi-threaded process), spawn elsewhere."""
    if sys.platform != "win32" and "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["spineview.dicom.pixel_worker"])
        return context
    return multiprocessing.get_context("spawn")


_pool: DecoderPool | None = None
_pool_lock = threading.Lock()


def decoder_pool() -> DecoderPool:
    """The program's decoder pool, created on first use."""
    global _pool  # noqa: PLW0603  # one pool per process, made lazily
    with _pool_lock:
        if _pool is None:
            _pool = DecoderPool()
        return _pool


@contextmanager
def using_decoder_pool(pool: DecoderPool) -> Iterator[DecoderPool]:
    """Decode with `pool` inside the block (benchmarks, tests); the previous pool after."""
    global _pool  # noqa: PLW0603
    with _pool_lock:
        previous, _pool = _pool, pool
    try:
        yield pool
    finally:
        with _pool_lock:
            _pool = previous
        pool.shutdown()

"""What runs inside a decoder process (see `decoder_pool`): decode some frames of one file.

Kept small and importable on its own: the fork server preloads it, so each new decoder process
starts with numpy, pydicom and the decoder plugins already imported.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Sequence
from multiprocessing.connection import Connection

import numpy as np

from spineview.dicom.frames import raw_frames_here
from spineview.dicom.header import FileHeader
from spineview.dicom.limits import SafetyLimits
from spineview.errors import DicomLoadError

Outcome = list[np.ndarray] | DicomLoadError
"""A task's result: the frames, or why there are none (errors travel back as values)."""


def start_decoder_process(memory_cap: int) -> None:
    """Process initializer: cap the address space, leave Ctrl+C to the parent, and keep the
    codecs' own complaints ("terminate called after throwing ...") off the user's terminal.

    Under the cap, a runaway allocation in a native decoder fails as MemoryError (or ends this
    process alone) instead of exhausting the machine. The parent reports every failure.
    """
    import resource

    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    cap = memory_cap if hard == resource.RLIM_INFINITY else min(memory_cap, hard)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)


def decode_task(header: FileHeader, indices: Sequence[int], limits: SafetyLimits) -> Outcome:
    """The stored values of frames `indices` of `header.path` (the parent converts them to
    greyscale: half the bytes to send back), or the `DicomLoadError`."""
    try:
        return raw_frames_here(header, indices, limits)
    except DicomLoadError as error:
        return error


def ready() -> bool:
    """A task that does nothing: starting the processes ahead of the first file."""
    return True


def run_alone(
    connection: Connection,
    header: FileHeader,
    indices: Sequence[int],
    limits: SafetyLimits,
    memory_cap: int,
) -> None:
    """One task in a process of its own, its outcome sent back through `connection`: used to
    tell which file crashed a shared decoder process."""
    start_decoder_process(memory_cap)
    connection.send(decode_task(header, indices, limits))
    connection.close()

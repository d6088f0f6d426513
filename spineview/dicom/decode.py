"""Decode the pixels of DICOM files into float32 greyscale frames, where it is safe.

Compressed transfer syntaxes are decoded in decoder processes (`decoder_pool`): a native codec
that aborts or runs away costs that one file, never the program. Native and deflated data is
decoded here (`frames`). Every failure is a `DicomLoadError` naming the file.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset

from spineview.dicom.decoder_pool import decoder_pool, frame_chunks, needs_isolation
from spineview.dicom.failures import file_boundary
from spineview.dicom.frames import iter_frames, open_for_pixels, to_greyscale
from spineview.dicom.header import FileHeader, read_header
from spineview.dicom.limits import DEFAULT_LIMITS, SafetyLimits
from spineview.dicom.pixel_worker import Outcome
from spineview.errors import CorruptPixelDataError

__all__ = [
    "PendingFrames",
    "decode_frame",
    "decode_frames",
    "iter_frames",
    "load_file_pixels",
    "open_for_pixels",
    "start_decoding",
]


@dataclass
class PendingFrames:
    """Frames of one file being decoded in the decoder processes (or, for data decoded in
    this process, not started yet); `frames()` waits for them."""

    header: FileHeader
    indices: list[int]
    limits: SafetyLimits
    tasks: list[tuple[list[int], Future[Outcome]]] = field(default_factory=list)

    @property
    def isolated(self) -> bool:
        return bool(self.tasks)

    def frames(self, ds: Dataset | None = None) -> list[np.ndarray]:
        """The frames as float32 greyscale. `ds` is the file's dataset, read without pixel
        data when the frames come from the decoder processes (given, it saves a read)."""
        with file_boundary(self.header.path, "cannot read the pixel data"):
            if ds is None:
                ds = open_for_pixels(self.header, self.limits, pixels=not self.isolated)
            if self.isolated:
                pool = decoder_pool()
                raw: list[np.ndarray] = []
                for chunk, future in self.tasks:
                    raw.extend(pool.result(future, self.header, chunk, self.limits))
                frames = [to_greyscale(f, ds, i) for i, f in zip(self.indices, raw, strict=False)]
            else:
                frames = list(iter_frames(ds, self.header, self.indices))
        if len(frames) != len(self.indices):
            raise CorruptPixelDataError(
                self.header.path, f"{len(frames)} of {len(self.indices)} frames could be decoded"
            )
        return frames

    def cancel(self) -> None:
        for _, future in self.tasks:
            future.cancel()


def start_decoding(
    header: FileHeader, indices: Sequence[int], limits: SafetyLimits = DEFAULT_LIMITS
) -> PendingFrames:
    """Hand the frames to the decoder processes now when the syntax needs them, so several
    files decode in parallel while the caller works on earlier ones."""
    pending = PendingFrames(header, list(indices), limits)
    if needs_isolation(header):
        pool = decoder_pool()
        for chunk in frame_chunks(header, pending.indices):
            pending.tasks.append((chunk, pool.submit(header, chunk, limits)))
    return pending


def decode_frames(
    header: FileHeader, indices: Sequence[int], limits: SafetyLimits = DEFAULT_LIMITS
) -> list[np.ndarray]:
    """Frames `indices` of one file, decoded where it is safe."""
    return start_decoding(header, indices, limits).frames()


def decode_frame(
    header: FileHeader, index: int = 0, limits: SafetyLimits = DEFAULT_LIMITS
) -> np.ndarray:
    """One frame of a file, decoded on its own (for a thumbnail or a first slice)."""
    return decode_frames(header, [index], limits)[0]


def load_file_pixels(path: Path, limits: SafetyLimits = DEFAULT_LIMITS) -> np.ndarray:
    """All frames of the file at `path` as a float32 (frames, rows, columns) array."""
    header = read_header(path, limits)
    frames = decode_frames(header, range(header.frames), limits)
    volume = np.empty((header.frames, header.rows, header.columns), dtype=np.float32)
    for index, frame in enumerate(frames):
        if frame.shape != volume.shape[1:]:
            raise CorruptPixelDataError(
                path, f"frame {index + 1} decoded as {frame.shape}, header says {volume.shape[1:]}"
            )
        volume[index] = frame
    return volume

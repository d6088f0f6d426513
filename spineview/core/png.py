"""A dependency-free PNG writer for 8-bit greyscale images (montages, reports, previews)."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

from spineview.core.files import write_bytes_atomic


def encode_png(image: np.ndarray) -> bytes:
    """PNG bytes of a 2-D uint8 array (greyscale) or an (h, w, 3) uint8 array (RGB)."""
    data = np.ascontiguousarray(image, dtype=np.uint8)
    if data.ndim == 2:
        colour_type, rows = 0, data
    elif data.ndim == 3 and data.shape[2] == 3:
        colour_type, rows = 2, data.reshape(data.shape[0], -1)
    else:
        raise ValueError(f"expected (h, w) or (h, w, 3) uint8, got {data.shape}")
    height, width = data.shape[:2]
    filtered = np.zeros((height, rows.shape[1] + 1), dtype=np.uint8)  # filter byte 0 per row
    filtered[:, 1:] = rows

    def chunk(kind: bytes, payload: bytes) -> bytes:
        body = kind + payload
        return struct.pack(">I", len(payload)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(filtered.tobytes(), 6))
        + chunk(b"IEND", b"")
    )


def write_png(path: Path, image: np.ndarray) -> None:
    """Write atomically: a temporary file beside `path`, then a rename."""
    write_bytes_atomic(path, encode_png(image), mode=0o644)

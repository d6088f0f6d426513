"""PNG files of 8-bit images (montages, reports, heatmaps), encoded by Pillow.

Text goes in iTXt chunks (UTF-8, uncompressed, no language tag), one per keyword, so any PNG
reader shows it (exiftool, `identify -verbose`, Pillow's `Image.text`).
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from PIL import Image, PngImagePlugin

from spineview.core.files import write_bytes_atomic

COMPRESS_LEVEL = 6
"""zlib level of the pixel data: zlib's own default, a fair trade of size against time."""


def _save(picture: Image.Image, text: Mapping[str, str]) -> bytes:
    info = PngImagePlugin.PngInfo()
    for keyword, value in text.items():
        info.add_itxt(keyword, value)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", pnginfo=info, compress_level=COMPRESS_LEVEL)
    return buffer.getvalue()


def encode_png(image: np.ndarray, text: Mapping[str, str] | None = None) -> bytes:
    """PNG bytes of a 2-D uint8 array (greyscale) or an (h, w, 3) uint8 array (RGB), with one
    iTXt chunk per `text` keyword (keywords are Latin-1, 1 to 79 characters)."""
    data = np.ascontiguousarray(image, dtype=np.uint8)
    if not (data.ndim == 2 or (data.ndim == 3 and data.shape[2] == 3)):
        raise ValueError(f"expected (h, w) or (h, w, 3) uint8, got {data.shape}")
    return _save(Image.fromarray(data), text or {})


def png_with_text(png: bytes, text: Mapping[str, str]) -> bytes:
    """`png` written again with one iTXt chunk per `text` keyword added to the text it held
    (its pixels unchanged). ValueError when `png` is not a complete PNG (Pillow's `verify`:
    every chunk's CRC, up to IEND)."""
    try:
        with Image.open(io.BytesIO(png), formats=["PNG"]) as whole:
            whole.verify()
        with Image.open(io.BytesIO(png), formats=["PNG"]) as picture:
            picture.load()
            held = dict(getattr(picture, "text", {}))
            return _save(picture, {**held, **text})
    except (OSError, SyntaxError) as error:  # UnidentifiedImageError is an OSError
        raise ValueError(f"not a PNG ending in an IEND chunk: {error}") from error


def write_png(path: Path, image: np.ndarray, text: Mapping[str, str] | None = None) -> None:
    """Write `encode_png(image, text)` atomically: a temporary file beside `path`, then a
    rename."""
    write_bytes_atomic(path, encode_png(image, text), mode=0o644)

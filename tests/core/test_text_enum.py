"""TextEnum: members read and write as their ids, as enum.StrEnum does on Python 3.11."""

from __future__ import annotations

import json

import pytest

from spineview.core.text_enum import TextEnum


class Colour(TextEnum):
    DARK_RED = "dark-red"
    BLUE = "blue"


def test_members_are_their_ids_in_text_and_json() -> None:
    assert str(Colour.DARK_RED) == f"{Colour.DARK_RED}" == "dark-red"
    assert Colour.BLUE == "blue" and {Colour.BLUE: 1}["blue"] == 1
    assert json.dumps({"colour": Colour.DARK_RED}) == '{"colour": "dark-red"}'
    assert Colour("blue") is Colour.BLUE
    with pytest.raises(ValueError, match="green"):
        Colour("green")

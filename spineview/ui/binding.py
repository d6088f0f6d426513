"""Binding a signal to a method with extra leading arguments (the job or view it is about),
instead of asking `sender()` inside the slot.

A slot that is a bound method of a QObject is disconnected by Qt when its object is deleted;
a `functools.partial` is not, so a queued signal from a worker could still call into a dialog
that is gone (seen in the suite: "Internal C++ object (QLabel) already deleted"). `bind_slot`
gives the partial that guard.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import shiboken6
from PySide6.QtCore import QObject


def bind_slot(method: Callable[..., Any], *leading: Any) -> Callable[..., None]:
    """`partial(method, *leading)` that does nothing once `method`'s QObject is deleted."""
    owner = getattr(method, "__self__", None)
    receiver = owner if isinstance(owner, QObject) else None
    bound = partial(method, *leading)

    def slot(*arguments: Any) -> None:
        if receiver is None or shiboken6.isValid(receiver):
            bound(*arguments)

    return slot

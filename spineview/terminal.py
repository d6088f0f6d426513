"""Progress on a terminal for the headless commands."""

from __future__ import annotations

import time
from typing import TextIO


class TerminalProgress:
    """A one-line progress bar on a terminal, redrawn at most ten times a second."""

    def __init__(
        self, stream: TextIO, width: int = 30, label: str = "reading headers", unit: str = "files"
    ) -> None:
        self.stream = stream
        self.width = width
        self.label = label
        self.unit = unit
        self.enabled = stream.isatty()
        self._last = 0.0
        self._shown = False

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if done < total and now - self._last < 0.1:
            return
        self._last = now
        filled = self.width * done // max(total, 1)
        bar = "#" * filled + "-" * (self.width - filled)
        self.stream.write(f"\r{self.label} [{bar}] {done}/{total} {self.unit}")
        self.stream.flush()
        self._shown = True

    def finish(self) -> None:
        if self._shown:
            self.stream.write("\r" + " " * (self.width + 40) + "\r")
            self.stream.flush()

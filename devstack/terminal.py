"""What `make run` prints: its own notices set apart from the servers' log lines (a blank line
before and after, a marker, colour only on a terminal without NO_COLOR), one writer at a time."""

from __future__ import annotations

import os
import sys
import threading
from typing import TextIO

MARK = "==>"
_TONES = {"good": "1;32", "mail": "1;36", "bad": "1;31"}


def wants_colour(stream: TextIO) -> bool:
    # https://no-color.org: any non-empty NO_COLOR turns colour off.
    return stream.isatty() and not os.environ.get("NO_COLOR")


class Terminal:
    """The servers' lines go through `child_line` until `mute()`: once one server died or the
    stack is stopping, the rest only say they lost it, and their log files keep that."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout
        self.colour = wants_colour(self.stream)
        self.muted = False
        self._lock = threading.Lock()

    def notice(self, first: str, *rest: str, tone: str = "good") -> None:
        head = f"{MARK} {first}"
        if self.colour:
            head = f"\033[{_TONES[tone]}m{head}\033[0m"
        self._write("\n" + "\n".join((head, *(f"    {line}" for line in rest))) + "\n\n")

    def say(self, text: str) -> None:
        self._write(text + "\n")

    def child_line(self, text: str) -> None:
        self._write(text if text.endswith("\n") else text + "\n", child=True)

    def mute(self) -> None:
        with self._lock:
            self.muted = True

    def _write(self, text: str, child: bool = False) -> None:
        with self._lock:
            if child and self.muted:
                return
            self.stream.write(text)
            self.stream.flush()

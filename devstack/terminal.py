"""What `make run` prints: its own notices set apart from the servers' log lines (a blank line
before and after, a marker, colour only on a terminal without NO_COLOR), one writer at a time."""

from __future__ import annotations

import contextlib
import os
import queue
import sys
import threading
import time
from collections.abc import Callable
from typing import TextIO

MARK = "==>"
# How long `make run` holds what it prints. A killed server's sockets close before the kernel
# reports its exit (a many-threaded one, Valkey, only once its last thread is gone), so another
# server can log "connection closed" first; held this long, that line finds the death known
# and stays in its log file. Everything is held alike, so the order on screen is the order
# things came in. Too short to notice when reading.
HOLD = 0.2
_TONES = {"good": "1;32", "mail": "1;36", "bad": "1;31"}


def wants_colour(stream: TextIO) -> bool:
    # https://no-color.org: any non-empty NO_COLOR turns colour off.
    return stream.isatty() and not os.environ.get("NO_COLOR")


class Terminal:
    """The servers' lines go through `child_line` until `mute()`: once one server died or the
    stack is stopping, the rest only say they lost it, and their log files keep that. With a
    `hold`, everything is written that many seconds after it came, by one thread, in order;
    `gate`, when set, is asked at that moment whether a server's line is still shown."""

    def __init__(self, stream: TextIO | None = None, hold: float = 0.0) -> None:
        self.stream = stream or sys.stdout
        self.colour = wants_colour(self.stream)
        self.hold = hold
        # the server that wrote the line -> show it?
        self.gate: Callable[[str | None], bool] | None = None
        self._muted_at: float | None = None
        self._lock = threading.Lock()
        self._held: queue.Queue[tuple[float, str, bool, str | None]] = queue.Queue()
        self._pending = 0  # put and not yet written or dropped
        self._idle = threading.Condition()
        self._printer: threading.Thread | None = None

    def notice(self, first: str, *rest: str, tone: str = "good") -> None:
        head = f"{MARK} {first}"
        if self.colour:
            head = f"\033[{_TONES[tone]}m{head}\033[0m"
        self._put("\n" + "\n".join((head, *(f"    {line}" for line in rest))) + "\n\n")

    def say(self, text: str) -> None:
        self._put(text + "\n")

    def child_line(self, text: str, source: str | None = None) -> None:
        self._put(text if text.endswith("\n") else text + "\n", child=True, source=source)

    def mute(self) -> None:
        """Lines that come from now on are not shown; those already held still are."""
        with self._lock:
            if self._muted_at is None:
                self._muted_at = time.monotonic()

    def flush(self, timeout: float = 5.0) -> bool:
        """Until everything put so far, and what writing it put (a death notice), has been
        written or dropped; False if that took longer than `timeout` (a terminal nobody reads)."""
        with self._idle:
            return self._idle.wait_for(lambda: not self._pending, timeout)

    def _put(self, text: str, child: bool = False, source: str | None = None) -> None:
        came = time.monotonic()
        if child and self._muted_at is not None:
            return  # muted before it came: dropped now rather than queued
        if not self.hold:
            self._safely(came, text, child, source)
            return
        with self._lock:
            if self._printer is None:
                self._printer = threading.Thread(target=self._print, name="print", daemon=True)
                self._printer.start()
        with self._idle:
            self._pending += 1
        self._held.put((came, text, child, source))

    def _print(self) -> None:
        while True:
            came, text, child, source = self._held.get()
            time.sleep(max(0.0, came + self.hold - time.monotonic()))
            self._safely(came, text, child, source)
            with self._idle:
                self._pending -= 1
                self._idle.notify_all()

    def _safely(self, came: float, text: str, child: bool, source: str | None) -> None:
        # A terminal that cannot be written (a closed pipe) has no reader to tell.
        with contextlib.suppress(Exception):
            self._write(came, text, child, source)

    def _write(self, came: float, text: str, child: bool, source: str | None) -> None:
        # The gate first, outside the lock: it may find a death and say so through this terminal.
        if child and self.gate is not None and not self.gate(source):
            return
        with self._lock:
            if child and self._muted_at is not None and came >= self._muted_at:
                return
            self.stream.write(text)
            self.stream.flush()

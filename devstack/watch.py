"""`make run`'s servers watched: the first one to exit is named once, with its exit status and
its log, and from then on the others' complaints about losing it stay in their log files."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from devstack.terminal import Terminal

# How long a server's line waits before it reaches the terminal. A killed server's sockets close
# before the kernel reports its exit (and a many-threaded one, Valkey, reports it only when its
# last thread is gone), so another server can log "connection closed" first; held this long, that
# line finds the death already known and stays in its log file. Too short to notice when reading.
HOLD = 0.2


@dataclass
class Server:
    name: str
    process: subprocess.Popen
    log: Path


def exit_status(process: subprocess.Popen) -> int | None:
    """The process's exit status (negative: the signal), or None while it runs. It is not
    reaped: stopping it still finds its process group, and so what it forked and left behind
    (a SIGKILLed signup-worker's Dramatiq processes), by its pid."""
    if process.returncode is not None:
        return process.returncode
    try:
        info = os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:  # reaped elsewhere meanwhile
        return process.poll()
    if info is None:
        return None
    return info.si_status if info.si_code == os.CLD_EXITED else -info.si_status


def describe(status: int) -> str:
    if status < 0:
        try:
            return f"killed by {signal.Signals(-status).name}"
        except ValueError:
            return f"killed by signal {-status}"
    return f"exit code {status}"


class Watch:
    def __init__(self, terminal: Terminal, shown: Callable[[Path], Path]) -> None:
        self.terminal = terminal
        self.shown = shown
        self.servers: list[Server] = []
        self.died: Server | None = None
        self.stopping = False  # on purpose: the servers' exits are no news
        # While the stack starts, a death is recorded but not announced: the start says which
        # server did not start, with what it said last.
        self.starting = False
        self.threads: dict[str, list[threading.Thread]] = {}
        self._lock = threading.Lock()
        self._held: queue.Queue[tuple[float, str]] = queue.Queue()
        self._printer: threading.Thread | None = None

    def add(self, server: Server) -> None:
        self.servers.append(server)

    def check(self) -> Server | None:
        """The server that died, said once. Called by every line forwarded too, before it is
        printed: a server's death reaches the exit status before the others' errors about it."""
        with self._lock:
            if self.died is not None or self.stopping:
                return self.died
            for server in self.servers:
                status = exit_status(server.process)
                if status is not None:
                    self.died = server
                    self.terminal.mute()
                    if self.starting:
                        return server
                    self.terminal.notice(
                        f"{server.name} (pid {server.process.pid}) died: {describe(status)}",
                        f"its log: {self.shown(server.log)}",
                        "stopping the rest; `make run` starts everything again",
                        tone="bad",
                    )
                    return server
            return None

    def forward(self, server: Server, output: IO[bytes]) -> threading.Thread:
        """Copy a server's output to its log file at once, and to the terminal `HOLD` seconds
        later while all is well."""

        def copy() -> None:
            with output, open(server.log, "ab") as log:
                for raw in output:
                    log.write(raw)
                    log.flush()
                    if self.check() is None:
                        self._held.put((time.monotonic(), raw.decode(errors="replace")))

        with self._lock:
            if self._printer is None:
                self._printer = threading.Thread(target=self._print, name="print", daemon=True)
                self._printer.start()

        thread = threading.Thread(target=copy, name=f"forward-{server.name}", daemon=True)
        thread.start()
        self.threads.setdefault(server.name, []).append(thread)
        return thread

    def _print(self) -> None:
        # One thread for every server, so their lines keep the order they came in.
        while True:
            came, text = self._held.get()
            time.sleep(max(0.0, came + HOLD - time.monotonic()))
            if self.check() is None:
                self.terminal.child_line(text)
            self._held.task_done()

    def printed(self) -> None:
        """Until every line forwarded so far has been printed or dropped."""
        self._held.join()

"""`make run`'s servers watched: the first one to exit is named once, with its exit status and
its log, after its own last lines; from then on the others' complaints about losing it stay
in their log files."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from devstack.terminal import Terminal

# How long a dead server's last lines, still in its pipe when its death is seen, are waited
# for before the terminal is muted. The pipe ends when the process is gone, unless a child it
# left (a SIGKILLed signup-worker's Dramatiq processes) still holds it: then this is the wait.
DRAIN = 0.3


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
        terminal.gate = self.shows

    def add(self, server: Server) -> None:
        self.servers.append(server)

    def check(self) -> Server | None:
        """The server that died, said once. Asked again for every line before it is shown
        (`shows`), so a death is known before the others' errors about it are printed."""
        with self._lock:
            if self.died is not None or self.stopping:
                return self.died
            for server in self.servers:
                status = exit_status(server.process)
                if status is not None:
                    self.died = server
                    self._drain(server)
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

    def _drain(self, server: Server) -> None:
        """Let the dead server's forwarders reach the end of its pipe, so its last words (a
        traceback) come before the mute, not after it."""
        deadline = time.monotonic() + DRAIN
        for thread in self.threads.get(server.name, []):
            if thread is not threading.current_thread():
                thread.join(timeout=max(0.0, deadline - time.monotonic()))

    def shows(self, source: str | None) -> bool:
        """Whether a server's line is shown: while all is well, and after a death only the dead
        server's own (the terminal, muted when the death was seen, keeps only what came before:
        its last words, a traceback)."""
        died = self.check()
        return died is None or source == died.name

    def forward(self, server: Server, output: IO[bytes]) -> threading.Thread:
        """Copy a server's output to its log file, and to the terminal while all is well."""

        def copy() -> None:
            with output, open(server.log, "ab") as log:
                for raw in output:
                    log.write(raw)
                    log.flush()
                    self.terminal.child_line(raw.decode(errors="replace"), server.name)

        thread = threading.Thread(target=copy, name=f"forward-{server.name}", daemon=True)
        thread.start()
        self.threads.setdefault(server.name, []).append(thread)
        return thread

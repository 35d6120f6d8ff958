"""Child processes that die with their parent, free ports, and waiting for a port to open."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

_PR_SET_PDEATHSIG = 1


def die_with_parent(sig: int = signal.SIGTERM) -> Callable[[], None]:
    """A preexec_fn: the kernel sends `sig` to the child if we die, even by SIGKILL."""

    def arrange() -> None:
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, sig)

    return arrange


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something listens on host:port. Never by a TCP self-connect: a probe of a free
    port in the ephemeral range may get that very port as its own source port, connect to
    itself, and so "succeed" while holding the port the server is about to bind."""
    with socket.socket() as s:
        s.bind((host, 0))
        return probe(s, host, port)


def probe(s: socket.socket, host: str, port: int) -> bool:
    """Connect the bound socket `s` to host:port; False when it would be, or is, itself."""
    if s.getsockname()[1] == port:
        return False  # connecting would reach this very socket, not a server
    s.settimeout(0.2)
    if s.connect_ex((host, port)) != 0:
        return False
    return s.getsockname() != s.getpeername()


def wait_for_port(port: int, process: subprocess.Popen | None = None, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not port_open(port):
        if process is not None and process.poll() is not None:
            raise RuntimeError(
                f"process exited with {process.returncode} before port {port} opened"
            )
        if time.monotonic() > deadline:
            raise TimeoutError(f"nothing listening on port {port} after {timeout}s")
        time.sleep(0.02)


def stop(process: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 10) -> None:
    """Ask the process to stop with `sig`, kill it after `timeout`. A process started in its
    own session (start_new_session=True) leads a process group: whatever of the group is left
    once it is gone is killed too, so children it forked (Dramatiq's worker processes) cannot
    outlive it when it was killed or did not wait for them."""
    group = _own_group(process)
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    if group is not None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(group, signal.SIGKILL)


def _own_group(process: subprocess.Popen) -> int | None:
    if process.returncode is not None:
        return None  # reaped already: its pid, and so its group id, may belong to another now
    try:
        return process.pid if os.getpgid(process.pid) == process.pid else None
    except ProcessLookupError:
        return None


def kill_leftover(pidfile: Path, expect: str, sig: int = signal.SIGTERM) -> None:
    """Stop a process a previous run recorded, if it still runs and is what we expect, and
    whatever of its process group is left: a killed signup-worker leaves its forked worker
    processes behind, and they would run on against servers that are gone."""
    try:
        pid = int(pidfile.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        pidfile.unlink(missing_ok=True)
        return
    if expect in _cmdline(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        for _ in range(200):
            if not Path(f"/proc/{pid}").exists():
                break
            time.sleep(0.05)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    # Members of the group it led, the leader gone or not; the command line guards against a
    # group id that was reused meanwhile.
    for member in group_members(pid):
        if expect in _cmdline(member):
            with contextlib.suppress(ProcessLookupError):
                os.kill(member, signal.SIGKILL)
    pidfile.unlink(missing_ok=True)


def group_members(pgid: int) -> list[int]:
    """Live processes in process group `pgid`."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        # fields: state, ppid, pgrp, ...; a zombie is dead already
        if fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(stat.parent.name))
    return members


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return ""

"""CPU seconds from /proc: of a process tree, and of the whole machine (busy and idle). On a
shared machine these say what a piece of code costs where requests per second say how busy
the machine was."""

from __future__ import annotations

import os
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) of a process and all its living descendants: Dramatiq forks
    the worker process and the metrics process from the one started; PostgreSQL a backend per
    connection."""
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            children = Path(f"/proc/{p}/task/{p}/children").read_text().split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime
        todo.extend(int(c) for c in children)
    return total


def machine() -> list[int]:
    """The machine's CPU time counters (/proc/stat's first line), for idle_share()."""
    with open("/proc/stat") as f:
        return [int(x) for x in f.readline().split()[1:]]


def idle_share(before: list[int], after: list[int]) -> float:
    """The share of all cores' time spent idle (or waiting on I/O) between two machine()s."""
    spent = [b - a for a, b in zip(before, after, strict=True)]
    return (spent[3] + spent[4]) / (sum(spent) or 1)

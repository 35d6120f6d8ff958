"""The order `make test` hands the suite to pytest-xdist, so that the slow tests do not wait for
each other. The worksteal scheduler gives each process a contiguous block of the collection at
the start and later moves tests from the end of the longest queue to idle processes. So every
slow test goes to the head of a block: the image tests all to the first (one process builds
the image while the others never wait on its lock), the drills, failovers and the wheel spread
over the others' heads, so no process runs two of them in a row at the end of the run. The
browser tests follow the second block's head together: they share a package-wide stack (API,
worker, Chromium) that each process running one of them starts again."""

from __future__ import annotations

import pytest

SLOW = ("drill", "failover", "wheel")


def blocks(total: int, workers: int) -> list[int]:
    """The block sizes xdist's worksteal scheduler sends at the start (each idle process in
    turn gets the pending tests divided by the processes still to serve)."""
    sizes = []
    for served in range(workers):
        size = total // (workers - served)
        sizes.append(size)
        total -= size
    return sizes


def order(items: list[pytest.Item], workers: int) -> list[pytest.Item]:
    image = [i for i in items if i.get_closest_marker("image")]
    slow = [i for i in items if i not in image and any(i.get_closest_marker(m) for m in SLOW)]
    browser = [i for i in items if i.get_closest_marker("browser") and i not in image + slow]
    rest = [i for i in items if i not in image and i not in slow and i not in browser]
    heads: list[list[pytest.Item]] = [[] for _ in range(workers)]
    heads[0] = image
    for n, item in enumerate(slow):
        heads[1 + n % (workers - 1) if workers > 1 else 0].append(item)
    heads[1 if workers > 1 else 0] += browser
    ordered: list[pytest.Item] = []
    for head, size in zip(heads, blocks(len(items), workers), strict=True):
        take = max(size - len(head), 0)
        ordered += head + rest[:take]
        rest = rest[take:]
    return ordered + rest

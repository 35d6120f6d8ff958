"""What a long-running process does with its heap once it has started.

Python's full (oldest-generation) garbage collection walks every container object the process
holds, and most of those are the modules, classes and settings loaded at start-up, which live
until the process ends. In the API under load a full collection took ~45 ms, about once a
second: ~5 % of its CPU, and a pause that every request in flight waited for (the p99).
Frozen objects are left out of every collection after start-up.

The youngest generation is collected when the count of container objects made and not yet
freed passes a threshold: 700 by default, which a few dozen requests in flight pass all the
time, so the API ran ~60 young collections a second, each walking everything those requests
held (~17 µs of CPU a signup in all). At 10,000 it runs a few a minute; most of what a request
makes is freed by reference counting anyway, and a cycle waits at most a little longer.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 10_000


def settle() -> int:
    """Collect once, freeze what survived (start-up's objects), and collect the youngest
    generation less often; returns how many objects were frozen."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, older, oldest)
    return gc.get_freeze_count()

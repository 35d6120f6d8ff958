"""The HTTP client the worker's API transports share does no import-path search per request:
httpcore asks which event loop runs several times a request, through `import sniffio`, which,
when sniffio is not installed, searched the whole import path every time (found with py-spy:
~1 ms of CPU per mail)."""

from __future__ import annotations

import asyncio
import importlib.abc
import sys

from httpcore import _synchronization


class _Watch(importlib.abc.MetaPathFinder):
    def __init__(self) -> None:
        self.searched: list[str] = []

    def find_spec(self, fullname, path=None, target=None):
        self.searched.append(fullname)
        return None  # only watching; the next finder answers


def test_asking_which_event_loop_runs_searches_no_import_path():
    # Given a watch on every search of the import path (after a first call, which may import)
    async def ask() -> str:
        return _synchronization.current_async_library()

    assert asyncio.run(ask()) == "asyncio"
    watch = _Watch()
    sys.meta_path.insert(0, watch)
    try:
        # When httpcore asks, as it does several times for every request
        for _ in range(3):
            assert asyncio.run(ask()) == "asyncio"
    finally:
        sys.meta_path.remove(watch)
    # Then nothing was looked for
    assert watch.searched == []

"""The periodic purge: every SIGNUP_PURGE_INTERVAL, one worker of the cluster (whichever holds
a PostgreSQL advisory lock) deletes what retention says has expired, in short batches."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from signup_core import db, retention
from signup_core.clock import Clock
from signup_worker.resources import Opened

log = logging.getLogger(__name__)


async def run(res: Opened, stop: asyncio.Event, clock: Clock | None = None) -> None:
    clock = clock or Clock()
    while not stop.is_set():
        try:
            await purge_once(res, clock)
        except Exception as e:
            log.warning("purge paused", extra={"error": type(e).__name__})
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), res.settings.purge_interval)


async def purge_once(res: Opened, clock: Clock) -> dict[str, int] | None:
    """Purge if no other worker is; returns the counts, or None when another held the lock."""
    q = db.queries()
    async with res.pool.acquire() as conn:
        if not await q.try_purge_lock(conn):
            return None
        try:
            counts = await retention.purge(res.pool, res.settings, clock.now())
        finally:
            await q.release_purge_lock(conn)
    if any(counts.values()):
        log.info("purged", extra=counts)
    return counts

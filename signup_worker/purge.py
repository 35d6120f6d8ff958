"""The periodic purge: every SIGNUP_PURGE_INTERVAL, one worker of the cluster (whichever holds
the purge lease, a row in `leases`) deletes what retention says has expired, in short batches.

A lease row, not a session advisory lock: behind PgBouncer in transaction pooling every
statement may run on another server connection, so a session lock would be taken on one and
released, or left held by an idle one, on another. The lease is renewed before each batch, and
lapses on its own if its holder dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid

import asyncpg

from signup_core import db, retention, tracing
from signup_core.clock import Clock
from signup_worker.resources import Opened

log = logging.getLogger(__name__)

LEASE = "purge"
# Renewed with every batch (a batch takes well under a second); a worker that died holding it
# holds up the next purge this long at most.
LEASE_SECONDS = 120.0


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
    """Purge if no other worker is; returns the counts, or None when another held the lease."""
    q = db.queries()
    holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    async def renew(conn: asyncpg.Connection) -> bool:
        return bool(await q.take_lease(conn, name=LEASE, holder=holder, ttl_seconds=LEASE_SECONDS))

    async with res.pool.acquire() as conn:
        if not await renew(conn):
            return None
    try:
        with tracing.work_span("purge"):  # the lease's check stays a poll, untraced
            counts = await retention.purge(res.pool, res.settings, clock.now(), guard=renew)
    finally:
        # Not needed for safety (it lapses), only so that the next interval need not wait.
        with contextlib.suppress(*db.UNAVAILABLE):
            async with res.pool.acquire() as conn:
                await q.drop_lease(conn, name=LEASE, holder=holder)
    if any(counts.values()):
        log.info("purged", extra=counts)
    return counts

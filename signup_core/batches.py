"""The walk the key rotations share: lock a batch of rows past the last id seen, change them,
commit, go on, until a batch comes back empty. Each batch is its own transaction, so a run
killed midway loses only its open batch, and a row a request holds (SKIP LOCKED in the lock
query) is left for a later pass."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg

# Locks the next batch of rows whose id is above the given one, in id order.
Lock = Callable[[asyncpg.Connection, int], AsyncIterator[Any]]
# Changes the locked rows inside their transaction; returns how many it counts as done.
Change = Callable[[asyncpg.Connection, list[Any]], Awaitable[int]]


async def in_batches(
    pool: asyncpg.Pool,
    lock: Lock,
    change: Change,
    on_batch: Callable[[int], None] | None = None,
) -> int:
    """Walk the rows by id, one transaction a batch; returns the sum of what change counted.
    on_batch hears each batch's count after its commit (a progress bar)."""
    after, total = 0, 0
    while True:
        async with pool.acquire() as conn, conn.transaction():
            rows = [r async for r in lock(conn, after)]
            if not rows:
                return total
            done = await change(conn, rows)
        after, total = rows[-1]["id"], total + done
        if on_batch is not None:
            on_batch(done)

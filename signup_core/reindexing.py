"""Blind-index key rotation: every subscription's index recomputed from its sealed address,
its address's suppression and provider events refiled with it. In batches (signup_core.batches),
each transaction holding every row of the addresses it moves (SKIP LOCKED: an address a request
or the worker holds is left for the next pass). Killed midway, a run loses only its open batch."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import asyncpg

from signup_core import db, sealing
from signup_core.batches import in_batches
from signup_core.index_keys import IndexKeys
from signup_core.sealing import Keyring

MAX_PASSES = 5


@dataclass
class Outcome:
    moved: int = 0
    conflicts: int = 0


async def remaining(pool: asyncpg.Pool, keys: IndexKeys) -> dict[str, int]:
    """Rows per table not filed under the current key: what still needs the previous one."""
    async with pool.acquire() as conn:
        row = await db.queries().count_off_index_key(conn, index_key=keys.current_id)
    return dict(row)


async def reindex(
    pool: asyncpg.Pool,
    keys: IndexKeys,
    seal_keys: Keyring,
    batch: int = 500,
    on_batch: Callable[[int], None] | None = None,
    outcome: Outcome | None = None,
) -> Outcome:
    """Refile every subscription under the current key, counting into `outcome`. Passes repeat
    while the last one moved something: rows skipped because they were in use are found by the
    next."""
    outcome = outcome or Outcome()
    for _ in range(MAX_PASSES):
        moved_before = outcome.moved
        outcome.conflicts = await _one_pass(pool, keys, seal_keys, batch, outcome, on_batch)
        if outcome.moved == moved_before:
            break
    return outcome


async def _one_pass(
    pool: asyncpg.Pool,
    keys: IndexKeys,
    seal_keys: Keyring,
    batch: int,
    outcome: Outcome,
    on_batch: Callable[[int], None] | None,
) -> int:
    q = db.queries()
    conflicts = 0

    def lock(conn: asyncpg.Connection, after: int) -> Any:
        return q.lock_rows_to_reindex(conn, index_key=keys.current_id, after_id=after, batch=batch)

    async def change(conn: asyncpg.Connection, rows: list[Any]) -> int:
        nonlocal conflicts
        pairs = {}
        for r in rows:
            address = sealing.open_column(
                seal_keys, r["email_sealed"], sealing.EMAIL, r["seal_key_id"]
            )
            pairs[bytes(r["email_index"])] = keys.index(str(address))  # never NULL
        held = q.lock_filed_under(conn, old_indexes=list(pairs))
        busy = {bytes(r["email_index"]) async for r in held}
        free = {old: new for old, new in pairs.items() if old not in busy}
        done = await q.reindex_addresses(
            conn,
            old_indexes=list(free),
            new_indexes=list(free.values()),
            index_key=keys.current_id,
        )
        conflicts += done["conflicts"]
        return done["moved"]

    def committed(moved: int) -> None:
        # Counted batch by batch, so a run that fails midway still reports what it moved.
        outcome.moved += moved
        if on_batch is not None:
            on_batch(moved)

    await in_batches(pool, lock, change, committed)
    return conflicts

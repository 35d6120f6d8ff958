"""Blind-index key rotation: every subscription's index recomputed from its sealed address,
its address's suppression and provider events refiled with it. Small batches, each its own
transaction holding every row of the addresses it moves (SKIP LOCKED: an address a request or
the worker holds is left for the next pass). Killed midway, a run loses only its open batch."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import asyncpg

from signup_core import db, sealing
from signup_core.index_keys import IndexKeys
from signup_core.sealing import Keyring

MAX_PASSES = 5


@dataclass
class Outcome:
    moved: int = 0
    conflicts: int = 0
    # Rows deleted because their address already had a row on that list under another key.
    merged: int = 0


async def remaining(pool: asyncpg.Pool, keys: IndexKeys) -> dict[str, int]:
    """Rows per table not filed under the current key (suppressions: nor under the
    suppression key): what still needs the previous one."""
    async with pool.acquire() as conn:
        row = await db.queries().count_off_index_key(
            conn, index_key=keys.current_id, held_key=keys.held_id
        )
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
    after, conflicts = 0, 0
    while True:
        for attempt in range(3):
            try:
                async with pool.acquire() as conn, conn.transaction():
                    last, done = await _one_batch(conn, keys, seal_keys, after, batch)
                break
            except asyncpg.DeadlockDetectedError:
                # Merging deletes a row whose mail a sender may hold: PostgreSQL's answer
                # to the deadlock is to try the batch again.
                if attempt == 2:
                    raise
        if last is None:
            return conflicts
        after, conflicts = last, conflicts + done["conflicts"]
        outcome.moved += done["moved"]
        outcome.merged += done["merged"]
        if on_batch is not None:
            on_batch(done["moved"])


async def _one_batch(
    conn: asyncpg.Connection, keys: IndexKeys, seal_keys: Keyring, after: int, batch: int
) -> tuple[int | None, dict[str, int]]:
    """Refile one batch, in the caller's transaction; returns the last id seen and counts."""
    q = db.queries()
    rows = [
        r
        async for r in q.lock_rows_to_reindex(
            conn, index_key=keys.current_id, after_id=after, batch=batch
        )
    ]
    if not rows:
        return None, {}
    pairs, helds = {}, {}
    for r in rows:
        address = str(
            sealing.open_column(seal_keys, r["email_sealed"], sealing.EMAIL, r["seal_key_id"])
        )
        pairs[bytes(r["email_index"])] = keys.index(address)  # never NULL
        helds[bytes(r["email_index"])] = keys.held(address)
    held = q.lock_filed_under(conn, old_indexes=list(pairs))
    busy = {bytes(r["email_index"]) async for r in held}
    free = {old: new for old, new in pairs.items() if old not in busy}
    # An address with a row on one list under both keys (written by a process that knew only
    # the old one) keeps one: without this, both would be moved onto one index, a unique
    # violation on every run.
    merged = await q.merge_duplicate_rows(
        conn, old_indexes=list(free), new_indexes=list(free.values())
    )
    done = await q.reindex_addresses(
        conn,
        old_indexes=list(free),
        new_indexes=list(free.values()),
        helds=[helds[old] for old in free],
        index_key=keys.current_id,
        held_key=keys.held_id,
    )
    return rows[-1]["id"], {**dict(done), "merged": merged}

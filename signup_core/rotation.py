"""Re-sealing under the current key, in batches (signup_core.batches): killed midway, a run
loses at most its open batch, which rolls back; the next run finds what is left by key id."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import asyncpg

from signup_core import db, sealing
from signup_core.batches import in_batches
from signup_core.sealing import Keyring


async def remaining(pool: asyncpg.Pool, keys: Keyring) -> int:
    async with pool.acquire() as conn:
        return int(await db.queries().count_unsealed_rows(conn, current_id=keys.current_id))


async def reseal(
    pool: asyncpg.Pool,
    keys: Keyring,
    batch: int = 500,
    on_batch: Callable[[int], None] | None = None,
) -> int:
    """Re-seal every row not under the current key; returns how many were re-sealed."""
    q = db.queries()

    def lock(conn: asyncpg.Connection, after: int) -> Any:
        return q.lock_rows_to_reseal(conn, current_id=keys.current_id, after_id=after, batch=batch)

    async def change(conn: asyncpg.Connection, rows: list[Any]) -> int:
        ids, emails, names = [], [], []
        for r in rows:
            ids.append(r["id"])
            email = sealing.open_column(keys, r["email_sealed"], sealing.EMAIL, r["seal_key_id"])
            name = sealing.open_column(keys, r["name_sealed"], sealing.NAME, r["seal_key_id"])
            emails.append(keys.seal(email, sealing.EMAIL))
            names.append(keys.seal(name, sealing.NAME))
        await q.reseal_rows(
            conn, ids=ids, emails=emails, names=names, key_ids=[keys.current_id] * len(ids)
        )
        return len(ids)

    return await in_batches(pool, lock, change, on_batch)

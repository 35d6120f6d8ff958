"""Start-up: a process files its blind-index keys in the database, and refuses to start when it
lacks a key the database says is in use. Started with a new key and the current one as its
previous, it makes its key the current one: the rotation has begun, and from then on a process
still on the old key refuses to write (blind_index_key_guard, sql/migrations/0014)."""

from __future__ import annotations

import logging

import asyncpg

from signup_core import db
from signup_core.index_keys import IndexKeys

log = logging.getLogger(__name__)


class KeyMismatch(Exception):
    """This process's keys do not match what the database holds; the message names key ids
    (fingerprints), never keys, and says what to set."""


async def register(pool: asyncpg.Pool, keys: IndexKeys) -> str | None:
    """Check and file this process's keys; returns "switched" when it made its key current.
    A database that cannot be asked yet (down, not migrated) does not stop the start: the
    write guard still refuses a stale key, and the next stale write registers again."""
    try:
        async with pool.acquire() as conn:
            await _check_suppressions(conn, keys)
            if await _settled(conn, keys):
                # Nothing to change: no lock, so no write waits on a start or an admin call.
                return None
            async with conn.transaction():
                return await _register(conn, keys)
    except (*db.UNAVAILABLE, asyncpg.UndefinedTableError, asyncpg.UndefinedFunctionError) as e:
        log.warning("blind-index keys not registered", extra={"error": type(e).__name__})
        return None


async def _settled(conn: asyncpg.Connection, keys: IndexKeys) -> bool:
    states = {r["key_id"]: r["state"] async for r in db.queries().index_key_states(conn)}
    return states.get(keys.current_id) == "current" and (
        keys.previous_id is None or keys.previous_id in states
    )


async def _check_suppressions(conn: asyncpg.Connection, keys: IndexKeys) -> None:
    q = db.queries()
    unknown = [r["id"] async for r in q.suppression_key_ids(conn) if r["id"] not in keys.known_ids]
    if unknown:
        raise KeyMismatch(
            f"suppressions are filed under key {', '.join(unknown)}, which this process lacks: "
            "set SIGNUP_SUPPRESSION_KEY to that key (or keep it as "
            "SIGNUP_BLIND_INDEX_KEY_PREVIOUS); see docs/runbooks/rotating-secrets.md"
        )


async def _register(conn: asyncpg.Connection, keys: IndexKeys) -> str | None:
    q = db.queries()
    await q.lock_index_key_registry(conn)
    states = {r["key_id"]: r["state"] async for r in q.index_key_states(conn)}
    current = next((k for k, s in states.items() if s == "current"), None)
    if current == keys.current_id or current is None:
        if keys.previous_id is not None and keys.previous_id not in states:
            await q.file_index_key(conn, key_id=keys.previous_id, state="previous")
        if current is None:
            await q.file_index_key(conn, key_id=keys.current_id, state="current")
        return None
    if current != keys.previous_id:
        raise KeyMismatch(
            f"the database's current blind-index key is {current}; this process has "
            f"{keys.current_id} (previous: {keys.previous_id or 'none'}): give it the current "
            "key, or, to rotate, the new key with the current one as "
            "SIGNUP_BLIND_INDEX_KEY_PREVIOUS"
        )
    # A rotation starts: this key becomes current, the old current one previous.
    await q.retire_index_keys(conn, keep=[keys.current_id, current])
    await q.file_index_key(conn, key_id=current, state="previous")
    await q.file_index_key(conn, key_id=keys.current_id, state="current")
    log.warning(
        "blind-index key rotation started: processes on the old key stop writing",
        extra={"key": keys.current_id, "previous": current},
    )
    return "switched"

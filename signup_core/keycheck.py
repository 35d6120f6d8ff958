"""Start-up check: every key id the rows are sealed under is in the keyring, or the process
refuses to start, naming the missing id, rather than failing row by row later."""

from __future__ import annotations

import logging

import asyncpg

from signup_core import db
from signup_core.sealing import Keyring, UnknownKeyId

log = logging.getLogger(__name__)


async def missing_key_ids(conn: asyncpg.Connection, keys: Keyring) -> list[str]:
    return [
        r["seal_key_id"]
        async for r in db.queries().seal_key_ids(conn)
        if r["seal_key_id"] not in keys.keys
    ]


async def check_keyring(pool: asyncpg.Pool, keys: Keyring) -> None:
    """Raise UnknownKeyId for the first missing id. A database that cannot be asked yet (down,
    not migrated) does not stop the start: unsealing still refuses an unknown id per row."""
    try:
        async with pool.acquire() as conn:
            missing = await missing_key_ids(conn, keys)
    except (*db.UNAVAILABLE, asyncpg.UndefinedTableError, asyncpg.UndefinedColumnError) as e:
        log.warning("keyring not checked against the database", extra={"error": type(e).__name__})
        return
    if missing:
        log.error("rows are sealed under keys not in SIGNUP_SEAL_KEYS", extra={"key_ids": missing})
        raise UnknownKeyId(missing[0])

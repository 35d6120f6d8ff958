"""The shared pool skips asyncpg's reset round trip on release, and stays safe without it."""

from __future__ import annotations

from signup_core.db import create_pool


async def test_a_released_connection_keeps_its_session_but_not_an_open_transaction(settings, db):
    pool = await create_pool(settings, max_size=1)
    try:
        async with pool.acquire() as conn:
            # No release sends RESET ALL: this is what makes it one round trip per query.
            await conn.execute("SET application_name = 'kept'")
            tx = conn.transaction()
            await tx.start()
            await conn.execute("CREATE TEMP TABLE IF NOT EXISTS t (x int)")
            await conn.execute("INSERT INTO t VALUES (1)")
            # released mid-transaction, as a crashed handler would leave it
        async with pool.acquire() as conn:
            assert await conn.fetchval("SHOW application_name") == "kept"
            assert not conn.is_in_transaction()
            assert await conn.fetchval("SELECT to_regclass('pg_temp.t')") is None  # rolled back
    finally:
        await pool.close()

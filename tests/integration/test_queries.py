"""Every named query must prepare against the real schema: a typo fails here, not in production."""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg
import pytest

from signup_core.db import queries

NAMES = sorted(queries().available_queries)


@pytest.mark.parametrize("name", NAMES)
async def test_named_query_prepares(db, name):
    query = getattr(queries(), name)
    if name == "create_migrations_table":
        await db.execute(query.sql)  # a script: executing is its only way to be checked
        return
    if "import_stage" in query.sql and name != "import_stage":
        # Reads the import's temporary table, which lives in the transaction that made it.
        async with db.transaction():
            await db.execute(queries().import_stage.sql)
            await db.prepare(query.sql)
        return
    await db.prepare(query.sql)


def test_queries_were_found():
    assert {"upsert_signups", "lock_token", "claim_unrelayed_outbox", "lock_outbox_mail"} <= set(
        NAMES
    )


@pytest.mark.parametrize("given", ["connection", "pooled connection", "pool"])
async def test_each_kind_of_query_runs_on_what_it_is_given(migrated, given):
    """Our adapter runs a query on the connection it is given, and takes one from a pool (and
    gives it back: the pool below has one, so a query that kept it would hang the next)."""
    q = queries()
    pool = await asyncpg.create_pool(migrated, min_size=1, max_size=1)
    plain = await asyncpg.connect(migrated)
    try:
        versions = [r["version"] for r in await plain.fetch(queries().applied_migrations.sql)]
        async with contextlib.AsyncExitStack() as stack:
            if given == "connection":
                target = plain
            elif given == "pooled connection":
                target = await stack.enter_async_context(pool.acquire())
            else:
                target = pool
            for _ in range(2):
                rows = [r["version"] async for r in q.applied_migrations(target)]
                assert rows == versions and versions
                ages = await asyncio.wait_for(q.waiting_ages(target), 5)
                assert ages["outbox_age"] == 0
                assert await asyncio.wait_for(q.ping(target), 5) == 1
                done = await asyncio.wait_for(q.mark_outbox_sent(target, outbox_id=-1), 5)
                assert done == "UPDATE 0"
        assert pool.get_idle_size() == 1
    finally:
        await plain.close()
        await pool.close()

"""Every named query must prepare against the real schema: a typo fails here, not in production."""

from __future__ import annotations

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

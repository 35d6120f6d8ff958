"""The schema the code needs: /readyz waits for it, a request before it is a clear 503, and
the migration that gives every subscription an opaque unsubscribe id fills existing rows."""

from __future__ import annotations

import logging

import asyncpg
import pytest

from signup_core.migrations import discover, migrate
from tests.integration.test_signup import PROBLEM, address
from tests.support import app_client, inspect


@pytest.fixture
async def unmigrated(pg_server):
    """A database of its own with no schema at all."""
    admin = await asyncpg.connect(pg_server.url)
    await inspect().drop_migrations_test_db(admin)
    await inspect().create_migrations_test_db(admin)
    await admin.close()
    yield pg_server.url.rsplit("/", 1)[0] + "/migrations_test"
    admin = await asyncpg.connect(pg_server.url)
    await inspect().drop_migrations_test_db(admin)
    await admin.close()


async def migrate_to(url: str, migrations=None) -> None:
    conn = await asyncpg.connect(url)
    try:
        await migrate(conn, migrations)
    finally:
        await conn.close()


async def test_readyz_is_not_ready_until_the_schema_is_migrated(env, unmigrated):
    async with app_client({**env, "DATABASE_URL": unmigrated}) as client:
        empty = await client.get("/readyz")
        await migrate_to(unmigrated, discover()[:1])
        behind = await client.get("/readyz")
        await migrate_to(unmigrated)
        ready = await client.get("/readyz")
    for answer in (empty, behind):
        assert answer.status_code == 503
        assert answer.headers["content-type"] == PROBLEM
        assert answer.json()["checks"] == {"postgres": "up", "redis": "up", "schema": "behind"}
        assert "signupctl migrate" in answer.json()["detail"]
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"postgres": "up", "redis": "up", "schema": "current"}


async def test_a_signup_before_migrating_is_a_503_that_the_log_explains(env, unmigrated, caplog):
    caplog.set_level(logging.INFO)
    async with app_client({**env, "DATABASE_URL": unmigrated}) as client:
        as_json = await client.post("/signup", json={"email": address()})
        as_form = await client.post("/signup", data={"email": address()})
    assert as_json.status_code == 503 and as_json.headers["retry-after"]
    assert as_json.headers["content-type"] == PROBLEM
    assert as_form.status_code == 303
    assert as_form.headers["location"] == "/oops?reason=unavailable"
    logged = [r.getMessage() for r in caplog.records if r.name.startswith("signup")]
    assert any("signupctl migrate" in line for line in logged), logged


async def test_existing_subscriptions_get_distinct_unsubscribe_ids(unmigrated):
    before = [m for m in discover() if m.version < "0004"]
    await migrate_to(unmigrated, before)
    conn = await asyncpg.connect(unmigrated)
    try:
        # Rows as the schema before 0004 holds them (today's queries need later migrations)
        for n in range(3):
            await conn.execute(
                "INSERT INTO subscriptions (list_name, email_index, email_sealed, locale,"
                " consent_form_version) VALUES ('newsletter', $1, 'sealed', 'en', '1')",
                bytes([n]) * 32,
            )
        await migrate(conn)
        ids = [r["unsubscribe_id"] async for r in inspect().unsubscribe_ids(conn)]
    finally:
        await conn.close()
    assert len(ids) == 3 and None not in ids and len(set(ids)) == 3

"""The migration runner: idempotent, safe under concurrency, refuses edited history."""

from __future__ import annotations

import asyncio
import shutil

import asyncpg
import pytest

from signup_core.migrations import MigrationError, discover, migrate
from tests.support import inspect


@pytest.fixture
async def scratch_db(pg_server):
    """A database of its own, so dropping the schema does not disturb other tests."""
    admin = await asyncpg.connect(pg_server.url)
    await inspect().drop_migrations_test_db(admin)
    await inspect().create_migrations_test_db(admin)
    await admin.close()
    url = pg_server.url.rsplit("/", 1)[0] + "/migrations_test"
    yield url
    admin = await asyncpg.connect(pg_server.url)
    await inspect().drop_migrations_test_db(admin)
    await admin.close()


async def test_second_run_applies_nothing(scratch_db):
    conn = await asyncpg.connect(scratch_db)
    try:
        first = await migrate(conn)
        second = await migrate(conn)
    finally:
        await conn.close()
    assert first == [m.version for m in discover()]
    assert second == []


async def test_concurrent_runners_apply_each_file_once(scratch_db):
    conns = [await asyncpg.connect(scratch_db) for _ in range(4)]
    try:
        results = await asyncio.gather(*(migrate(c) for c in conns))
        rows = [r async for r in inspect().schema_migration_rows(conns[0])]
    finally:
        for c in conns:
            await c.close()
    applied = sorted(v for result in results for v in result)
    assert applied == sorted(m.version for m in discover())
    assert [r["version"] for r in rows] == [m.version for m in discover()]


async def test_changed_file_is_refused(scratch_db, tmp_path):
    folder = tmp_path / "migrations"
    shutil.copytree(discover()[0].path.parent, folder)
    conn = await asyncpg.connect(scratch_db)
    try:
        await migrate(conn, discover(folder))
        first = discover(folder)[0]
        first.path.write_text(first.sql + "\n-- edited after the fact\n")
        with pytest.raises(MigrationError, match="changed after it was applied"):
            await migrate(conn, discover(folder))
    finally:
        await conn.close()


async def test_new_file_is_applied_after_the_old_ones(scratch_db, tmp_path):
    folder = tmp_path / "migrations"
    shutil.copytree(discover()[0].path.parent, folder)
    conn = await asyncpg.connect(scratch_db)
    try:
        await migrate(conn, discover(folder))
        (folder / "9999_extra.sql").write_text("CREATE TABLE extra (id int);")
        assert await migrate(conn, discover(folder)) == ["9999_extra"]
    finally:
        await conn.close()

"""The API, the worker and signupctl through PgBouncer in transaction pooling (Debian's 1.18,
which keeps no prepared statement across server connections): DATABASE_POOL_MODE=transaction.

The full flow, the purge loop of two workers, a blind-index key rotation and signupctl's
commands, on a database of their own behind a pooler of a few server connections handed out
round robin. Skipped when pgbouncer is missing (`make pgbouncer` installs it as root); never
when CI is set.
"""

from __future__ import annotations

import asyncio
import csv
import io
import os
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import aiosql
import asyncpg
import pytest

from devstack import redis
from devstack.processes import free_port
from signup_core import db as core_db
from signup_core import retention
from signup_core.clock import Clock, FixedClock
from signup_core.settings import load_settings
from tests.conftest import Worker
from tests.integration.test_blind_index_rotation import filed, new, old, rotating
from tests.integration.test_retention import DAY, _world
from tests.privacy_support import privacy, signupctl
from tests.support import (
    app_client,
    app_env,
    create_database,
    empty_tables,
    eventually,
    mailed_token,
    migrated_database,
    store_signup,
)

KINDS = tuple(name for name, *_ in retention.KINDS)


@cache
def looks() -> Any:
    return aiosql.from_path(Path(__file__).parents[1] / "fixtures" / "data_tier.sql", "asyncpg")


@dataclass
class Pooled:
    direct: str  # the database itself, for the test's own looks
    url: str  # the same database through PgBouncer
    bouncer: object
    redis: redis.Redis
    smtp_port: int

    def env(self, **overrides: str) -> dict[str, str]:
        return app_env(
            self.url,
            self.redis.url,
            self.smtp_port,
            DATABASE_POOL_MODE="transaction",
            SIGNUP_DB_POOL_MAX="6",
            **overrides,
        )


@pytest.fixture(scope="module")
def pooled(pg_server, smtp_server, scratch) -> Iterator[Pooled]:
    from devstack import pgbouncer

    if pgbouncer.executable() is None:
        if os.environ.get("CI"):
            pytest.fail("pgbouncer is missing in CI: `make pgbouncer` installs it (as root)")
        pytest.skip("pgbouncer is not installed; `make pgbouncer` (as root) installs it")
    bouncer = pgbouncer.start(pg_server.port, free_port(), scratch / "pgbouncer", pool_size=3)
    direct = asyncio.run(migrated_database(pg_server.url, "bouncer"))
    # Its own Valkey: the session worker, on the shared one, would take this database's mail.
    server = redis.start(free_port())
    try:
        yield Pooled(direct, bouncer.url(direct.rsplit("/", 1)[1]), bouncer, server, 0)
    finally:
        server.stop()
        bouncer.stop()


@pytest.fixture
async def conn(pooled, smtp_server) -> AsyncIterator[asyncpg.Connection]:
    """A direct connection to the pooled database, its tables and Valkey emptied."""
    import redis.asyncio as aioredis

    pooled.smtp_port = smtp_server.port
    c = await asyncpg.connect(pooled.direct)
    await empty_tables(c)
    client = aioredis.Redis.from_url(pooled.redis.url)
    await client.flushdb()
    await client.aclose()
    smtp_server.clear()
    yield c
    await c.close()


async def test_the_pooler_really_pools_by_transaction(pooled, conn):
    """The fixture's own check: asyncpg's statement cache (the session pool mode) breaks here,
    so the tests below would catch a connection that kept it. One client prepares a statement
    on a server connection; another then holds that connection in a transaction, so the first
    client's next use of its cached statement goes to a server connection that never saw it."""
    first, second = [await core_db.connect(pooled.url, "session") for _ in range(2)]
    try:
        assert await first.fetchval("SELECT $1::int", 1) == 1
        async with second.transaction():
            await second.fetchval("SELECT pg_backend_pid()")
            with pytest.raises(asyncpg.PostgresError):
                await first.fetchval("SELECT $1::int", 2)
    finally:
        await first.close()
        await second.close()


async def test_signups_are_mailed_once_and_confirmed_through_the_pooler(
    pooled, conn, smtp_server, scratch
):
    worker = Worker(pooled.env(), scratch / f"worker-bouncer-{uuid.uuid4().hex[:6]}.log")
    try:
        worker.wait_ready()
        emails = [f"pooled-{n}-{uuid.uuid4().hex[:6]}@example.com" for n in range(40)]
        async with app_client(pooled.env()) as client:
            # Given 40 signups at once, through the pooler's three server connections
            answers = await asyncio.gather(
                *(client.post("/signup", json={"email": e}) for e in emails)
            )
            assert [a.status_code for a in answers] == [202] * 40, answers[0].text
            # Then each is mailed, once
            smtp_server.wait_for(lambda m: any(e in str(m["To"]) for e in emails), timeout=30)
            await eventually(lambda: len(smtp_server.messages) >= 40, timeout=30)
            await asyncio.sleep(1)  # long enough for a second copy to show
            sent = Counter(str(m["To"]) for m in smtp_server.messages)
            assert sorted(sent.values()) == [1] * 40
            # And a confirmation link works, and the welcome mail follows
            _, token = await mailed_token(smtp_server, conn, emails[0], timeout=30)
            confirmed = await client.post("/confirm", data={"token": token})
            assert confirmed.status_code == 200, confirmed.text
        smtp_server.wait_for(
            lambda m: emails[0] in str(m["To"]) and "Welcome" in str(m["Subject"]), timeout=30
        )
        assert "DuplicatePreparedStatement" not in worker.log()
        assert "InvalidSQLStatementName" not in worker.log()
    finally:
        worker.stop()


async def test_two_workers_purge_one_at_a_time_and_leave_nothing_held(pooled, conn):
    from signup_worker.purge import purge_once
    from signup_worker.resources import Opened

    await _world(conn)
    await privacy().age_rows(conn, seconds=float(40 * DAY))
    settings = load_settings(pooled.env(SIGNUP_PURGE_BATCH="1"))
    pools = [await core_db.create_pool(settings, max_size=2) for _ in range(2)]
    first, second = (Opened(settings, p, None, None) for p in pools)  # type: ignore[arg-type]
    clock = FixedClock(Clock().now())
    try:
        # Given the first worker's purge held up by a token row another transaction has locked
        async with conn.transaction():
            await looks().lock_tokens(conn)
            running = asyncio.create_task(purge_once(first, clock))
            await eventually(lambda: looks().lock_waiters(conn), timeout=10)
            # When the second worker's loop comes round, it leaves the purge to the first
            assert await purge_once(second, clock) is None
            assert not running.done()
        # Then the first finishes the lot
        done = {"pending": 1, "tokens": 1, "outbox": 1, "events": 1}
        assert await running == {**dict.fromkeys(KINDS, 0), **done}
        # And nothing is held once it is done: the next pass, by either worker, runs
        for res in (second, first, second):
            assert await purge_once(res, clock) == dict.fromkeys(KINDS, 0)
        assert [r async for r in looks().advisory_locks(conn)] == []
        assert await looks().lease_count(conn) == 0
    finally:
        for p in pools:
            await p.close()


async def test_blind_index_rotation_through_the_pooler(pooled, conn):
    emails = [f"rot-{n}-{uuid.uuid4().hex[:6]}@example.com" for n in range(7)]
    for email in emails:
        await store_signup(conn, email)
    done = signupctl(rotating(pooled.env()), "rotate-blind-index", "--batch", "2")
    assert done.returncode == 0, done.stderr
    assert "refiled 7 subscription(s)" in done.stderr
    for email in emails:
        assert await filed(conn, new(email)) == {"subscriptions": 1, "suppressions": 0, "events": 0}
        assert await filed(conn, old(email)) == {"subscriptions": 0, "suppressions": 0, "events": 0}
    check = signupctl(rotating(pooled.env()), "rotate-blind-index", "--check")
    assert check.returncode == 0, check.stderr


async def test_signupctl_stats_export_and_migrate_through_the_pooler(pooled, conn, pg_server):
    emails = [f"ctl-{n}-{uuid.uuid4().hex[:6]}@example.com" for n in range(3)]
    for email in emails:
        await store_signup(conn, email, name="Ada")
    await looks().confirm_all(conn)
    env = pooled.env()
    stats = signupctl(env, "stats")
    assert stats.returncode == 0, stats.stderr
    assert "newsletter: 3 confirmed, 0 pending" in stats.stdout
    export = signupctl(env, "export")
    assert export.returncode == 0, export.stderr
    rows = list(csv.reader(io.StringIO(export.stdout)))[1:]
    assert sorted(row[0] for row in rows) == sorted(emails)
    # migrate through the pooler itself (transaction-scoped migration lock), on an empty database
    empty = await create_database(pg_server.url, "bouncer_empty")
    through = pooled.bouncer.url(empty.rsplit("/", 1)[1])  # type: ignore[attr-defined]
    done = signupctl({"DATABASE_URL": through, "DATABASE_POOL_MODE": "transaction"}, "migrate")
    assert done.returncode == 0, done.stderr
    assert "applied" in done.stderr and "0022_leases" in done.stderr
    # and with DATABASE_MIGRATE_URL, straight to the server: the pooled database is not touched
    direct = await create_database(pg_server.url, "bouncer_direct")
    aside = await create_database(pg_server.url, "bouncer_aside")
    pooled_aside = pooled.bouncer.url(aside.rsplit("/", 1)[1])  # type: ignore[attr-defined]
    done = signupctl(
        {**env, "DATABASE_URL": pooled_aside, "DATABASE_MIGRATE_URL": direct}, "migrate"
    )
    assert done.returncode == 0, done.stderr
    for url, migrated in ((direct, True), (aside, False)):
        c = await asyncpg.connect(url)
        try:
            assert bool(await looks().has_migrations_table(c)) is migrated
        finally:
            await c.close()


async def test_signupctl_import_through_the_pooler(pooled, conn, tmp_path):
    # Each batch is COPYed into a temporary table that lives only in its transaction: three
    # batches, on two connections at once, through transaction pooling; then the same file again
    from tests.integration.test_import import SOURCE, listmonk_csv

    path = tmp_path / "pooled.csv"
    listmonk_csv(path, 25_000, f"pb{uuid.uuid4().hex[:6]}")
    args = ["import", str(path), "--confirmed", "--columns", "listmonk", "--source", SOURCE]
    done = signupctl(pooled.env(), *args)
    assert done.returncode == 0, done.stderr
    assert "imported 25000 of 25000 row(s)" in done.stderr
    again = signupctl(pooled.env(), *args)
    assert again.returncode == 0 and "25000 from an earlier run" in again.stderr, again.stderr
    assert await conn.fetchval("SELECT count(*) FROM subscriptions WHERE status = 'confirmed'") == (
        25_000
    )

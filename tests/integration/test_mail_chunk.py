"""A chunk's rows share one database connection, one row at a time, and a row whose
connection dies gives it up: the rows after it are sent on a fresh one. Real PostgreSQL and a
real SMTP catcher; the rows are stored already relayed, so the session worker leaves them."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from signup_core import db as core_db
from signup_core.mail.smtp_transport import SmtpTransport
from signup_core.settings import load_settings
from signup_worker import mailer
from signup_worker.resources import Opened
from tests.integration.test_flow import to
from tests.integration.test_signup import index, outbox
from tests.support import inspect, store_signup


@pytest.fixture
async def chunk_rows(env, db):
    """Three confirmations due, and the mailer's resources on a pool of its own."""
    settings = load_settings(env)
    emails = [f"chunk-{uuid.uuid4().hex[:10]}@example.com" for _ in range(3)]
    ids = []
    async with db.transaction():
        for email in emails:
            ids.append((await store_signup(db, email))["outbox_id"])
            await inspect().mark_relayed(db, email_index=index(email))
    pool = await core_db.create_pool(settings, max_size=3)
    transport = SmtpTransport(settings)
    yield Opened(settings, pool, transport, None), ids, emails
    await transport.close()
    await pool.close()


async def _backend(conn: asyncpg.Connection) -> int:
    return await conn.fetchval("SELECT pg_backend_pid()")


async def test_a_chunk_sends_its_rows_on_one_connection(chunk_rows, db, smtp_server):
    opened, ids, emails = chunk_rows
    chunk = mailer.Chunk(opened)
    backends = set()
    try:
        for outbox_id in ids:
            assert await chunk.deliver(opened, outbox_id) == "sent"
            async with chunk._connection() as conn:
                backends.add(await _backend(conn))
    finally:
        await chunk.close()
    assert len(backends) == 1
    for email in emails:
        smtp_server.wait_for(to(email), timeout=10)
        assert (await outbox(db, email))[0]["sent_at"] is not None
    # Given back at the end: the pool has all its connections to lend again.
    assert opened.pool.get_idle_size() == opened.pool.get_size()


async def test_a_row_whose_connection_died_leaves_the_next_rows_a_fresh_one(
    chunk_rows, db, smtp_server
):
    opened, ids, emails = chunk_rows
    chunk = mailer.Chunk(opened)
    try:
        assert await chunk.deliver(opened, ids[0]) == "sent"
        async with chunk._connection() as conn:
            first = await _backend(conn)
        # When the chunk's connection is cut between two rows
        assert await db.fetchval("SELECT pg_terminate_backend($1)", first)
        # Then the next row fails as an outage (its message is retried) and gives the
        # connection up; the row after it goes out on a new one
        with pytest.raises(core_db.UNAVAILABLE):
            await chunk.deliver(opened, ids[1])
        assert await chunk.deliver(opened, ids[2]) == "sent"
        async with chunk._connection() as conn:
            assert await _backend(conn) != first
        assert await chunk.deliver(opened, ids[1]) == "sent"  # the retry
    finally:
        await chunk.close()
    for email in emails:
        [mail] = smtp_server.wait_for(to(email), timeout=10)
        assert mail is not None

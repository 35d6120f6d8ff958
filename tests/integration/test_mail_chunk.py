"""A chunk's rows share one database connection, one row at a time; a row that raises gives
it back, and a connection closed between rows is replaced. Real PostgreSQL and a
real SMTP catcher; the rows are stored already relayed, so the session worker leaves them."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from signup_core import db as core_db
from signup_core.mail.failures import TransientMailError
from signup_core.mail.smtp_transport import SmtpTransport
from signup_core.settings import load_settings
from signup_worker import mailer
from signup_worker.resources import Opened
from tests.integration.test_flow import to
from tests.integration.test_signup import index, outbox
from tests.support import eventually, inspect, store_signup


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


def _lent(pool: asyncpg.Pool) -> int:
    """Connections of the pool not idle in it: held by someone."""
    return pool.get_size() - pool.get_idle_size()


async def test_a_chunk_holds_one_connection_from_row_to_row(chunk_rows, db, smtp_server):
    opened, ids, emails = chunk_rows
    chunk = mailer.Chunk()
    lent = []
    try:
        for outbox_id in ids:
            assert await chunk.deliver(opened, outbox_id) == "sent"
            lent.append(_lent(opened.pool))
    finally:
        await chunk.close()
    # Held between rows (given back after each, the pool would have it idle), one at a time
    assert lent == [1, 1, 1]
    assert _lent(opened.pool) == 0  # and given back at the end
    for email in emails:
        smtp_server.wait_for(to(email), timeout=10)
        assert (await outbox(db, email))[0]["sent_at"] is not None


async def test_a_row_that_raises_gives_the_connection_back(chunk_rows, db, smtp_server):
    opened, ids, emails = chunk_rows
    chunk = mailer.Chunk()
    try:
        # When the relay defers the first row's mail
        smtp_server.next_replies = ["451 4.3.0 try again later"]
        with pytest.raises(TransientMailError):
            await chunk.deliver(opened, ids[0])
        # Then its transaction is rolled back and its connection is back in the pool
        assert _lent(opened.pool) == 0
        assert (await outbox(db, emails[0]))[0]["sent_at"] is None
        # And the next rows take a connection again
        assert await chunk.deliver(opened, ids[1]) == "sent"
        assert _lent(opened.pool) == 1
        assert await chunk.deliver(opened, ids[0]) == "sent"  # the retry
    finally:
        await chunk.close()
        smtp_server.next_replies = []


async def test_a_connection_closed_between_rows_is_replaced(chunk_rows, db, smtp_server):
    opened, ids, emails = chunk_rows
    chunk = mailer.Chunk()
    try:
        assert await chunk.deliver(opened, ids[0]) == "sent"
        async with chunk._connection() as conn:
            first = await _backend(conn)
        # When the chunk's connection is cut between two rows (asyncpg gives a lost connection
        # back to the pool by itself)
        assert await db.fetchval("SELECT pg_terminate_backend($1, 5000)", first)
        await eventually(lambda: opened.pool.get_idle_size() == opened.pool.get_size(), 5, 0.02)
        # Then the next rows go out on a new one, as from the pool
        for outbox_id in ids[1:]:
            assert await chunk.deliver(opened, outbox_id) == "sent"
        async with chunk._connection() as conn:
            assert await _backend(conn) != first
    finally:
        await chunk.close()
    for email in emails:
        [mail] = smtp_server.wait_for(to(email), timeout=10)
        assert mail is not None

"""A mail handed to the mail server while the database connection holding its sent mark dies:
the worker records it once PostgreSQL answers, and never sends it twice. Real worker, real
PostgreSQL (the connection is cut with pg_terminate_backend), a slow SMTP catcher."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import asyncpg
import pytest

from devstack import mailcatcher
from devstack.processes import free_port
from tests.conftest import Worker
from tests.integration.test_drills import SlowCatcher
from tests.support import app_client, app_env, eventually, migrated_database

# Long enough to find the sender's connection and cut it while the mail is being handed over.
SMTP_DELAY = 2.0


class SlowerCatcher(SlowCatcher):
    receiving = 0  # mails whose DATA has begun

    async def handle_DATA(self, server, session, envelope) -> str:
        self.receiving += 1
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def slow_smtp() -> Iterator[SlowCatcher]:
    catcher = SlowerCatcher()
    catcher.delay = SMTP_DELAY
    catcher.port = free_port()
    controller = mailcatcher.start(catcher.port, catcher)
    yield catcher
    controller.stop()


async def _sender_backend(conn: asyncpg.Connection, database: str) -> int:
    """The backend of the worker's sending transaction: idle in it, its last statement the
    outbox row lock (lock_outbox_mail) or the sender's own suppression check that follows it
    (check_mail_address), while the mail server takes the message."""

    async def find() -> int | None:
        return await conn.fetchval(
            "SELECT pid FROM pg_stat_activity WHERE datname = $1 "
            "AND state = 'idle in transaction' "
            "AND (query LIKE '%FOR UPDATE OF o%' OR query LIKE '%AS suppressed%') LIMIT 1",
            database,
        )

    return await eventually(find, timeout=15, interval=0.02)


async def test_a_confirmation_whose_sent_mark_was_cut_off_is_mailed_once_and_works(
    pg_server, redis_server, slow_smtp, scratch
):
    url = await migrated_database(pg_server.url, "fate")
    env = app_env(url, redis_server.url, slow_smtp.port, SIGNUP_MAIL_MAX_RETRIES="5")
    # (its own Redis database: the session worker must not take this database's messages)
    env["REDIS_URL"] = redis_server.url.rsplit("/", 1)[0] + "/7"
    worker = Worker(env, scratch / f"worker-fate-{uuid.uuid4().hex[:6]}.log")
    db = await asyncpg.connect(url)
    try:
        worker.wait_ready()
        email = f"fate-{uuid.uuid4().hex[:10]}@example.com"
        async with app_client(env) as client:
            # Given a signup whose confirmation the worker is handing to a slow mail server
            assert (await client.post("/signup", json={"email": email})).status_code == 202
            await eventually(lambda: slow_smtp.receiving, timeout=15, interval=0.02)
            pid = await _sender_backend(db, url.rsplit("/", 1)[1])
            # When its database connection dies before the sent mark commits
            assert await db.fetchval("SELECT pg_terminate_backend($1)", pid)
            # Then the mail arrives once, its row is marked sent, and no second one follows
            [mail] = slow_smtp.wait_for(lambda m: email in str(m["To"]), timeout=30)
            await eventually(
                lambda: db.fetchval("SELECT bool_and(sent_at IS NOT NULL) FROM outbox"), 30
            )
            await asyncio.sleep(SMTP_DELAY * 3)  # time for a second send, if one were coming
            assert len([m for m in slow_smtp.messages if email in str(m["To"])]) == 1
            # And the link it carries works: the token's hash was recorded with the mark
            text = mail.get_body(preferencelist=("plain",)).get_content()
            token = text.split("/confirm?token=", 1)[1].split()[0]
            answer = await client.post("/confirm", data={"token": token})
            assert answer.status_code == 200
            assert await db.fetchval("SELECT status::text FROM subscriptions") == "confirmed"
        assert "mail sent but not recorded; recording again" in worker.log()
    finally:
        worker.stop()
        await db.close()

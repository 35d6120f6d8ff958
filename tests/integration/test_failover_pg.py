"""PostgreSQL switchover: a DATABASE_URL naming two hosts with target_session_attrs=read-write,
the primary stopped and its streaming replica promoted under 30 signups a second. Nothing
accepted is lost, no mail goes twice, the API answers 503 + Retry-After meanwhile and is back on
the new primary within 10 s without a restart, also once the former primary is back as a
read-only standby. The drill is marked `failover` (SKIP_FAILOVER=1 skips it outside CI).

And the mail that was sent just before the database went away: only its record is redone.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections import Counter

import asyncpg
import httpx
import pytest

from devstack import mailcatcher
from devstack import redis as valkey
from devstack.processes import free_port
from signup_core import db as core_db
from signup_core.mail.transports import make_transport
from signup_core.settings import load_settings
from tests.conftest import Worker
from tests.failover_support import (
    asgi_client,
    drive,
    keep_log,
    promote,
    restart_as_standby,
    skip_unless_drills,
    start_pg_pair,
    tally,
)
from tests.support import app_env, eventually, inspect, migrated_database, store_signup

RATE, SECONDS, SWITCH_AT, BACK_AT = 30, 60, 20, 35


class CutsTheSender(mailcatcher.Catcher):
    """Takes the first mail, and before answering it cuts the sending transaction's database
    connection: the mail is out, the transaction that would record it is gone."""

    def __init__(self, database_url: str) -> None:
        super().__init__()
        self.database_url = database_url
        self.cut = 0

    async def handle_DATA(self, server, session, envelope) -> str:
        if not self.cut:
            conn = await asyncpg.connect(self.database_url)
            try:
                self.cut = await inspect().cut_idle_in_transaction(conn)
            finally:
                await conn.close()
        return await super().handle_DATA(server, session, envelope)


async def test_a_mail_sent_before_its_transaction_was_lost_is_recorded_not_resent(
    pg_server, redis_server
):
    from signup_worker import mailer
    from signup_worker.resources import Opened

    url = await migrated_database(pg_server.url, "recording")
    catcher = CutsTheSender(url)
    catcher.port = free_port()
    controller = mailcatcher.start(catcher.port, catcher)
    settings = load_settings(app_env(url, redis_server.url, catcher.port))
    conn = await asyncpg.connect(url)
    pool = await core_db.create_pool(settings, max_size=2)
    http = httpx.AsyncClient()
    transport = make_transport(settings, http)
    try:
        row = await store_signup(conn, f"cut-{uuid.uuid4().hex[:6]}@example.com")
        res = Opened(settings, pool, transport, http)
        # When the connection of the transaction that sent the mail is cut before its commit
        assert await mailer.deliver(res, row["outbox_id"]) == "sent"
        assert catcher.cut == 1
        # Then the mail counts as sent, with its token, and the message's retry sends nothing
        assert await mailer.deliver(res, row["outbox_id"]) == "done-before"
        assert len(catcher.messages) == 1
        assert (await inspect().outbox_row(conn, outbox_id=row["outbox_id"]))["sent_at"]
        assert await inspect().count_tokens_of(conn, outbox_id=row["outbox_id"]) == 1
    finally:
        await transport.close()
        await http.aclose()
        await pool.close()
        await conn.close()
        controller.stop()


@pytest.mark.failover
async def test_switchover_under_load_loses_nothing_and_mails_once(scratch):
    skip_unless_drills()
    from signup_api.app import create_app

    folder = scratch / f"switchover-{uuid.uuid4().hex[:6]}"
    folder.mkdir()
    folder.chmod(0o755)
    pair = start_pg_pair(folder)
    servers = [pair.primary, pair.standby]
    redis = valkey.start(free_port())
    catcher = mailcatcher.Catcher()
    catcher.port = free_port()
    controller = mailcatcher.start(catcher.port, catcher)
    name = (await migrated_database(pair.primary.url, "switchover")).rsplit("/", 1)[1]
    env = app_env(
        pair.url(name),
        redis.url,
        catcher.port,
        SIGNUP_RATE_LIMIT_IP="100000/minute",
        SIGNUP_RATE_LIMIT_NETWORK="100000/minute",
        SIGNUP_MAIL_MAX_RETRIES="20",
        SIGNUP_WORKER_THREADS="8",
        SIGNUP_RELAY_CHECK_AFTER="5",
    )
    worker = Worker(env, folder / "worker.log")
    app = create_app(load_settings(env))
    moments: dict[str, float] = {}
    loop_start = [0.0]

    def switch() -> None:
        """Stop the primary (fast shutdown: clients cut, all WAL sent), promote the replica;
        later start the former primary again as a standby of the new one."""
        moments["stopped"] = time.monotonic() - loop_start[0]
        pair.primary.stop(fast=True)
        promote(pair.standby.datadir)
        moments["promoted"] = time.monotonic() - loop_start[0]
        time.sleep(max(0.0, BACK_AT - (time.monotonic() - loop_start[0])))
        servers.append(
            restart_as_standby(
                pair.primary.datadir, pair.primary.port, pair.standby.port, folder / "pg-a2.log"
            )
        )
        moments["back"] = time.monotonic() - loop_start[0]

    try:
        worker.wait_ready()
        async with app.router.lifespan_context(app), asgi_client(app) as client:
            loop_start[0] = time.monotonic()
            thread = threading.Thread(target=switch, daemon=True)
            answers = await drive(client, RATE, SECONDS, SWITCH_AT, thread.start)
            thread.join(30)
        loaded = time.monotonic()
        accepted = {a.email for a in answers if a.status == 202}
        await eventually(
            lambda: accepted <= {str(m["To"]) for m in catcher.messages}, timeout=60, interval=0.5
        )
        drained = time.monotonic() - loaded
        await asyncio.sleep(3)  # long enough for a second copy to show
        figures = tally(answers, Counter(str(m["To"]) for m in catcher.messages))
        stopped = moments["stopped"]
        # Until the last refused answer: after it, every signup was accepted again
        refused = [a.done for a in answers if a.status != 202]
        figures.recovered_s = round(max(max(refused, default=stopped) - stopped, 0.0), 2)
        figures.drained_s = round(drained, 1)
        figures.record("postgres-switchover")
        print(f"DRILL moments: {moments}")
        assert figures.accepted > 0.8 * RATE * SECONDS
        assert (figures.lost, figures.twice) == (0, 0)
        assert set(figures.errors) <= {"503"}, figures.errors
        assert all(a.retry_after for a in answers if a.status in (429, 503))
        # Back on the new primary within 10 s, and still once the former one is a standby
        assert figures.recovered_s < 10
        assert all(a.status == 202 for a in answers if a.at > moments["stopped"] + 10)
        assert "back" in moments
    finally:
        worker.stop()
        keep_log(folder / "worker.log", "switchover-worker.log")
        controller.stop()
        redis.stop()
        for server in servers:
            server.stop(fast=True)

"""PostgreSQL or Redis going away: /readyz says so, and nothing accepted meanwhile is lost."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from devstack import postgres, redis
from devstack.processes import free_port
from signup_api.ratelimit import REDIS_TIMEOUT
from signup_core.clock import FixedClock
from signup_core.migrations import migrate
from tests import providers as p
from tests.conftest import Worker
from tests.integration.test_flow import to
from tests.integration.test_signup import outbox
from tests.support import app_client, app_env, eventually, migrated_database


@pytest.fixture
def own_redis():
    server = redis.start(free_port())
    yield server
    server.stop()


async def _migrate(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await migrate(conn)
    finally:
        await conn.close()


@pytest.fixture
def own_postgres(scratch, migrated):
    datadir = scratch / f"pg-{uuid.uuid4().hex[:6]}" / "data"
    server = postgres.start(datadir, free_port(), durable=False)
    yield server
    server.stop(fast=False)


def restart(server) -> None:
    if isinstance(server, redis.Redis):
        server.process = redis.start(server.port).process
    else:
        server.process = postgres.start(server.datadir, server.port, durable=False).process


@pytest.mark.parametrize(
    ("dependency", "variable", "fixture"),
    [("postgres", "DATABASE_URL", "own_postgres"), ("redis", "REDIS_URL", "own_redis")],
)
async def test_readyz_follows_a_dependency_down_and_back(
    env, request, dependency, variable, fixture
):
    server = request.getfixturevalue(fixture)
    if dependency == "postgres":
        await _migrate(server.url)  # /readyz says "not ready" on an unmigrated schema
    async with app_client({**env, variable: server.url}) as client:
        assert (await client.get("/readyz")).status_code == 200
        server.stop()
        response = await client.get("/readyz")
        assert response.status_code == 503
        checks = {"postgres": "up", "redis": "up", "schema": "current", dependency: "down"}
        assert response.json()["checks"] == checks
        assert (await client.get("/healthz")).status_code == 200
        restart(server)
        await eventually(lambda: _is_ready(client), timeout=10)


async def _is_ready(client) -> bool:
    return (await client.get("/readyz")).status_code == 200


@pytest.fixture
async def own_database(pg_server) -> AsyncIterator[tuple[str, asyncpg.Connection]]:
    """A migrated database of the test's own: the session worker never takes its rows."""
    url = await migrated_database(pg_server.url, "outage")
    conn = await asyncpg.connect(url)
    yield url, conn
    await conn.close()


async def test_signup_while_redis_is_down_is_mailed_exactly_once_when_it_is_back(
    own_database, own_redis, smtp_server, scratch
):
    url, db = own_database
    env = app_env(url, own_redis.url, smtp_server.port)
    worker = Worker(env, scratch / f"worker-{uuid.uuid4().hex[:6]}.log")
    try:
        worker.wait_ready()
        async with app_client(env) as client:
            # Given Redis is down, a signup is still accepted: it is in PostgreSQL
            own_redis.stop()
            email = f"outage-{uuid.uuid4().hex[:10]}@example.com"
            assert (await client.post("/signup", json={"email": email})).status_code == 202
            await asyncio.sleep(1.0)  # ten relay polls, each failing to enqueue
            [row] = await outbox(db, email)
            assert row["relayed_at"] is None and row["sent_at"] is None

            # When Redis comes back, the relay's next poll sends it
            restart(own_redis)
            smtp_server.wait_for(to(email), timeout=30)

            # Then exactly once, even after many more polls
            await eventually(lambda: _all_sent(db, email))
            await asyncio.sleep(1.5)
            assert len([m for m in smtp_server.messages if to(email)(m)]) == 1
    finally:
        worker.stop()


async def _all_sent(db, email) -> bool:
    rows = await outbox(db, email)
    return bool(rows) and all(r["sent_at"] is not None for r in rows)


@pytest.fixture
def hung_redis(own_redis):
    """A Redis that accepts connections and never answers: stopped, not gone."""
    yield own_redis
    own_redis.process.send_signal(signal.SIGCONT)


async def test_a_hung_redis_costs_a_signup_a_second_not_the_signup(env, db, hung_redis):
    async with app_client({**env, "REDIS_URL": hung_redis.url}) as client:
        # A first signup opens the pooled connection while Redis still answers
        assert (await client.post("/signup", json={"email": _address()})).status_code == 202
        hung_redis.process.send_signal(signal.SIGSTOP)
        email = _address()
        started = time.monotonic()
        # (wait_for: a missing bound fails this test instead of hanging the suite)
        response = await asyncio.wait_for(client.post("/signup", json={"email": email}), 5)
        waited = time.monotonic() - started
        assert response.status_code == 202
        assert len(await outbox(db, email)) == 1
        # Bounded by REDIS_TIMEOUT; without a bound it would wait on the socket for minutes.
        assert REDIS_TIMEOUT <= waited < 3


async def test_a_hung_redis_makes_a_mailgun_webhook_503_not_a_hang(env, db, hung_redis):
    settings = {**env, "REDIS_URL": hung_redis.url, "SIGNUP_MAILGUN_SIGNING_KEY": p.MAILGUN_KEY}
    async with app_client(settings, clock=FixedClock(p.NOW)) as client:
        assert (await client.get("/readyz")).status_code == 200
        hung_redis.process.send_signal(signal.SIGSTOP)
        event = {"event": "delivered", "recipient": _address(), "id": "mg-hung"}
        body = p.mailgun({**event, "timestamp": p.NOW.timestamp()}, token=uuid.uuid4().hex)
        started = time.monotonic()
        response = await asyncio.wait_for(client.post("/webhooks/mailgun", json=body), 5)
        assert time.monotonic() - started < 3
        # The provider retries a 503; nothing was stored, so nothing is lost.
        assert response.status_code == 503
        assert response.headers["content-type"] == "application/problem+json"


def _address() -> str:
    return f"hung-{uuid.uuid4().hex[:10]}@example.com"


@pytest.mark.parametrize("dependency", ["postgres", "redis"])
async def test_readyz_answers_not_ready_within_its_timeout_while_a_dependency_hangs(
    env, request, dependency
):
    from signup_api.health import CHECK_TIMEOUT

    server = request.getfixturevalue(f"own_{dependency}")
    if dependency == "postgres":
        await _migrate(server.url)
    variable = "DATABASE_URL" if dependency == "postgres" else "REDIS_URL"
    async with app_client({**env, variable: server.url}) as client:
        # Given a ready API, its pooled connections open, then the server stops answering
        assert (await client.get("/readyz")).status_code == 200
        _signal(server, signal.SIGSTOP)
        try:
            for _ in range(2):  # the second probe meets whatever the first left behind
                started = time.monotonic()
                response = await asyncio.wait_for(client.get("/readyz"), 10)
                waited = time.monotonic() - started
                # Then not ready, said within the probe's own timeout (plus scheduling slack)
                assert response.status_code == 503
                assert response.json()["checks"][dependency] == "down"
                assert waited < CHECK_TIMEOUT + 1.0, waited
        finally:
            _signal(server, signal.SIGCONT)
        await eventually(lambda: _is_ready(client), timeout=15)


def _signal(server, sig: int) -> None:
    """To the server and its children: PostgreSQL's backends (each in its own process group)
    serve the pool's open connections, so stopping the postmaster alone hangs nothing."""
    top = server.process.pid
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue  # gone meanwhile
            if ppid == top:
                children.append(int(entry.name))
    for pid in [top, *children]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)

"""PostgreSQL or Redis going away: /readyz says so, and nothing accepted meanwhile is lost."""

from __future__ import annotations

import uuid

import httpx
import pytest

from devstack import postgres, redis
from devstack.processes import free_port
from signup_api.app import create_app
from signup_core.settings import load_settings
from tests.conftest import Worker
from tests.integration.test_flow import to
from tests.integration.test_signup import outbox
from tests.support import app_env, eventually


@pytest.fixture
def own_redis():
    server = redis.start(free_port())
    yield server
    server.stop()


@pytest.fixture
def own_postgres(scratch, migrated):
    datadir = scratch / f"pg-{uuid.uuid4().hex[:6]}" / "data"
    server = postgres.start(datadir, free_port(), durable=False)
    yield server
    server.stop(fast=False)


async def ready(client: httpx.AsyncClient) -> tuple[int, dict]:
    response = await client.get("/readyz")
    return response.status_code, response.json()


async def test_readyz_follows_postgres_down_and_back(env, own_postgres):
    app = create_app(load_settings({**env, "DATABASE_URL": own_postgres.url}))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        assert (await ready(client))[0] == 200
        own_postgres.stop()
        status, body = await ready(client)
        assert status == 503 and body["checks"] == {"postgres": "down", "redis": "up"}
        assert (await client.get("/healthz")).status_code == 200
        restarted = postgres.start(own_postgres.datadir, own_postgres.port, durable=False)
        own_postgres.process = restarted.process
        await eventually(lambda: _is_ready(client), timeout=10)


async def test_readyz_follows_redis_down_and_back(env, own_redis):
    app = create_app(load_settings({**env, "REDIS_URL": own_redis.url}))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client,
    ):
        assert (await ready(client))[0] == 200
        own_redis.stop()
        status, body = await ready(client)
        assert status == 503 and body["checks"] == {"postgres": "up", "redis": "down"}
        own_redis.process = redis.start(own_redis.port).process
        await eventually(lambda: _is_ready(client), timeout=10)


async def _is_ready(client) -> bool:
    return (await ready(client))[0] == 200


async def test_signup_while_redis_is_down_is_mailed_exactly_once_when_it_is_back(
    migrated, db, own_redis, smtp_server, scratch
):
    env = app_env(migrated, own_redis.url, smtp_server.port, SIGNUP_RELAY_INTERVAL="0.3")
    worker = Worker(env, scratch / f"worker-{uuid.uuid4().hex[:6]}.log")
    try:
        worker.wait_ready()
        app = create_app(load_settings(env))
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://t"
            ) as client,
        ):
            # Given Redis is down, a signup is still accepted: it is in PostgreSQL
            own_redis.stop()
            email = f"outage-{uuid.uuid4().hex[:10]}@example.com"
            assert (await client.post("/signup", json={"email": email})).status_code == 202
            [row] = await outbox(db, email)
            assert row["relayed_at"] is None and row["sent_at"] is None

            # When Redis comes back, the relay sweep sends it
            own_redis.process = redis.start(own_redis.port).process
            smtp_server.wait_for(to(email), timeout=30)

            # Then exactly once, even after several more sweeps
            await eventually(lambda: _all_sent(db, email))
            import asyncio

            await asyncio.sleep(1.5)
            assert len([m for m in smtp_server.messages if to(email)(m)]) == 1
            assert "doorbell not rung" not in worker.log()  # that line is the API's
    finally:
        worker.stop()


async def _all_sent(db, email) -> bool:
    rows = await outbox(db, email)
    return bool(rows) and all(r["sent_at"] is not None for r in rows)

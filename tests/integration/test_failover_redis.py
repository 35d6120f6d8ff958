"""Drill: Redis Sentinel failover under load, with real processes (a Valkey primary, its replica,
three sentinels, a signup-worker) and the API on REDIS_URL=redis+sentinel://...

30 signups a second for 60 s; the primary is SIGKILLed 20 s in and a sentinel promotes the
replica. Every accepted signup is mailed exactly once (the relay re-sends what the failover
lost; the mailer skips what was already sent), and no answer is a 500: the rate limiter fails
open while no primary answers, so signups go on being accepted. 60 s of load: marked `failover`,
skipped with SKIP_FAILOVER=1 outside CI.
"""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from collections import Counter

import pytest

from devstack import mailcatcher
from devstack.processes import free_port
from signup_core import redis_client
from signup_core.settings import load_settings
from tests.conftest import Worker
from tests.failover_support import (
    asgi_client,
    drive,
    keep_log,
    skip_unless_drills,
    start_sentinel_set,
    tally,
)
from tests.support import app_env, eventually, migrated_database

pytestmark = pytest.mark.failover

RATE, SECONDS, KILL_AT = 30, 60, 20


async def test_failover_under_load_mails_every_accepted_signup_once(pg_server, scratch, tmp_path):
    skip_unless_drills()
    from signup_api.app import create_app

    folder = scratch / f"sentinel-{uuid.uuid4().hex[:6]}"
    folder.mkdir()
    servers = start_sentinel_set(folder)
    catcher = mailcatcher.Catcher()
    catcher.port = free_port()
    controller = mailcatcher.start(catcher.port, catcher)
    url = await migrated_database(pg_server.url, "sentinel")
    env = app_env(
        url,
        servers.url,
        catcher.port,
        SIGNUP_RATE_LIMIT_IP="100000/minute",
        SIGNUP_RATE_LIMIT_NETWORK="100000/minute",
        SIGNUP_RELAY_CHECK_AFTER="5",
        SIGNUP_WORKER_HEARTBEAT_TIMEOUT="10",
        SIGNUP_MAIL_MAX_RETRIES="20",
        SIGNUP_WORKER_THREADS="8",
    )
    worker = Worker(env, folder / "worker.log")
    app = create_app(load_settings(env))
    probe = redis_client.async_client(servers.url, socket_timeout=0.5, socket_connect_timeout=0.5)
    killed: list[float] = []
    try:
        worker.wait_ready()

        def kill_primary() -> None:
            servers.primary.process.send_signal(signal.SIGKILL)
            killed.append(time.monotonic())

        async with app.router.lifespan_context(app), asgi_client(app) as client:
            recovery = asyncio.create_task(_first_write_after(probe, killed))
            answers = await drive(client, RATE, SECONDS, KILL_AT, kill_primary)
            recovered = await recovery
        loaded = time.monotonic()
        accepted = {a.email for a in answers if a.status == 202}
        # Every accepted signup's mail arrives (the lost messages after a relay check)
        await eventually(
            lambda: accepted <= {str(m["To"]) for m in catcher.messages}, timeout=90, interval=0.5
        )
        drained = time.monotonic() - loaded
        await asyncio.sleep(3)  # long enough for a second copy to show
        figures = tally(answers, Counter(str(m["To"]) for m in catcher.messages))
        figures.recovered_s = round(recovered - killed[0], 2)
        figures.drained_s = round(drained, 1)
        figures.record("redis-sentinel")
        assert figures.accepted > 0.9 * RATE * SECONDS
        assert (figures.lost, figures.twice) == (0, 0)
        assert figures.mailed_once == figures.accepted
        # No 500, no unanswered request; a 503 says when to come back
        assert set(figures.errors) <= {"503"}, figures.errors
        assert all(a.retry_after for a in answers if a.status in (429, 503))
    finally:
        await probe.aclose()
        worker.stop()
        keep_log(folder / "worker.log", "sentinel-worker.log")
        controller.stop()
        servers.stop()


async def _first_write_after(probe, killed: list[float]) -> float:
    """When a write through Sentinel's primary first works after the kill."""
    while True:
        if killed:
            try:
                await probe.set("drill:probe", "1")
                return time.monotonic()
            except Exception:  # noqa: S110 - the failover is what is being waited out
                pass
        await asyncio.sleep(0.05)

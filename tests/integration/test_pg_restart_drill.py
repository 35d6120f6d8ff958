"""Drill with real processes: PostgreSQL restarted, then stopped for 10 s, three times over,
under about 30 signups a second to a served `signup-api` with a `signup-worker` behind it.
No answer is a 500 (an outage is 503 + Retry-After), every signup answered 202 is mailed, and
none is mailed twice, not even one whose sent mark was lost with its connection.

About a minute and a half. Marked `drill`: SKIP_DRILL=1 skips it outside CI.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections import Counter

import asyncpg
import httpx
import pytest

from devstack import postgres
from devstack.processes import free_port, stop
from signup_core.migrations import migrate
from tests.conftest import Worker
from tests.support import app_env, eventually, start_api

pytestmark = [
    pytest.mark.drill,
    pytest.mark.skipif(
        os.environ.get("SKIP_DRILL") == "1" and not os.environ.get("CI"),
        reason="SKIP_DRILL=1 (ignored when CI is set)",
    ),
]

RATE = 30  # signups a second
CYCLES = 3
DOWN = 10.0  # seconds PostgreSQL stays stopped in each cycle
CALM = 3.0  # seconds of load between the faults


class Load:
    """Signups at RATE a second, each a fresh address, every answer kept."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.answers: dict[str, int] = {}
        self.retry_after_missing = 0
        self.tasks: set[asyncio.Task] = set()
        self.running = True

    async def run(self, client: httpx.AsyncClient) -> None:
        tag, n, started = uuid.uuid4().hex[:6], 0, time.monotonic()
        while self.running:
            email = f"drill-{tag}-{n}@example.com"
            task = asyncio.create_task(self._one(client, email))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
            n += 1
            await asyncio.sleep(max(0.0, started + n / RATE - time.monotonic()))
        await asyncio.gather(*self.tasks)

    async def _one(self, client: httpx.AsyncClient, email: str) -> None:
        try:
            response = await client.post(f"{self.url}/signup", json={"email": email})
        except httpx.HTTPError:
            self.answers[email] = 0  # no answer at all
            return
        self.answers[email] = response.status_code
        if response.status_code == 503 and "retry-after" not in response.headers:
            self.retry_after_missing += 1


def _start(server: postgres.Postgres) -> None:
    server.process = postgres.start(server.datadir, server.port, durable=False).process


def _restart(server: postgres.Postgres) -> None:
    server.stop()
    _start(server)


async def _migrate(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await migrate(conn)
    finally:
        await conn.close()


async def test_postgresql_restarted_and_stopped_under_load(redis_server, smtp_server, scratch):
    folder = scratch / f"pg-drill-{uuid.uuid4().hex[:6]}"
    server = postgres.start(folder / "data", free_port(), durable=False)
    await _migrate(server.url)
    env = app_env(
        server.url,
        redis_server.url.rsplit("/", 1)[0] + "/5",  # a queue the session worker never reads
        smtp_server.port,
        SIGNUP_RATE_LIMIT_IP="100000/minute",
        SIGNUP_RATE_LIMIT_NETWORK="100000/minute",
        SIGNUP_RATE_LIMIT_GLOBAL="100000/minute",
        SIGNUP_WORKER_THREADS="4",
        SIGNUP_MAIL_MAX_RETRIES="20",
    )
    api, url = start_api(env, folder / "api.log")
    worker = Worker(env, folder / "worker.log")
    load = Load(url)
    try:
        worker.wait_ready()
        async with httpx.AsyncClient(timeout=15) as client:
            started = time.monotonic()
            running = asyncio.create_task(load.run(client))
            # (in a thread: the load goes on while PostgreSQL stops and starts)
            for _ in range(CYCLES):
                await asyncio.sleep(CALM)
                await asyncio.to_thread(_restart, server)  # fast shutdown, then up at once
                await asyncio.sleep(CALM)
                await asyncio.to_thread(server.stop)  # and down for a while
                await asyncio.sleep(DOWN)
                await asyncio.to_thread(_start, server)
            await asyncio.sleep(CALM)
            load.running = False
            await running
            took = time.monotonic() - started
        accepted = [e for e, status in load.answers.items() if status == 202]

        def mailed() -> Counter[str]:
            wanted = set(load.answers)
            return Counter(
                str(m["To"]) for m in list(smtp_server.messages) if str(m["To"]) in wanted
            )

        await eventually(lambda: set(accepted) <= set(mailed()), timeout=120, interval=0.5)
        await asyncio.sleep(3)  # time for a second copy, if one were coming
        counts = mailed()
        statuses = Counter(load.answers.values())
        twice = [e for e, n in counts.items() if n > 1]
        lost = [e for e in accepted if counts[e] == 0]
        print(
            f"\nPostgreSQL drill: {len(load.answers)} signups in {took:.0f} s, "
            f"answers {dict(statuses)}, "
            f"{len(accepted)} accepted, mailed {len(counts)} ({len(counts) - len(accepted)} "
            f"of them answered 503 after their commit), {len(twice)} twice, {len(lost)} lost"
        )
        assert statuses[500] == 0 and all(s in (202, 503) for s in statuses), statuses
        assert load.retry_after_missing == 0
        assert twice == [] and lost == []
    finally:
        load.running = False
        worker.stop()
        stop(api, timeout=20)
        server.stop()

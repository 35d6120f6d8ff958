"""Drill with real processes: a blind-index key rotation while two API processes (one on the old
key alone, one on the new key with the old as previous), a worker on each and the rotation job
all run, and signups for suppressed and for new addresses arrive through both APIs.
Expected: no suppressed address mailed, no duplicate row, every new address mailed once.

Slow (real processes; 70 to 160 s on a busy 2-core machine): marked `drill`; skip locally
with SKIP_DRILL=1 (ignored when CI is set). Each run prints a `DRILL rotation:` line and
appends its figures to var/drills.jsonl.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest

from devstack import mailcatcher, redis
from devstack.processes import die_with_parent, free_port, stop
from tests.conftest import Worker
from tests.integration.test_webhooks import POSTMARK_SECRET, postmark_bounce
from tests.privacy_support import signupctl
from tests.support import BLIND_INDEX_KEY, app_env, eventually, migrated_database, unseal

pytestmark = [
    pytest.mark.drill,
    pytest.mark.skipif(
        os.environ.get("SKIP_DRILL") == "1" and not os.environ.get("CI"),
        reason="SKIP_DRILL=1 (ignored when CI is set)",
    ),
]

NEW_KEY = "drill-blind-index-key-NEW-0123456789abcdef"
EXISTING, FRESH, PER_KIND = 60, 80, 5


@dataclass
class Stack:
    database_url: str
    redis: redis.Redis
    catcher: mailcatcher.Catcher
    folder: Path

    def env(self, key: str = BLIND_INDEX_KEY, previous: str | None = None) -> dict[str, str]:
        env = app_env(
            self.database_url,
            self.redis.url,
            self.catcher.port,
            SIGNUP_BLIND_INDEX_KEY=key,
            SIGNUP_POSTMARK_WEBHOOK_SECRET=POSTMARK_SECRET,
            SIGNUP_RATE_LIMIT_IP="100000/minute",
            SIGNUP_RATE_LIMIT_NETWORK="100000/minute",
            SIGNUP_MAIL_MAX_RETRIES="8",
            SIGNUP_WORKER_HEARTBEAT_TIMEOUT="10",
        )
        if previous is not None:
            env["SIGNUP_BLIND_INDEX_KEY_PREVIOUS"] = previous
        return env


@pytest.fixture(scope="module")
def stack(pg_server, scratch) -> Iterator[Stack]:
    url = asyncio.run(migrated_database(pg_server.url, "rotdrill"))
    catcher = mailcatcher.Catcher()
    catcher.port = free_port()
    controller = mailcatcher.start(catcher.port, catcher)
    server = redis.start(free_port())
    folder = scratch / url.rsplit("/", 1)[1]
    folder.mkdir()
    yield Stack(url, server, catcher, folder)
    controller.stop()
    server.stop()


class Api:
    """A real `signup-api` process on its own port."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log
        self._log = open(log, "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [str(Path(sys.executable).with_name("signup-api"))],
            env={**os.environ, **env, "HOST": "127.0.0.1", "PORT": str(self.port)},
            stdout=self._log,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent(),
            start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{self.url}/healthz", timeout=1).raise_for_status()
                return
            except httpx.HTTPError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(log.read_text()[-3000:]) from None
                time.sleep(0.1)

    def stop(self) -> None:
        stop(self.process, timeout=20)
        self._log.close()


def _addresses(tag: str, count: int) -> list[str]:
    run = uuid.uuid4().hex[:6]
    return [f"{tag}-{run}-{i}@example.com" for i in range(count)]


def _mailed(stack: Stack, addresses: list[str]) -> Counter[str]:
    wanted = set(addresses)
    return Counter(str(m["To"]) for m in list(stack.catcher.messages) if str(m["To"]) in wanted)


@dataclass
class Tally:
    accepted: int = 0
    refused_503: int = 0
    other: int = 0


async def _sign_up(apis: list[str], email: str, first: int, tally: Tally) -> None:
    """Through one API; a 503 (a process on a stale key) is retried on the other, as a load
    balancer would."""
    async with httpx.AsyncClient(timeout=10) as client:
        for attempt in range(20):
            url = apis[(first + attempt) % len(apis)]
            response = await client.post(f"{url}/signup", json={"email": email})
            if response.status_code == 202:
                tally.accepted += 1
                return
            if response.status_code != 503:
                tally.other += 1
                raise AssertionError(f"{response.status_code}: {response.text}")
            tally.refused_503 += 1
            await asyncio.sleep(0.05)
    raise AssertionError("never accepted")


async def _load(apis: list[str], emails: list[str], tally: Tally, concurrency: int = 8) -> None:
    queue = list(enumerate(emails))

    async def one() -> None:
        while queue:
            n, email = queue.pop(0)
            await _sign_up(apis, email, n, tally)  # every other one to each API first

    await asyncio.gather(*(one() for _ in range(concurrency)))


async def _rows(url: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetch("SELECT list_name, email_sealed FROM subscriptions")
    finally:
        await conn.close()


async def _suppressions(url: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval("SELECT count(*) FROM suppressions")
    finally:
        await conn.close()


async def _unsent(url: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval(
            "SELECT count(*) FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL"
        )
    finally:
        await conn.close()


def _rotate_until_done(env: dict[str, str]) -> tuple[int, float]:
    """Run the rotation job until it exits 0, as an operator would; runs and seconds."""
    start = time.monotonic()
    for run in range(1, 30):
        if signupctl(env, "rotate-blind-index", "--batch", "3").returncode == 0:
            return run, time.monotonic() - start
        time.sleep(0.2)
    raise AssertionError("the rotation never completed")


async def test_no_suppressed_address_mailed_and_no_duplicate_during_a_rotation(stack: Stack):
    old_env, new_env = stack.env(), stack.env(NEW_KEY, BLIND_INDEX_KEY)
    started: list = []
    began = time.monotonic()
    try:
        # Given the old key everywhere: an API, a worker, subscribers and suppressed addresses
        # of each kind (hard bounce and complaint through the provider's webhook, operator,
        # suppressed then erased)
        old_api = Api(old_env, stack.folder / "api-old.log")
        started.append(old_api)
        old_worker = Worker(old_env, stack.folder / "worker-old.log")
        started.append(old_worker)
        old_worker.wait_ready()
        existing = _addresses("existing", EXISTING)
        bounced, complained, operator, erased = (
            _addresses(kind, PER_KIND) for kind in ("bounced", "complained", "operator", "erased")
        )
        tally = Tally()
        await _load([old_api.url], existing + bounced + complained + erased, tally)
        _step("first signups", began)
        await eventually(lambda: len(_mailed(stack, existing + bounced)) == EXISTING + PER_KIND, 60)
        async with httpx.AsyncClient() as client:
            for n, email in enumerate(bounced + complained):
                kind = "HardBounce" if email in bounced else "SpamComplaint"
                payload = postmark_bounce(email, kind=kind, record_id=1000 + n)
                hook = f"{old_api.url}/webhooks/postmark?token={POSTMARK_SECRET}"
                assert (await client.post(hook, json=payload)).status_code == 200
        _step("first mails, webhooks", began)
        assert signupctl(old_env, "suppress", *operator, *erased).returncode == 0
        assert signupctl(old_env, "erase", *erased).returncode == 0
        await eventually(lambda: _suppressions(stack.database_url), 30)
        await eventually(
            lambda: _count_is(_suppressions(stack.database_url), 4 * PER_KIND), 30, 0.2
        )
        await eventually(lambda: _count_is(_unsent(stack.database_url), 0), 60, 0.2)
        _step("suppressions applied", began)
        stack.catcher.clear()
        suppressed = bounced + complained + operator + erased
        fresh = _addresses("fresh", FRESH)
        # When a new API and a new worker start on the new key (the rotation begins) while
        # signups keep arriving through both APIs, and the rotation job runs
        prepared = time.monotonic() - began
        apis = [old_api.url]  # the new API joins it once started, as behind a load balancer
        load = asyncio.create_task(_load(apis, fresh[:30] + suppressed[:10] + existing[:20], tally))
        # Started in a thread: the signups above keep arriving while it starts (and switches
        # the database to the new key)
        new_api = await asyncio.to_thread(Api, new_env, stack.folder / "api-new.log")
        apis.append(new_api.url)
        started.append(new_api)
        new_worker = Worker(new_env, stack.folder / "worker-new.log")
        started.append(new_worker)
        rotation = asyncio.create_task(asyncio.to_thread(_rotate_until_done, new_env))
        mixed = fresh[30:] + suppressed * 2 + existing[20:]
        mixed.sort(key=lambda e: hash((e, "order")))
        await load
        await asyncio.to_thread(new_worker.wait_ready)
        _step("new processes ready", began)
        await _load(apis, mixed, tally)
        _step("signups during rotation", began)
        runs, rotation_seconds = await rotation
        _step("rotation", began)
        # Then every new address is mailed, once; no suppressed or existing address is mailed
        await eventually(lambda: len(_mailed(stack, fresh)) == FRESH, 60, 0.2)
        await eventually(lambda: _count_is(_unsent(stack.database_url), 0), 60, 0.2)
        _step("all mailed", began)
        await asyncio.sleep(1)
        fresh_mails = _mailed(stack, fresh)
        suppressed_mails = sum(_mailed(stack, suppressed).values())
        existing_mails = sum(_mailed(stack, existing).values())
        # And no address has two rows on a list
        rows = await _rows(stack.database_url)
        per_address = Counter((r["list_name"], unseal(r["email_sealed"])) for r in rows)
        duplicates = sum(n - 1 for n in per_address.values() if n > 1)
        _record(
            accepted=tally.accepted,
            refused_503=tally.refused_503,
            rotation_s=round(rotation_seconds, 1),
            rotation_runs=runs,
            fresh_mailed=len(fresh_mails),
            fresh=FRESH,
            fresh_max_mails=max(fresh_mails.values()),
            suppressed_mailed=suppressed_mails,
            suppressed=len(suppressed),
            existing_mailed_again=existing_mails,
            duplicate_rows=duplicates,
            setup_s=round(prepared, 1),
            rotation_phase_s=round(time.monotonic() - began - prepared, 1),
        )
        assert suppressed_mails == 0
        assert duplicates == 0
        assert set(fresh_mails.values()) == {1}
        assert existing_mails == 0
        assert tally.other == 0
    finally:
        for process in reversed(started):
            process.stop()


async def _count_is(count, expected: int) -> bool:
    return (await count) == expected


def _step(name: str, began: float) -> None:
    print(f"\n  {time.monotonic() - began:5.1f} s: {name}", end="")


def _record(**figures: object) -> None:
    """Printed (pytest -s shows it) and appended to var/drills.jsonl, as the other drills do."""
    print("\nDRILL rotation: " + " ".join(f"{k}={v}" for k, v in figures.items()))
    out = Path(__file__).resolve().parents[2] / "var" / "drills.jsonl"
    out.parent.mkdir(exist_ok=True)
    with open(out, "a") as f:
        f.write(json.dumps({"drill": "blind-index-rotation", **figures}) + "\n")

"""Moves committed outbox rows onto the mail queue: at once when the API rings, and by a sweep.

A row is claimed (relayed_at set) in the same transaction that enqueues it, so a failed enqueue
leaves it unclaimed for the next sweep; a duplicate enqueue is harmless because the sender locks
the row and checks sent_at.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import redis.asyncio as redis

from signup_core import db
from signup_core.queue import OUTBOX_DOORBELL
from signup_worker.resources import Opened

log = logging.getLogger(__name__)

BATCH = 200


async def run(res: Opened, stop: asyncio.Event) -> None:
    client = redis.Redis.from_url(
        res.settings.redis_url.value, socket_timeout=5.0, socket_connect_timeout=2.0
    )
    loop = asyncio.get_running_loop()
    next_sweep = 0.0
    try:
        while not stop.is_set():
            try:
                ids = await _wait_for_ring(client)
                if ids:
                    await _relay(res, ids)
                if loop.time() >= next_sweep:
                    await sweep(res)
                    next_sweep = loop.time() + res.settings.relay_interval
            except (redis.RedisError, *db.UNAVAILABLE) as e:
                log.warning("relay paused", extra={"error": type(e).__name__})
                await _sleep_unless(stop, 1.0)
            except Exception as e:
                # Whatever went wrong, the relay must outlive it or no mail leaves this worker.
                log.error("relay error", extra={"error": type(e).__name__})
                await _sleep_unless(stop, 1.0)
    finally:
        await client.aclose()


async def _sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


async def _wait_for_ring(client: redis.Redis) -> list[int]:
    first = await client.brpop([OUTBOX_DOORBELL], timeout=1)
    if first is None:
        return []
    more = await client.rpop(OUTBOX_DOORBELL, BATCH - 1) or []
    return [int(first[1]), *(int(v) for v in more)]


async def _relay(res: Opened, ids: list[int]) -> None:
    async with res.pool.acquire() as conn, conn.transaction():
        claimed = [r["id"] async for r in db.queries().claim_outbox(conn, ids=ids)]
        await _enqueue(res, claimed)


async def sweep(res: Opened) -> int:
    """Queue rows no ring brought (Redis was down, a relay died); returns how many."""
    total = 0
    while True:
        async with res.pool.acquire() as conn, conn.transaction():
            claimed = [
                r["id"]
                async for r in db.queries().claim_stranded_outbox(
                    conn, stale_after=float(res.settings.relay_stale_after), batch=BATCH
                )
            ]
            await _enqueue(res, claimed)
        total += len(claimed)
        if len(claimed) < BATCH:
            if total:
                log.info("relay sweep queued stranded mail", extra={"count": total})
            return total


async def _enqueue(res: Opened, ids: list[int]) -> None:
    if not ids:
        return
    from signup_worker.actors import send_mail

    s = res.settings

    def send_all() -> None:
        for outbox_id in ids:
            send_mail.send_with_options(
                args=(outbox_id,),
                min_backoff=s.mail_min_backoff_ms,
                max_backoff=s.mail_max_backoff_ms,
            )

    # Dramatiq's enqueue is blocking; keep it off the loop the actors run on.
    await asyncio.to_thread(send_all)

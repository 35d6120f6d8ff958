"""Moves committed rows onto the queues: outbox rows to the mail actor, provider events to the
events actor. At once when the API rings a doorbell, and by a periodic sweep.

A row is claimed (relayed_at set) in the same transaction that enqueues it, so a failed enqueue
leaves it unclaimed for the next sweep; a duplicate enqueue is harmless because the actors lock
the row and skip it once done.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

import redis.asyncio as redis

from signup_core import db
from signup_core.queue import EVENTS_DOORBELL, OUTBOX_DOORBELL
from signup_worker.resources import Opened

log = logging.getLogger(__name__)

BATCH = 200


@dataclass(frozen=True)
class Channel:
    doorbell: str
    claim: str  # named query claiming given ids
    claim_stranded: str  # named query claiming forgotten rows
    actor: str


CHANNELS = (
    Channel(OUTBOX_DOORBELL, "claim_outbox", "claim_stranded_outbox", "send_mail"),
    Channel(EVENTS_DOORBELL, "claim_events", "claim_stranded_events", "apply_event"),
)
_BY_DOORBELL = {c.doorbell: c for c in CHANNELS}


async def run(res: Opened, stop: asyncio.Event) -> None:
    client = redis.Redis.from_url(
        res.settings.redis_url.value, socket_timeout=5.0, socket_connect_timeout=2.0
    )
    loop = asyncio.get_running_loop()
    next_sweep = 0.0
    try:
        while not stop.is_set():
            try:
                rung = await _wait_for_ring(client)
                if rung:
                    channel, ids = rung
                    await _relay(res, channel, ids)
                if loop.time() >= next_sweep:
                    for channel in CHANNELS:
                        await sweep(res, channel)
                    next_sweep = loop.time() + res.settings.relay_interval
            except (redis.RedisError, *db.UNAVAILABLE) as e:
                log.warning("relay paused", extra={"error": type(e).__name__})
                await _sleep_unless(stop, 1.0)
            except Exception as e:
                # Whatever went wrong, the relay must outlive it or nothing leaves this worker.
                log.error("relay error", extra={"error": type(e).__name__})
                await _sleep_unless(stop, 1.0)
    finally:
        await client.aclose()


async def _sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


async def _wait_for_ring(client: redis.Redis) -> tuple[Channel, list[int]] | None:
    first = await client.brpop([c.doorbell for c in CHANNELS], timeout=1)
    if first is None:
        return None
    key = first[0].decode() if isinstance(first[0], bytes) else first[0]
    more = await client.rpop(key, BATCH - 1) or []
    return _BY_DOORBELL[key], [int(first[1]), *(int(v) for v in more)]


async def _relay(res: Opened, channel: Channel, ids: list[int]) -> None:
    claim = getattr(db.queries(), channel.claim)
    async with res.pool.acquire() as conn, conn.transaction():
        claimed = [r["id"] async for r in claim(conn, ids=ids)]
        await _enqueue(res, channel, claimed)


async def sweep(res: Opened, channel: Channel) -> int:
    """Queue rows no ring brought (Redis was down, a relay died); returns how many."""
    claim = getattr(db.queries(), channel.claim_stranded)
    total = 0
    while True:
        async with res.pool.acquire() as conn, conn.transaction():
            stale = float(res.settings.relay_stale_after)
            claimed = [r["id"] async for r in claim(conn, stale_after=stale, batch=BATCH)]
            await _enqueue(res, channel, claimed)
        total += len(claimed)
        if len(claimed) < BATCH:
            if total:
                log.info(
                    "relay sweep queued stranded rows",
                    extra={"count": total, "actor": channel.actor},
                )
            return total


async def _enqueue(res: Opened, channel: Channel, ids: list[int]) -> None:
    if not ids:
        return
    from signup_worker import actors

    actor = getattr(actors, channel.actor)
    s = res.settings

    def send_all() -> None:
        for row_id in ids:
            actor.send_with_options(
                args=(row_id,), min_backoff=s.mail_min_backoff_ms, max_backoff=s.mail_max_backoff_ms
            )

    # Dramatiq's enqueue is blocking; keep it off the loop the actors run on.
    await asyncio.to_thread(send_all)

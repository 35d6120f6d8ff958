"""Moves committed rows onto the queues: outbox rows to the mail actor, provider events to the
events actor. It polls both tables every SIGNUP_RELAY_INTERVAL, so the API's only hand-over is
the row it commits; the partial indexes keep an idle poll to an empty index scan.

A row is claimed (relayed_at set) in the same transaction that enqueues it, so a failed enqueue
(Redis down) leaves it for the next poll; a duplicate enqueue is harmless because the actors
lock the row and skip it once done. Rows relayed longer ago than SIGNUP_RELAY_STALE_AFTER and
still not done are claimed again: their queue message was lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from signup_core import db
from signup_worker.resources import Opened

log = logging.getLogger(__name__)

BATCH = 200


@dataclass(frozen=True)
class Channel:
    claim: str  # named query claiming rows that need queueing
    actor: str


CHANNELS = (
    Channel("claim_stranded_outbox", "send_mail"),
    Channel("claim_stranded_events", "apply_event"),
)


async def run(res: Opened, stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            busy = False
            for channel in CHANNELS:
                busy |= await relay(res, channel) >= BATCH
            if not busy:
                await _sleep_unless(stop, res.settings.relay_interval)
        except Exception as e:
            # Whatever went wrong (PostgreSQL or Redis away), the relay must outlive it.
            log.warning("relay paused", extra={"error": type(e).__name__})
            await _sleep_unless(stop, 1.0)


async def _sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


async def relay(res: Opened, channel: Channel) -> int:
    """Claim and queue one batch; returns how many rows went."""
    claim = getattr(db.queries(), channel.claim)
    stale = float(res.settings.relay_stale_after)
    async with res.pool.acquire() as conn, conn.transaction():
        claimed = [r["id"] async for r in claim(conn, stale_after=stale, batch=BATCH)]
        await _enqueue(res, channel, claimed)
    return len(claimed)


async def _enqueue(res: Opened, channel: Channel, ids: list[int]) -> None:
    if not ids:
        return
    from signup_worker import actors

    actor = getattr(actors, channel.actor)
    s = res.settings

    def send_all() -> None:
        for start in range(0, len(ids), actors.CHUNK):
            actor.send_with_options(
                args=(ids[start : start + actors.CHUNK],),
                min_backoff=s.mail_min_backoff_ms,
                max_backoff=s.mail_max_backoff_ms,
            )

    # Dramatiq's enqueue is blocking; keep it off the loop the actors run on.
    await asyncio.to_thread(send_all)

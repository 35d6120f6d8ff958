"""Tells the worker's relay that an outbox row is ready; losing the ring only delays the mail."""

from __future__ import annotations

import logging

import redis.asyncio as redis

from signup_core.queue import OUTBOX_DOORBELL

log = logging.getLogger(__name__)

# The relay's sweep finds any row the list forgot, so a cap keeps a worker outage from
# growing Redis without bound.
MAX_WAITING = 100_000


async def ring(client: redis.Redis, outbox_id: int) -> None:
    try:
        async with client.pipeline(transaction=False) as pipe:
            pipe.lpush(OUTBOX_DOORBELL, outbox_id)
            pipe.ltrim(OUTBOX_DOORBELL, 0, MAX_WAITING - 1)
            await pipe.execute()
    except (redis.RedisError, OSError) as e:
        log.warning("doorbell not rung; the relay sweep will send it",
                    extra={"outbox_id": outbox_id, "error": type(e).__name__})

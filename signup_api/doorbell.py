"""Tells the worker's relay that an outbox row is ready; losing the ring only delays the mail."""

from __future__ import annotations

import logging

import redis.asyncio as redis

from signup_core.queue import OUTBOX_DOORBELL

log = logging.getLogger(__name__)

# The relay's sweep finds any row the list forgot, so a cap keeps a worker outage from
# growing Redis without bound.
MAX_WAITING = 100_000

# One round trip for push and cap: 1.4x the rate of the same as a redis-py pipeline
# (bench/enqueue.py).
_PUSH_CAPPED = """
redis.call('LPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], 0, tonumber(ARGV[2]) - 1)
"""


class Doorbell:
    def __init__(self, client: redis.Redis) -> None:
        self._push = client.register_script(_PUSH_CAPPED)

    async def ring(self, outbox_id: int) -> None:
        try:
            await self._push(keys=[OUTBOX_DOORBELL], args=[outbox_id, MAX_WAITING])
        except (redis.RedisError, OSError) as e:
            log.warning(
                "doorbell not rung; the relay sweep will send it",
                extra={"outbox_id": outbox_id, "error": type(e).__name__},
            )

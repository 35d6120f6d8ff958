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
redis.call('LPUSH', KEYS[1], unpack(ARGV, 2))
redis.call('LTRIM', KEYS[1], 0, tonumber(ARGV[1]) - 1)
"""


class Doorbell:
    def __init__(self, client: redis.Redis, key: str = OUTBOX_DOORBELL) -> None:
        self._push = client.register_script(_PUSH_CAPPED)
        self._key = key

    async def ring(self, *ids: int) -> None:
        if not ids:
            return
        try:
            await self._push(keys=[self._key], args=[MAX_WAITING, *ids])
        except (redis.RedisError, OSError) as e:
            log.warning(
                "doorbell not rung; the relay sweep will pick it up",
                extra={"ids": list(ids)[:10], "error": type(e).__name__},
            )

"""Ways the request path could hand work to the worker, at 32 concurrent callers: an async
Redis doorbell (a script; also as a redis-py pipeline) and Dramatiq's blocking send() through
Starlette's thread pool. (The API now makes no such call: the outbox row is the hand-over; see
docs/architecture.md.) Run: .venv/bin/python -m bench.enqueue
"""

from __future__ import annotations

import asyncio
import json
import time

import dramatiq
import redis.asyncio as aioredis
from dramatiq.brokers.redis import RedisBroker
from starlette.concurrency import run_in_threadpool

from devstack import redis
from devstack.processes import free_port

CALLERS = 32
PER_CALLER = 500


async def measure(name: str, call) -> float:
    async def caller(offset: int) -> None:
        for i in range(PER_CALLER):
            await call(offset * PER_CALLER + i)

    started = time.perf_counter()
    await asyncio.gather(*(caller(c) for c in range(CALLERS)))
    rate = CALLERS * PER_CALLER / (time.perf_counter() - started)
    print(f"{name:<40} {rate:>9.0f} enqueues/s")
    return rate


async def main() -> None:
    server = redis.start(free_port())
    try:
        broker = RedisBroker(url=server.url)
        dramatiq.set_broker(broker)

        @dramatiq.actor(queue_name="bench")
        def send_mail(outbox_id: int) -> None: ...

        client = aioredis.Redis.from_url(server.url)

        # The doorbell the API once rang: push and cap in one round trip.
        push = client.register_script(
            "redis.call('LPUSH', KEYS[1], ARGV[2]) "
            "redis.call('LTRIM', KEYS[1], 0, tonumber(ARGV[1]) - 1)"
        )

        async def doorbell(i: int) -> None:
            await push(keys=["bench:doorbell"], args=[100_000, i])

        async def pipelined(i: int) -> None:
            async with client.pipeline(transaction=False) as pipe:
                pipe.lpush("bench:pipelined", i)
                pipe.ltrim("bench:pipelined", 0, 99_999)
                await pipe.execute()

        async def dramatiq_send(i: int) -> None:
            await run_in_threadpool(send_mail.send, i)

        results = {}
        for _ in range(3):
            results.setdefault("pipelined", []).append(
                await measure("the same as a redis-py pipeline", pipelined)
            )
            results.setdefault("doorbell", []).append(
                await measure("async doorbell (LPUSH+LTRIM)", doorbell)
            )
            results.setdefault("dramatiq", []).append(
                await measure("dramatiq send() in thread pool", dramatiq_send)
            )
        print(json.dumps({k: round(sorted(v)[1]) for k, v in results.items()}))
        await client.aclose()
    finally:
        server.stop()


if __name__ == "__main__":
    asyncio.run(main())

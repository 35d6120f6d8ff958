"""Concurrent script calls share one pipelined round trip: each caller still gets its own
result, a flushed script cache is survived, a failure reaches every caller, a caller who gives
up does not disturb the rest, and a full batch does not wait for the end of the turn."""

from __future__ import annotations

import asyncio
import signal
import time

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from devstack import redis
from devstack.processes import free_port
from signup_api.coalesce import ScriptBatcher
from signup_api.turn_batch import SEND_AT, SenderCancelled

# Returns the counter's new value with the caller's tag, so a mix-up between callers shows.
COUNT = "return {redis.call('INCR', KEYS[1]), ARGV[1]}"


@pytest.fixture
async def own():
    server = redis.start(free_port())
    client = aioredis.Redis.from_url(server.url, socket_timeout=None)
    yield server, client
    await client.aclose()
    server.stop()


async def test_each_concurrent_caller_gets_its_own_answer(own):
    _, client = own
    batcher = ScriptBatcher(client, COUNT)
    answers = await asyncio.gather(*(batcher(["k"], [f"caller-{i}"]) for i in range(50)))
    assert [tag.decode() for _, tag in answers] == [f"caller-{i}" for i in range(50)]
    assert sorted(n for n, _ in answers) == list(range(1, 51))
    assert int(await client.get("k")) == 50  # each ran once


async def test_a_flushed_script_cache_is_loaded_again_and_nothing_counts_twice(own):
    _, client = own
    batcher = ScriptBatcher(client, COUNT)
    await batcher(["k"], ["first"])
    await client.script_flush()
    answers = await asyncio.gather(*(batcher(["k"], [str(i)]) for i in range(5)))
    assert sorted(n for n, _ in answers) == [2, 3, 4, 5, 6]
    assert int(await client.get("k")) == 6


async def test_a_script_error_reaches_only_its_caller(own):
    _, client = own
    batcher = ScriptBatcher(client, "return redis.call('INCR', KEYS[1])")
    await client.set("text", "not a number")
    calls = (batcher(["n"], []), batcher(["text"], []))
    good, bad = await asyncio.gather(*calls, return_exceptions=True)
    assert good == 1
    assert isinstance(bad, ResponseError)


async def test_redis_gone_fails_every_caller_and_the_next_batch_works_again(own):
    server, client = own
    batcher = ScriptBatcher(client, COUNT)
    await batcher(["k"], ["warm"])
    server.stop()
    calls = (batcher(["k"], [str(i)]) for i in range(3))
    failures = await asyncio.gather(*calls, return_exceptions=True)
    assert all(isinstance(f, (aioredis.RedisError, OSError)) for f in failures)
    server.process = redis.start(server.port).process
    n, _ = await batcher(["k"], ["back"])
    assert n == 1  # a new, empty server


async def test_a_caller_that_gives_up_does_not_disturb_the_others(own):
    _, client = own
    batcher = ScriptBatcher(client, COUNT)
    quitter = asyncio.ensure_future(batcher(["k"], ["quitter"]))
    stayer = asyncio.ensure_future(batcher(["k"], ["stayer"]))
    await asyncio.sleep(0)
    quitter.cancel()
    _, tag = await stayer
    assert tag == b"stayer"
    assert quitter.cancelled()
    # The quitter's call was already on its way; it ran, and nothing broke.
    assert int(await client.get("k")) in (1, 2)


async def test_a_silent_redis_times_the_batch_out_and_frees_its_connection(own):
    server, client = own
    batcher = ScriptBatcher(client, COUNT, timeout=0.5)
    await batcher(["k"], ["warm"])
    server.process.send_signal(signal.SIGSTOP)
    try:
        started = time.monotonic()
        calls = (batcher(["k"], [str(i)]) for i in range(3))
        # (bounded here too, so a batcher without a timeout fails the test, not hangs it)
        failures = await asyncio.wait_for(asyncio.gather(*calls, return_exceptions=True), 3)
        assert all(isinstance(f, TimeoutError) for f in failures)
        assert time.monotonic() - started < 2
        await asyncio.sleep(0)
        # The stuck pipeline's connection was dropped, not left checked out.
        assert not client.connection_pool._in_use_connections
    finally:
        server.process.send_signal(signal.SIGCONT)
    n, _ = await batcher(["k"], ["again"])
    assert n >= 2


async def test_a_full_batch_is_sent_at_once_and_the_rest_of_the_turn_after(own):
    _, client = own
    batcher = ScriptBatcher(client, COUNT)
    await batcher(["k"], ["warm"])  # the script loaded: one round trip a batch from here
    sizes = []
    run = batcher._run

    async def counted(batch):
        sizes.append(len(batch))
        return await run(batch)

    batcher._run = counted
    n = SEND_AT + 4
    answers = await asyncio.gather(*(batcher(["k"], [f"caller-{i}"]) for i in range(n)))
    assert [tag.decode() for _, tag in answers] == [f"caller-{i}" for i in range(n)]
    # The first SEND_AT were sent by the caller that filled the batch, the rest a turn later
    assert sizes == [SEND_AT, 4]


async def test_a_cancelled_sender_fails_its_batch_as_a_lost_connection_would(own):
    server, client = own
    batcher = ScriptBatcher(client, COUNT)  # no timeout: only the cancellation ends the wait
    await batcher(["k"], ["warm"])
    server.process.send_signal(signal.SIGSTOP)
    try:
        calls = [asyncio.ensure_future(batcher(["k"], [str(i)])) for i in range(SEND_AT)]
        await asyncio.sleep(0.2)
        calls[-1].cancel()  # the caller that filled the batch, and so sent it
        answers = await asyncio.wait_for(asyncio.gather(*calls, return_exceptions=True), 3)
    finally:
        server.process.send_signal(signal.SIGCONT)
    # The others get an OSError, which the limiter lets through as it does a lost Redis
    assert isinstance(answers[-1], asyncio.CancelledError)
    assert all(isinstance(a, SenderCancelled) and isinstance(a, OSError) for a in answers[:-1])
    n, _ = await batcher(["k"], ["again"])
    assert n >= 2

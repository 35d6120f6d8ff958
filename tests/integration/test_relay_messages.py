"""The relay records, for each row, the id under which Dramatiq's Redis broker keeps the message
that carries it, so its check for lost messages finds the ones still queued (real Redis, the
installed Dramatiq): a row whose message waits in the queue is never released as lost, and one
whose message a dead worker took is."""

from __future__ import annotations

import asyncio
import uuid

import dramatiq
import pytest
from dramatiq.brokers.redis import RedisBroker

from signup_core.settings import load_settings
from signup_worker import broker_keys, relay
from signup_worker.resources import Opened


@pytest.fixture
def broker(redis_server):
    # A heartbeat timeout of half a second: a worker silent that long counts as dead.
    made = RedisBroker(
        url=redis_server.url, namespace=f"relay-test-{uuid.uuid4().hex[:8]}", heartbeat_timeout=500
    )
    yield made
    made.flush_all()
    made.close()


async def test_queued_messages_are_found_under_the_ids_the_relay_records(broker, env):
    # Given an actor on a broker no worker consumes from
    actor = dramatiq.Actor(
        lambda ids: None, broker=broker, actor_name="send_mail", queue_name="mail", priority=0,
        options={},
    )  # fmt: skip
    res = Opened(load_settings(env), None, None, None)  # the relay reads only the settings here
    [channel] = [c for c in relay.CHANNELS if c.queue == "mail"]
    # When the relay sends 25 rows (4 messages: spread over the test worker's 4 threads)
    ids, held_as = await relay._send(actor, channel, res, list(range(1, 26)), lambda chunk: {})
    assert ids == list(range(1, 26)) and len(set(held_as)) == 4
    # Each row is recorded under the message that carries it
    queued = broker.client.hgetall(f"{broker.namespace}:mail.msgs")
    carried = {key.decode(): dramatiq.Message.decode(data).args[0] for key, data in queued.items()}
    assert {i: key for key, rows in carried.items() for i in rows} == dict(
        zip(ids, held_as, strict=True)
    )
    # Then every recorded id is one the broker holds: none of these rows counts as lost
    assert broker_keys.held(broker, "mail", held_as) == set(held_as)
    # And they are exactly the keys of the broker's message hash for the queue
    keys = broker.client.hkeys(f"{broker.namespace}:mail.msgs")
    assert {k.decode() for k in keys} == set(held_as)


async def test_messages_in_the_hands_of_a_dead_worker_count_as_lost(broker, env):
    # Given four queued messages, one fetched by a worker (its own broker connection, as a
    # worker process has) that then goes silent
    actor = dramatiq.Actor(
        lambda ids: None, broker=broker, actor_name="send_mail", queue_name="mail", priority=0,
        options={},
    )  # fmt: skip
    res = Opened(load_settings(env), None, None, None)
    [channel] = [c for c in relay.CHANNELS if c.queue == "mail"]
    _, held_as = await relay._send(actor, channel, res, list(range(1, 26)), lambda chunk: {})
    worker = RedisBroker(client=broker.client, namespace=broker.namespace, heartbeat_timeout=500)
    consumer = worker.consume("mail", prefetch=1, timeout=100)
    fetched = next(consumer).options["redis_message_id"]
    # While its heartbeat is fresh, every message is held
    assert broker_keys.held(broker, "mail", held_as) == set(held_as)
    # When it stays silent past the heartbeat timeout
    await asyncio.sleep(0.7)
    # Then the message it holds counts as lost, and the three still queued do not
    assert broker_keys.held(broker, "mail", held_as) == set(held_as) - {fetched}


CLAIMS = {c.queue: c.claim for c in relay.CHANNELS}


async def test_an_idle_poll_finds_exactly_what_each_claim_would_take(pg_server):
    # In a database of its own: the session worker's relay must not claim these rows first.
    import asyncpg

    from signup_core import db
    from tests.support import inspect, migrated_database, store_signup

    conn = await asyncpg.connect(await migrated_database(pg_server.url, "relay_due"))
    q = db.queries()

    async def due() -> set[str]:
        return {queue for queue, waiting in (await q.relay_due(conn)).items() if waiting}

    async def claimed(queue: str) -> int:
        return len([r async for r in getattr(q, CLAIMS[queue])(conn, batch=10)])

    try:
        assert await due() == set()
        await store_signup(conn, f"due-{uuid.uuid4().hex[:8]}@example.com")
        await inspect().add_pending_event(conn)
        await inspect().add_pending_hook(conn)
        assert await due() == {"mail", "events", "hooks"}
        for queue in ("events", "hooks"):
            assert await claimed(queue) == 1
        assert await due() == {"mail"}
        # Mail paced for later is not due, and its claim takes nothing either
        await inspect().pace_outbox(conn, seconds=3600.0)
        assert await due() == set() and await claimed("mail") == 0
        await inspect().pace_outbox(conn, seconds=-1.0)
        assert await due() == {"mail"} and await claimed("mail") == 1
        assert await due() == set()
    finally:
        await conn.close()


@pytest.mark.parametrize("queue", ["events", "hooks"])
async def test_a_polls_events_stay_together_in_order(broker, env, queue):
    """Only mail is spread over the threads: one address's events of a poll (confirmed, then
    unsubscribed) stay in one message, in order."""
    [channel] = [c for c in relay.CHANNELS if c.queue == queue]
    actor = dramatiq.Actor(
        lambda ids: None, broker=broker, actor_name=channel.actor, queue_name=queue, priority=0,
        options={},
    )  # fmt: skip
    res = Opened(load_settings(env), None, None, None)
    _, held_as = await relay._send(actor, channel, res, list(range(1, 11)), lambda chunk: {})
    assert len(set(held_as)) == 1

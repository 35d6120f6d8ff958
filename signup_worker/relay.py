"""Moves committed rows onto the queues: outbox rows to the mail actor, provider events to the
events actor, outbound events to the hooks actor. It polls the tables every SIGNUP_RELAY_INTERVAL,
so the API's only hand-over is the row it commits; an idle poll is one statement of empty index
scans (the partial indexes), and only a table with rows due gets a claiming transaction.

A row is claimed (relayed_at and its message id set) in the same transaction that enqueues it,
so a failed enqueue (Redis down) leaves it for the next poll, and a duplicate enqueue is harmless
because the actors lock the row and skip it once done. Every SIGNUP_RELAY_CHECK_AFTER / 2 the
relay asks Redis whether the messages of rows relayed longer ago than SIGNUP_RELAY_CHECK_AFTER
still exist (queued, in a worker's hands or waiting for a retry); rows whose message is gone
(Redis restarted empty) are released and claimed again by the next poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dramatiq import Actor, Broker

from signup_core import db, queue, tracing
from signup_core.queue import EVENTS_QUEUE, HOOKS_QUEUE, MAIL_QUEUE
from signup_worker import broker_keys, metrics
from signup_worker.resources import Opened

log = logging.getLogger(__name__)

BATCH = 200


@dataclass(frozen=True)
class Channel:
    queue: str
    actor: str  # looked up on the broker by name: the actors module is not imported here
    claim: str  # named query: claim rows no message carries yet
    record: str  # named query: store each claimed row's message id
    relayed: str  # named query: rows relayed before a cutoff and still not done
    release: str  # named query: give rows whose message is lost back to the claim
    min_backoff: str = "mail_min_backoff_ms"  # Settings fields: the retry backoff
    max_backoff: str = "mail_max_backoff_ms"
    switch: str | None = None  # a Settings property that must be true for the channel to run
    # A poll's few rows spread over the worker's threads (queue.chunks). Not for events: one
    # address's events of a poll (confirmed, then unsubscribed) stay in one message, in order.
    spread: bool = False


CHANNELS = (
    Channel(
        MAIL_QUEUE,
        "send_mail",
        "claim_unrelayed_outbox",
        "record_outbox_messages",
        "relayed_outbox_unsent",
        "release_outbox",
        spread=True,
    ),
    Channel(
        EVENTS_QUEUE,
        "apply_event",
        "claim_unrelayed_events",
        "record_event_messages",
        "relayed_events_unapplied",
        "release_events",
    ),
    Channel(
        HOOKS_QUEUE,
        "deliver_event",
        "claim_unrelayed_hooks",
        "record_hook_messages",
        "relayed_hooks_unsent",
        "release_hooks",
        "events_min_backoff_ms",
        "events_max_backoff_ms",
        "events_enabled",
    ),
)


def _channels(res: Opened) -> list[Channel]:
    return [c for c in CHANNELS if c.switch is None or getattr(res.settings, c.switch)]


async def run(broker: Broker, res: Opened, stop: asyncio.Event) -> None:
    next_check = time.monotonic()
    while not stop.is_set():
        try:
            if time.monotonic() >= next_check:
                next_check = time.monotonic() + res.settings.relay_check_after / 2
                for channel in _channels(res):
                    await release_lost(broker, res, channel)
            busy = False
            due = await due_queues(res)
            for channel in _channels(res):
                if channel.queue in due:
                    busy |= await relay(broker, res, channel) >= BATCH
            if not busy:
                await _sleep_unless(stop, res.settings.relay_interval)
        except Exception as e:
            # Whatever went wrong (PostgreSQL or Redis away), the relay must outlive it.
            log.warning("relay paused", extra={"error": type(e).__name__})
            await _sleep_unless(stop, 1.0)


async def _sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


async def due_queues(res: Opened) -> set[str]:
    """The queues whose table holds rows to claim now. Most polls find none: one autocommitted
    statement then, instead of a claiming transaction per table (three round trips each)."""
    async with res.pool.acquire() as conn:
        found = await db.queries().relay_due(conn)
    return {queue for queue, waiting in found.items() if waiting}


async def relay(broker: Broker, res: Opened, channel: Channel) -> int:
    """Claim and queue one batch; returns how many rows went."""
    with tracing.work_span(f"claim {channel.queue}"):
        return await _relay(broker, res, channel)


async def _relay(broker: Broker, res: Opened, channel: Channel) -> int:
    q = db.queries()
    async with res.pool.acquire() as conn, conn.transaction():
        rows = {
            r["id"]: r["traceparent"] async for r in getattr(q, channel.claim)(conn, batch=BATCH)
        }
        claimed = list(rows)
        if claimed:
            ids, message_ids = await _enqueue(broker.get_actor(channel.actor), channel, res, rows)
            await getattr(q, channel.record)(conn, ids=ids, message_ids=message_ids)
    if claimed:
        metrics.RELAY_BATCHES.labels(channel.queue).inc()
        metrics.RELAY_ROWS.labels(channel.queue).inc(len(claimed))
    return len(claimed)


async def _enqueue(
    actor: Actor, channel: Channel, res: Opened, rows: dict[int, str | None]
) -> tuple[list[int], list[str]]:
    """Send the ids in chunks; returns each id with the id of the message that carries it."""
    if not tracing.enabled():
        return await _send(actor, channel, res, list(rows), lambda chunk: {})
    from opentelemetry import trace

    from signup_worker.tracing import options_for

    # One producer span per batch, linked to every request whose row it carries; each message
    # also carries each row's traceparent, so the worker's row span continues that request.
    links = [link for link in map(tracing.link_to, rows.values()) if link is not None]
    tracer = trace.get_tracer("signup")
    with tracer.start_as_current_span(
        f"relay {actor.queue_name}", kind=trace.SpanKind.PRODUCER, links=links
    ):
        return await _send(actor, channel, res, list(rows), lambda chunk: options_for(chunk, rows))


async def _send(
    actor: Actor,
    channel: Channel,
    res: Opened,
    ids: list[int],
    extra: Callable[[list[int]], dict[str, Any]],
) -> tuple[list[int], list[str]]:
    s = res.settings
    # Every thread of the worker's processes: this process knows no other pod's.
    hands = s.worker_threads * s.worker_processes if channel.spread else 1
    chunks = queue.chunks(ids, hands)
    messages = [
        actor.message_with_options(
            args=(chunk,),
            min_backoff=getattr(s, channel.min_backoff),
            max_backoff=getattr(s, channel.max_backoff),
            **extra(chunk),
        )
        for chunk in chunks
    ]

    def send_all() -> list[str]:
        # The broker keeps each message under the id it gives the enqueued copy, not under
        # message_id: that is the id release_lost asks the broker about.
        return [actor.broker.enqueue(message).options["redis_message_id"] for message in messages]

    # Dramatiq's enqueue is blocking; keep it off the loop the actors run on.
    held_as = await asyncio.to_thread(send_all)
    carried = [(i, m) for m, chunk in zip(held_as, chunks, strict=True) for i in chunk]
    return [i for i, _ in carried], [m for _, m in carried]


async def release_lost(broker: Broker, res: Opened, channel: Channel) -> int:
    """Release rows relayed a while ago whose message Redis no longer holds; returns how many."""
    q = db.queries()
    async with res.pool.acquire() as conn:
        rows = [
            (r["id"], r["message_id"])
            async for r in getattr(q, channel.relayed)(
                conn, older_than=float(res.settings.relay_check_after), batch=BATCH
            )
        ]
        if not rows:
            return 0
        wanted = {m for _, m in rows if m is not None}
        held = await asyncio.to_thread(broker_keys.held, broker, channel.queue, wanted)
        lost = [(i, m) for i, m in rows if m not in held]
        if not lost:
            return 0
        released = await getattr(q, channel.release)(
            conn, ids=[i for i, _ in lost], message_ids=[m for _, m in lost]
        )
    if released:
        metrics.RELAY_RELEASED.labels(channel.queue).inc(released)
        log.warning(
            "queue messages lost; rows released to the relay",
            extra={"queue": channel.queue, "rows": released},
        )
    return released

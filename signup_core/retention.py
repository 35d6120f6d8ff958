"""Retention: what expires when, purged in short batches so no lock is held for long on what
the request path writes. The worker's purge loop and `signupctl purge` both call purge()."""

from __future__ import annotations

import datetime
from collections.abc import Awaitable, Callable

import asyncpg

from signup_core import db
from signup_core.settings import Settings

# What is purged, with the setting that says how long it is kept: (name, purge query, count
# query, Settings field).
KINDS = (
    ("pending", "purge_pending", "count_pending", "retain_pending"),
    ("tokens", "purge_tokens", "count_tokens", "retain_tokens"),
    ("outbox", "purge_outbox", "count_outbox", "retain_outbox"),
    ("events", "purge_events", "count_events", "retain_events"),
    # Not deleted but stripped: closed subscriptions keep what suppression and proof need.
    ("closed", "minimise_closed", "count_closed", "retain_closed"),
    ("dead_letters", "purge_dead_letters", "count_dead_letters", "retain_dead_letters"),
    ("outbound_sent", "purge_sent_hooks", "count_sent_hooks", "retain_outbox"),
    ("outbound_dead", "purge_dead_hooks", "count_dead_hooks", "retain_dead_letters"),
)


def cutoffs(settings: Settings, now: datetime.datetime) -> dict[str, datetime.datetime]:
    return {
        name: now - datetime.timedelta(seconds=getattr(settings, field))
        for name, _, _, field in KINDS
    }


async def count(pool: asyncpg.Pool, settings: Settings, now: datetime.datetime) -> dict[str, int]:
    """What a purge at `now` would delete."""
    q = db.queries()
    limits = cutoffs(settings, now)
    async with pool.acquire() as conn:
        return {
            name: await getattr(q, counter)(conn, cutoff=limits[name])
            for name, _, counter, _ in KINDS
        }


async def purge(
    pool: asyncpg.Pool,
    settings: Settings,
    now: datetime.datetime,
    batch: int | None = None,
    on_batch: Callable[[str, int], None] | None = None,
    guard: Callable[[asyncpg.Connection], Awaitable[bool]] | None = None,
) -> dict[str, int]:
    """Delete everything expired at `now`, one batch per transaction; returns counts.
    `guard`, when given, runs before each batch, in a statement of its own (the worker renews
    its purge lease there; inside the batch's transaction its row lock would hold up every
    other worker's look at the lease until the batch ends): the purge stops when it says no."""
    q = db.queries()
    size = batch or settings.purge_batch
    limits = cutoffs(settings, now)
    done: dict[str, int] = {}
    for name, purger, _, _ in KINDS:
        done[name] = 0
        while True:
            async with pool.acquire() as conn:
                if guard is not None and not await guard(conn):
                    return done
                deleted = await getattr(q, purger)(conn, cutoff=limits[name], batch=size)
            done[name] += deleted
            if on_batch is not None:
                on_batch(name, deleted)
            if deleted < size:
                break
    return done

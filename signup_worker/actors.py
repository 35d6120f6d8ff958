"""Dramatiq actors: thin, given ids only, safe to run twice.

Each message carries a small chunk of ids (the relay makes them): per-message costs in the
relay and in Dramatiq were more than half the worker's CPU per mail when each mail was its own
message. Every row is still handled in its own transaction and has its own outcome: one row's
trouble never fails another row, and a retried chunk skips the rows already done.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Awaitable, Callable
from typing import Any

import dramatiq
from dramatiq.middleware.time_limit import TimeLimitExceeded

from signup_core import db, tracing
from signup_core.mail.failures import TransientMailError
from signup_core.queue import CHUNK, EVENTS_QUEUE, HOOKS_QUEUE, MAIL_QUEUE
from signup_worker import events, hooks, mailer, metrics
from signup_worker.resources import Opened, WorkerNotReady, configured, current
from signup_worker.tracing import ROW_TRACEPARENTS

log = logging.getLogger(__name__)

# Failures that pass: a relay or server that is down, a worker not ready yet.
TRANSIENT = (TransientMailError, hooks.TransientHookError, WorkerNotReady, *db.UNAVAILABLE)


def _retry_transient(retries: int, error: BaseException) -> bool:
    return isinstance(error, (dramatiq.Retry, TimeLimitExceeded)) and (
        retries < configured().mail_max_retries
    )


@dramatiq.actor(queue_name=MAIL_QUEUE, max_retries=0, time_limit=60_000)
async def mark_mail_dead(message: dict[str, Any], retry_info: dict[str, Any]) -> None:
    """Runs when send_mail gave up: its unsent rows are dead-lettered so the relay stops."""
    async with current().pool.acquire() as conn:
        for outbox_id in message["args"][0]:
            kind = await db.queries().mark_outbox_gave_up(conn, outbox_id=outbox_id)
            if kind is not None:
                metrics.mail(kind, "gave_up")
    log.error(
        "mail dead-lettered",
        extra={"outbox_ids": message["args"][0], "retries": retry_info.get("retries")},
    )


Handle = Callable[[Opened, int], Awaitable[Any]]
Fail = Callable[[Any, int, str], Awaitable[Any]]


async def _each(ids: list[int], handle: Handle, fail: Fail) -> None:
    """Handle every id; a row that breaks unexpectedly is failed alone; if any failed
    transiently, the message is retried (with backoff) for those rows."""
    retry: str | None = None
    wait: float | None = None
    parents = ROW_TRACEPARENTS.get() or {}
    for row_id in ids:
        try:
            name = f"{handle.__module__.rsplit('.', 1)[-1]}.{handle.__name__}"
            with tracing.row_span(name, row_id, parents.get(row_id)):
                await handle(current(), row_id)
        except TRANSIENT as e:
            retry = (
                str(e)
                if isinstance(e, TransientMailError | hooks.TransientHookError)
                else type(e).__name__
            )
            wait = max(wait or 0.0, getattr(e, "retry_after", None) or 0.0) or wait
        except Exception as e:
            retry = await _fail_alone(fail, row_id, e) or retry
    if retry is not None:
        # One warning line, no traceback: an expected retry is not an error. Retry carries no
        # traceback into Dramatiq's log either.
        log.warning("will retry", extra={"ids": ids, "reason": retry, "wait": wait})
        raise dramatiq.Retry(retry, delay=_delay(wait))


def _delay(wait: float | None) -> int | None:
    """A provider's rate-limit reset as the retry's delay, never sooner than the configured
    least backoff; None leaves the delay to the backoff."""
    if wait is None:
        return None
    return max(int(wait * 1000), configured().mail_min_backoff_ms)


async def _fail_alone(fail: Fail, row_id: int, error: Exception) -> str | None:
    """Mark one row failed for good; returns a retry reason if even that was not possible."""
    frame = traceback.extract_tb(error.__traceback__)[-1]
    # The type and the place, never the message: messages can quote an address or a name.
    where = f"{frame.filename.rsplit('/', 1)[-1]}:{frame.lineno}"
    log.error("row failed", extra={"id": row_id, "error": type(error).__name__, "at": where})
    try:
        async with current().pool.acquire() as conn:
            await fail(conn, row_id, f"error {type(error).__name__} at {where}")
    except TRANSIENT as e:
        return type(e).__name__
    return None


def _fail_mail(conn: Any, outbox_id: int, failure: str) -> Awaitable[Any]:
    metrics.mail("unknown", "failed")
    return db.queries().mark_outbox_failed(conn, outbox_id=outbox_id, failure=failure)


def _fail_event(conn: Any, event_id: int, failure: str) -> Awaitable[Any]:
    return db.queries().mark_event_failed(conn, event_id=event_id, failure=failure)


@dramatiq.actor(
    queue_name=MAIL_QUEUE,
    retry_when=_retry_transient,
    on_retry_exhausted=mark_mail_dead.actor_name,
    time_limit=CHUNK * 30_000,
    # The relay sends every message with the configured backoff; these are only the fallback.
    min_backoff=1_000,
    max_backoff=300_000,
)
async def send_mail(outbox_ids: list[int]) -> None:
    chunk = mailer.Chunk()
    try:
        await _each(outbox_ids, chunk.deliver, _fail_mail)
    finally:
        await chunk.close()


@dramatiq.actor(
    queue_name=EVENTS_QUEUE,
    retry_when=_retry_transient,
    time_limit=CHUNK * 10_000,
    min_backoff=1_000,
    max_backoff=60_000,
)
async def apply_event(event_ids: list[int]) -> None:
    await _each(event_ids, events.apply, _fail_event)


def _retry_hook(retries: int, error: BaseException) -> bool:
    return isinstance(error, (dramatiq.Retry, TimeLimitExceeded)) and (
        retries < configured().events_max_retries
    )


@dramatiq.actor(queue_name=HOOKS_QUEUE, max_retries=0, time_limit=60_000)
async def mark_events_dead(message: dict[str, Any], retry_info: dict[str, Any]) -> None:
    """Runs when deliver_event gave up: its undelivered events are dead-lettered."""
    async with current().pool.acquire() as conn:
        for event_id in message["args"][0]:
            kind = await db.queries().mark_hook_gave_up(conn, event_id=event_id)
            if kind is not None:
                metrics.hook(kind, "gave_up")
    log.error(
        "outbound events dead-lettered",
        extra={"event_ids": message["args"][0], "retries": retry_info.get("retries")},
    )


def _fail_hook(conn: Any, event_id: int, failure: str) -> Awaitable[Any]:
    return db.queries().mark_hook_failed(conn, event_id=event_id, failure=failure)


@dramatiq.actor(
    queue_name=HOOKS_QUEUE,
    retry_when=_retry_hook,
    on_retry_exhausted=mark_events_dead.actor_name,
    time_limit=CHUNK * 30_000,
    # The relay sends every message with SIGNUP_EVENTS_*_BACKOFF_MS; these are the fallback.
    min_backoff=5_000,
    max_backoff=120_000,
)
async def deliver_event(event_ids: list[int]) -> None:
    await _each(event_ids, hooks.deliver, _fail_hook)

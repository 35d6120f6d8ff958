"""Dramatiq actors: thin, given ids only, safe to run twice."""

from __future__ import annotations

import logging
from typing import Any

import dramatiq

from signup_core import db
from signup_core.mail.failures import TransientMailError
from signup_core.queue import EVENTS_QUEUE, MAIL_QUEUE
from signup_worker import events, mailer
from signup_worker.resources import current

log = logging.getLogger(__name__)


def _retry_transient(retries: int, error: BaseException) -> bool:
    return isinstance(error, (TransientMailError, *db.UNAVAILABLE)) and (
        retries < current().settings.mail_max_retries
    )


@dramatiq.actor(queue_name=MAIL_QUEUE, max_retries=0, time_limit=60_000)
async def mark_mail_dead(message: dict[str, Any], retry_info: dict[str, Any]) -> None:
    """Runs when send_mail gave up: the row is dead-lettered so the relay stops resending it."""
    outbox_id = int(message["args"][0])
    async with current().pool.acquire() as conn:
        await db.queries().mark_outbox_failed(conn, outbox_id=outbox_id, failure="gave up")
    log.error(
        "mail dead-lettered", extra={"outbox_id": outbox_id, "retries": retry_info.get("retries")}
    )


@dramatiq.actor(
    queue_name=MAIL_QUEUE,
    retry_when=_retry_transient,
    on_retry_exhausted=mark_mail_dead.actor_name,
    time_limit=60_000,
    # The relay sends every message with the configured backoff; these are only the fallback.
    min_backoff=1_000,
    max_backoff=300_000,
)
async def send_mail(outbox_id: int) -> None:
    await mailer.deliver(current(), outbox_id)


@dramatiq.actor(
    queue_name=EVENTS_QUEUE,
    retry_when=_retry_transient,
    time_limit=30_000,
    min_backoff=1_000,
    max_backoff=60_000,
)
async def apply_event(event_id: int) -> None:
    await events.apply(current(), event_id)

"""Dramatiq actors: thin, given ids only, safe to run twice.

Each message carries a small chunk of ids (the relay makes them): per-message costs in the
relay and in Dramatiq were more than half the worker's CPU per mail when each mail was its own
message. Every row is still handled in its own transaction, so one row's trouble never undoes
another's work, and a retried chunk skips the rows already done.
"""

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

# Rows per message; with a 10 s SMTP timeout, a chunk finishes well within its time limit.
# (25 was tried: interleaved runs against 10 showed no difference in mails/s.)
CHUNK = 10


def _retry_transient(retries: int, error: BaseException) -> bool:
    return isinstance(error, (TransientMailError, *db.UNAVAILABLE)) and (
        retries < current().settings.mail_max_retries
    )


@dramatiq.actor(queue_name=MAIL_QUEUE, max_retries=0, time_limit=60_000)
async def mark_mail_dead(message: dict[str, Any], retry_info: dict[str, Any]) -> None:
    """Runs when send_mail gave up: its unsent rows are dead-lettered so the relay stops."""
    async with current().pool.acquire() as conn:
        for outbox_id in message["args"][0]:
            await db.queries().mark_outbox_failed(conn, outbox_id=outbox_id, failure="gave up")
    log.error(
        "mail dead-lettered",
        extra={"outbox_ids": message["args"][0], "retries": retry_info.get("retries")},
    )


async def _each(ids: list[int], handle) -> None:
    """Handle every id; then, if any failed transiently, fail the message so it is retried."""
    failure: BaseException | None = None
    for row_id in ids:
        try:
            await handle(current(), row_id)
        except (TransientMailError, *db.UNAVAILABLE) as e:
            failure = e
    if failure is not None:
        raise failure


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
    await _each(outbox_ids, mailer.deliver)


@dramatiq.actor(
    queue_name=EVENTS_QUEUE,
    retry_when=_retry_transient,
    time_limit=CHUNK * 10_000,
    min_backoff=1_000,
    max_backoff=60_000,
)
async def apply_event(event_ids: list[int]) -> None:
    await _each(event_ids, events.apply)

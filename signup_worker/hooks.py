"""Delivers one outbound event to SIGNUP_EVENTS_URL, at least once: row lock, signed POST,
mark delivered (forgetting the address), commit. A 2xx is delivered; 410 Gone means the
receiver asked us to stop: the event is dead-lettered at once and the log says so; anything
else (another status, a timeout, no connection) is retried with backoff by the actor."""

from __future__ import annotations

import json
import logging
import time

import httpx

from signup_core import db, sealing, webhook_signing
from signup_worker import metrics
from signup_worker.resources import Opened

log = logging.getLogger(__name__)


class TransientHookError(RuntimeError):
    """The receiver did not take the event this time; a retry follows."""


def body(res: Opened, job: dict) -> bytes:
    """The event as JSON, the same bytes on every attempt (no attempt-time field)."""
    keys, kid = res.settings.seal_keys, job["seal_key_id"]
    data: dict = {"email": sealing.open_column(keys, job["email_sealed"], sealing.EMAIL, kid)}
    if job["list_name"] is not None:
        data["list"] = job["list_name"]
    if job["type"] == "subscriber.confirmed":
        data["name"] = sealing.open_column(keys, job["name_sealed"], sealing.NAME, kid)
    if job["reason"] is not None:
        data["reason"] = job["reason"]
    event = {"type": job["type"], "timestamp": job["occurred_at"].isoformat(), "data": data}
    return json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()


async def deliver(res: Opened, event_id: int) -> str:
    q = db.queries()
    s = res.settings
    async with res.pool.acquire() as conn, conn.transaction():
        job = await q.lock_hook(conn, event_id=event_id)
        if job is None:
            return "done-before"
        if not s.events_enabled or s.events_secret is None:
            await q.mark_hook_failed(conn, event_id=event_id, failure="events are switched off")
            return "off"
        payload = body(res, dict(job))
        headers = webhook_signing.headers(
            s.events_secret.value, job["webhook_id"], int(time.time()), payload
        )
        try:
            answer = await res.http.post(
                s.events_url, content=payload, headers=headers, timeout=s.events_timeout
            )
        except httpx.HTTPError as e:
            failure = f"no answer: {type(e).__name__}"
        else:
            if answer.is_success:
                await q.mark_hook_sent(conn, event_id=event_id)
                metrics.hook(job["type"], "sent")
                log.info("event delivered", extra={"id": event_id, "type": job["type"]})
                return "sent"
            if answer.status_code == 410:
                await q.mark_hook_failed(conn, event_id=event_id, failure="410 Gone")
                metrics.hook(job["type"], "gone")
                log.error(
                    "events receiver answered 410 Gone: it asked us to stop; event "
                    "dead-lettered (replay with signupctl dead-letters replay --event-id)",
                    extra={"id": event_id, "type": job["type"]},
                )
                return "gone"
            failure = f"HTTP {answer.status_code}"
        await q.count_hook_attempt(conn, event_id=event_id, failure=failure)
    metrics.hook(job["type"], "retried")
    raise TransientHookError(failure)

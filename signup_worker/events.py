"""Applies one stored provider event: suppress, count a soft bounce, or unsubscribe."""

from __future__ import annotations

import logging

from signup_core import db
from signup_worker import metrics
from signup_worker.resources import Opened

log = logging.getLogger(__name__)


async def apply(res: Opened, event_id: int) -> str:
    q = db.queries()
    s = res.settings
    async with res.pool.acquire() as conn, conn.transaction():
        event = await q.lock_event(conn, event_id=event_id)
        if event is None:
            return "done-before"
        kind, index = event["kind"], event["email_index"]
        # A suppression is filed under the key the event's index was made with.
        filed = {
            "email_index": index,
            "index_key": event["email_index_key"],
            "events": s.events_enabled,
        }
        if kind in ("hard_bounce", "complaint"):
            await q.suppress_address(conn, **filed, reason=kind, provider=event["provider"])
        elif kind == "soft_bounce":
            # Measured between the bounces' own times, not against a clock: a provider's late
            # delivery still counts with the bounces it happened beside.
            count = await q.most_soft_bounces_in_a_window(
                conn, email_index=index, window_seconds=float(s.soft_bounce_window)
            )
            if count >= s.soft_bounce_limit:
                await q.suppress_address(
                    conn, **filed, reason="soft_bounces", provider=event["provider"]
                )
        elif kind == "suppressed":
            # The provider itself will not send there any more: mail to it would only be lost.
            await q.suppress_address(
                conn, **filed, reason="provider_suppressed", provider=event["provider"]
            )
        elif kind == "unsubscribe":
            await q.unsubscribe_address(conn, email_index=index, events=s.events_enabled)
        await q.mark_event_applied(conn, event_id=event_id)
    metrics.provider_event(event["provider"], kind)
    log.info(
        "provider event applied",
        extra={"event_id": event_id, "kind": kind, "provider": event["provider"]},
    )
    return kind

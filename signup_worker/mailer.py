"""Sends the mail for one outbox row, at most once: row lock, send, mark sent, commit. If the
database goes away between the send and the commit, only the recording is tried again."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from email.utils import parseaddr

import asyncpg

from signup_core import db, sealing, tokens, unsubscribe_links
from signup_core.mail.failures import PermanentMailError, TransientMailError
from signup_core.mail.render import Envelope, render
from signup_core.settings import Settings
from signup_worker import metrics
from signup_worker.resources import Opened

log = logging.getLogger(__name__)

# Which subscription status each kind of mail may go to; anything else is never sent.
ALLOWED = {
    "confirmation": "pending",
    "welcome": "confirmed",
    "already_subscribed": "confirmed",
    "unsubscribed": "unsubscribed",
}


def sender(settings: Settings) -> str:
    """SIGNUP_MAIL_FROM, its display name replaced by SIGNUP_SENDER_NAME when that is set."""
    if not settings.sender_name:
        return settings.mail_from
    # Quoted, not encoded: each transport encodes the name its own way.
    name = settings.sender_name.replace("\\", "").replace('"', "")
    return f'"{name}" <{parseaddr(settings.mail_from)[1]}>'


# How long a sent mail's record is tried again when the transaction that held it was lost (a
# PostgreSQL switchover takes seconds); only then does the message's retry send it again.
RECORD_AGAIN_FOR = 30.0

Record = Callable[[object], Awaitable[object]]


async def deliver(res: Opened, outbox_id: int) -> str:
    """Send the row's mail; returns what happened. Transient errors propagate for a retry,
    except after the mail went out: then the send is kept and only its record is redone."""
    sent: list[tuple[Record, str]] = []
    try:
        return await _deliver(res, outbox_id, sent)
    except db.UNAVAILABLE as e:
        if not sent:
            raise
        record, kind = sent[0]
        log.warning(
            "mail sent but not recorded; recording again",
            extra={"outbox_id": outbox_id, "error": type(e).__name__},
        )
    await _record_again(res, record, outbox_id)
    metrics.mail(kind, "sent")
    log.info("mail sent", extra={"outbox_id": outbox_id, "kind": kind})
    return "sent"


async def _record_again(res: Opened, record: Record, outbox_id: int) -> None:
    deadline = time.monotonic() + RECORD_AGAIN_FOR
    pause = 0.2
    while True:
        try:
            async with res.pool.acquire() as conn, conn.transaction():
                await record(conn)
            return
        except asyncpg.UniqueViolationError:
            return  # the commit that seemed lost went through: the token is stored already
        except db.UNAVAILABLE:
            if time.monotonic() > deadline:
                log.error("mail sent but never recorded", extra={"outbox_id": outbox_id})
                raise
            await asyncio.sleep(pause)
            pause = min(pause * 2, 2.0)


async def _deliver(res: Opened, outbox_id: int, sent: list[tuple[Record, str]]) -> str:
    q = db.queries()
    s = res.settings
    async with res.pool.acquire() as conn, conn.transaction():
        job = await q.lock_outbox_mail(conn, outbox_id=outbox_id)
        if job is None:
            return "done-before"
        if ALLOWED[job["kind"]] != job["status"]:
            await q.mark_outbox_failed(conn, outbox_id=outbox_id, failure=f"status {job['status']}")
            metrics.mail(job["kind"], "skipped")
            return "skipped"
        keys, key_id = s.seal_keys, job["seal_key_id"]
        context = {
            "name": sealing.open_column(keys, job["name_sealed"], sealing.NAME, key_id),
            "list_name": job["list_name"],
            "list_title": s.list_title(job["list_name"]),
            "site_name": s.site_name,
            "accent": s.accent_colour,
        }
        token_hash = None
        if job["kind"] == "confirmation":
            # Minted here, not on the request path: the raw token exists only in this mail.
            # Its hash is stored with the sent mark below, in this same transaction.
            token, token_hash = tokens.mint()
            context["confirm_url"] = f"{s.public_base_url}/confirm?token={token}"
            context["ttl_hours"] = s.token_ttl // 3600
        envelope = Envelope(
            to_address=sealing.open_column(keys, job["email_sealed"], sealing.EMAIL, key_id) or "",
            to_name=context["name"],
            sender=sender(s),
            reply_to=s.mail_reply_to,
            domain=s.mail_domain,
            unsubscribe_url=unsubscribe_links.url(s, job["unsubscribe_id"]),
            list_name=job["list_name"],
            list_title=context["list_title"],
        )
        message = render(
            job["kind"], job["locale"], envelope, context, templates_dir=s.templates_dir
        )
        started = time.perf_counter()
        try:
            await res.transport.send(message)
        except TransientMailError:
            metrics.mail(job["kind"], "deferred")
            raise
        except PermanentMailError as e:
            await q.mark_outbox_failed(conn, outbox_id=outbox_id, failure=str(e))
            if e.recipient:
                # The mailbox itself was refused: as good as a hard bounce.
                await q.suppress_subscription(
                    conn,
                    subscription_id=job["subscription_id"],
                    reason="refused",
                    provider=s.mail_transport,
                    events=s.events_enabled,
                )
            log.warning("mail refused for good", extra={"outbox_id": outbox_id, "failure": str(e)})
            metrics.mail(job["kind"], "failed")
            return "refused"
        finally:
            metrics.SEND_SECONDS.labels(s.mail_transport).observe(time.perf_counter() - started)

        async def record(conn) -> object:
            if token_hash is None:
                return await q.mark_outbox_sent(conn, outbox_id=outbox_id)
            return await q.mark_confirmation_sent(
                conn,
                outbox_id=outbox_id,
                token_hash=token_hash,
                subscription_id=job["subscription_id"],
                ttl_seconds=float(s.token_ttl),
            )

        sent.append((record, job["kind"]))
        await record(conn)
    # Counted after the commit: a mail whose sent mark was lost is sent again, and counted then.
    metrics.mail(job["kind"], "sent")
    log.info("mail sent", extra={"outbox_id": outbox_id, "kind": job["kind"]})
    return "sent"

"""Sends the mail for one outbox row, at most once: row lock, send, mark sent, commit. If the
database goes away between the send and the commit, only the recording is tried again."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from email.utils import parseaddr

import asyncpg

from signup_core import db, key_registry, manage_links, sealing, tokens, unsubscribe_links
from signup_core.clock import Clock
from signup_core.index_keys import IndexKeys, StaleIndexKey, index_keys
from signup_core.mail.failures import PermanentMailError, TransientMailError
from signup_core.mail.render import Envelope, render
from signup_core.settings import Settings
from signup_worker import metrics
from signup_worker.resources import Opened

log = logging.getLogger(__name__)

CLOCK = Clock()

# Which subscription statuses each kind of mail may go to; anything else is never sent.
ALLOWED = {
    "confirmation": ("pending",),
    "welcome": ("confirmed",),
    "already_subscribed": ("confirmed",),
    "unsubscribed": ("unsubscribed",),
    # Asked for on the preference page, by someone on a list, waiting, or gone from all.
    "data_link": ("pending", "confirmed", "unsubscribed"),
}


def sender(settings: Settings) -> str:
    """SIGNUP_MAIL_FROM, its display name replaced by SIGNUP_SENDER_NAME when that is set."""
    return _sender(settings.mail_from, settings.sender_name)


@functools.lru_cache(maxsize=8)  # parsing was ~3 % of a mail's CPU, for the same answer
def _sender(mail_from: str, sender_name: str | None) -> str:
    if not sender_name:
        return mail_from
    # Quoted, not encoded: each transport encodes the name its own way.
    name = sender_name.replace("\\", "").replace('"', "")
    return f'"{name}" <{parseaddr(mail_from)[1]}>'


# How long a sent mail's record is tried again when the transaction that held it was lost (a
# PostgreSQL switchover takes seconds); only then does the message's retry send it again.
RECORD_AGAIN_FOR = 30.0

Record = Callable[[object], Awaitable[object]]


Connect = Callable[[], AbstractAsyncContextManager[asyncpg.Connection]]


async def deliver(res: Opened, outbox_id: int, connect: Connect | None = None) -> str:
    """Send the row's mail; returns what happened. Transient errors propagate for a retry,
    except after the mail went out: then the send is kept and only its record is redone.
    `connect` gives the connection (a chunk's, see Chunk); by default one from the pool."""
    sent: list[tuple[Record, str]] = []
    keys = index_keys(res.settings)
    try:
        return await _deliver(res, connect or res.pool.acquire, keys, outbox_id, sent)
    except StaleIndexKey:
        return await _stale(res, keys, outbox_id)  # raised before anything is sent
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


async def _stale(res: Opened, keys: IndexKeys, outbox_id: int) -> str:
    """Another process made a newer blind-index key current: this worker can no longer tell
    where a suppression is filed. The row goes back to the relay, for a worker on the current
    key; registering again makes this one's key current if it is the newer one."""
    log.error("blind-index key is not the database's current one: restart with it")
    async with res.pool.acquire() as conn:
        await db.queries().release_outbox_row(conn, outbox_id=outbox_id)
    if keys.previous is not None:  # only a worker with a previous key can be the newer
        with contextlib.suppress(key_registry.KeyMismatch):
            await key_registry.register(res.pool, keys)
    return "stale-key"


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


class Chunk:
    """One pooled connection for the rows of a chunk, in turn: a pool acquire and release per
    mail (and the task switches around them) were ~5 % of a mail's CPU. Each row keeps its own
    transaction; a row that raises gives the connection back, and the next takes a fresh one,
    as it does when the held connection was closed meanwhile (what the pool would replace)."""

    def __init__(self) -> None:
        self._pool: asyncpg.Pool | None = None
        self._conn: asyncpg.Connection | None = None

    async def deliver(self, res: Opened, outbox_id: int) -> str:
        self._pool = res.pool
        return await deliver(res, outbox_id, self._connection)

    @contextlib.asynccontextmanager
    async def _connection(self) -> AsyncIterator[asyncpg.Connection]:
        if self._conn is not None and _closed(self._conn):
            await self.close()
        if self._conn is None:
            self._conn = await self._pool.acquire()
        try:
            yield self._conn
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            # Never the message's failure: a retry (dramatiq.Retry) must not be replaced.
            with contextlib.suppress(*db.UNAVAILABLE):
                await self._pool.release(conn)


def _closed(conn: asyncpg.Connection) -> bool:
    try:
        return conn.is_closed()
    except asyncpg.InterfaceError:
        return True  # the pool took it back when it closed (asyncpg detaches a lost one)


async def _deliver(
    res: Opened, connect: Connect, index: IndexKeys, outbox_id: int, sent: list[tuple[Record, str]]
) -> str:
    q = db.queries()
    s = res.settings
    async with connect() as conn, conn.transaction():
        job = await q.lock_outbox_mail(conn, outbox_id=outbox_id)
        if job is None:
            return "done-before"
        keys, key_id = s.seal_keys, job["seal_key_id"]
        to_address = sealing.open_column(keys, job["email_sealed"], sealing.EMAIL, key_id) or ""
        status = job["status"]
        if status != "suppressed":
            # The address itself, under every key this process knows, not the row's stored
            # index, which a rotation may not have reached yet (or may have moved on from).
            lookup = index.lookup(str(to_address))
            check = await q.check_mail_address(
                conn, index_key=index.current_id, lookups=lookup.every
            )
            status = "suppressed" if check["suppressed"] else status
        if status not in ALLOWED[job["kind"]]:
            await q.mark_outbox_failed(conn, outbox_id=outbox_id, failure=f"status {status}")
            metrics.mail(job["kind"], "skipped")
            return "skipped"
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
        else:
            # Not in the confirmation: until the address is proven, a page that joins lists
            # without a confirmation has no business in a mail anyone may have asked for.
            context["manage_url"] = manage_links.url(s, "manage", job["unsubscribe_id"], CLOCK)
        if job["kind"] == "data_link":
            context["data_url"] = manage_links.url(s, "data", job["unsubscribe_id"], CLOCK)
            context["ttl_minutes"] = s.data_link_ttl // 60
        envelope = Envelope(
            to_address=to_address,
            to_name=context["name"],
            sender=sender(s),
            reply_to=s.mail_reply_to,
            domain=s.mail_domain,
            unsubscribe_url=unsubscribe_links.url(s, job["unsubscribe_id"]),
            # The data link is a mail to one person, not a mail of the list.
            list_name=None if job["kind"] == "data_link" else job["list_name"],
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
                    held=index.held(str(to_address)),
                    held_key=index.held_id,
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

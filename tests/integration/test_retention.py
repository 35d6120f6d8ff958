"""Retention: purge deletes exactly what has expired, in batches; dry-run counts; the worker's
loop runs on one worker of the cluster at a time; every purge is audited."""

from __future__ import annotations

import asyncio
import datetime
import uuid

import asyncpg

from signup_core import db as core_db
from signup_core import retention
from signup_core.clock import Clock, FixedClock
from signup_core.settings import load_settings
from signup_worker.purge import purge_once
from tests.integration.test_operator_cli import _signup, index
from tests.privacy_support import privacy, signupctl
from tests.support import inspect

DAY = 86400
# The kinds a world without closed subscriptions or dead letters has none of.
NONE_CLOSED = {"closed": 0, "dead_letters": 0, "outbound_sent": 0, "outbound_dead": 0}


async def _world(db) -> dict[str, str]:
    """Two addresses of each kind: one pending, one confirmed with a spent token and a sent
    mail, and an applied and an unapplied provider event."""
    pending, confirmed = (f"{n}-{uuid.uuid4().hex[:8]}@example.com" for n in ("p", "c"))
    await _signup(db, pending)
    row = await _signup(db, confirmed)
    await db.execute(
        "UPDATE subscriptions SET status = 'confirmed', confirmed_at = now() WHERE email_index = $1",  # noqa: E501
        index(confirmed),
    )
    await db.execute("UPDATE outbox SET sent_at = now() WHERE id = $1", row["outbox_id"])
    [sub] = [r async for r in inspect().subscriptions_by_index(db, email_index=index(confirmed))]
    await inspect().insert_token(
        db, token_hash=bytes(32), subscription_id=sub["id"], ttl_seconds=DAY
    )
    for applied in (True, False):
        await privacy().insert_event(
            db, email_index=index(confirmed), event_id=uuid.uuid4().hex, kind="delivered",
            applied=applied,
        )  # fmt: skip
    return {"pending": pending, "confirmed": confirmed}


async def test_purge_removes_exactly_what_expired_in_batches(db, settings):
    world = await _world(db)
    await privacy().age_rows(db, seconds=float(9 * DAY))  # tokens kept 7 days, the rest 30
    pool = await core_db.create_pool(settings, max_size=2)
    try:
        now = Clock().now()
        # Only the token (expired 8 days ago) is past its 7 days; nothing is past 30
        assert await retention.count(pool, settings, now) == {
            "pending": 0, "tokens": 1, "outbox": 0, "events": 0,
            **NONE_CLOSED,
        }  # fmt: skip
        # Given a clock 22 days on: everything is 31 days old
        later = now + datetime.timedelta(days=22)
        assert await retention.count(pool, settings, later) == {
            "pending": 1, "tokens": 1, "outbox": 1, "events": 1,
            **NONE_CLOSED,
        }  # fmt: skip
        batches: list[tuple[str, int]] = []
        counts = await retention.purge(
            pool, settings, later, batch=1, on_batch=lambda k, n: batches.append((k, n))
        )
    finally:
        await pool.close()
    assert counts == {
        "pending": 1, "tokens": 1, "outbox": 1, "events": 1, **NONE_CLOSED,
    }  # fmt: skip
    assert ("pending", 1) in batches and ("pending", 0) in batches  # batch of one, then empty
    # Then the pending subscription and its mail are gone; the confirmed one and its
    # unapplied event stay
    assert [
        r async for r in inspect().subscriptions_by_index(db, email_index=index(world["pending"]))
    ] == []
    [kept] = [
        r async for r in inspect().subscriptions_by_index(db, email_index=index(world["confirmed"]))
    ]
    assert kept["status"] == "confirmed"
    assert (await inspect().count_events(db))["events"] == 1


async def test_the_worker_loop_skips_while_another_worker_purges(db, migrated, settings):
    from signup_worker.resources import Opened

    holder = await asyncpg.connect(migrated)
    pool = await core_db.create_pool(settings, max_size=2)
    q = core_db.queries()
    try:
        res = Opened(settings, pool, transport=None, http=None)  # type: ignore[arg-type]
        assert await q.take_lease(holder, name="purge", holder="other", ttl_seconds=60.0)
        assert await purge_once(res, FixedClock(Clock().now())) is None
        await q.drop_lease(holder, name="purge", holder="other")
        assert await purge_once(res, FixedClock(Clock().now())) is not None
        # Given up when done: the next one need not wait for it to lapse
        assert await q.take_lease(holder, name="purge", holder="other", ttl_seconds=60.0)
        await q.drop_lease(holder, name="purge", holder="other")
        # A lease whose holder died lapses
        assert await q.take_lease(holder, name="purge", holder="dead", ttl_seconds=0.001)
        await asyncio.sleep(0.01)
        assert await purge_once(res, FixedClock(Clock().now())) is not None
    finally:
        await pool.close()
        await holder.close()


async def test_purge_command_dry_run_prints_counts_and_deletes_nothing(db, env):
    await _world(db)
    await privacy().age_rows(db, seconds=float(40 * DAY))
    dry = signupctl(env, "purge", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.splitlines() == [
        "pending\t1", "tokens\t1", "outbox\t1", "events\t1", "closed\t0", "dead_letters\t0",
        "outbound_sent\t0", "outbound_dead\t0",
    ]  # fmt: skip
    assert (await inspect().count_rows(db))["subscriptions"] == 2
    done = signupctl(env, "purge", "--batch", "1")
    assert done.returncode == 0 and "purged 1 pending, 1 tokens, 1 outbox, 1 events," in done.stderr
    assert (await inspect().count_rows(db))["subscriptions"] == 1
    outcomes = [(a["action"], a["outcome"]) async for a in privacy().audit_actions(db)]
    assert outcomes == [("purge", "dry-run"), ("purge", "done")]


def test_settings_name_the_retention_periods(env):
    s = load_settings({**env, "SIGNUP_RETAIN_PENDING": "2d"})
    assert s.retain_pending == 2 * DAY and s.retain_tokens == 7 * DAY


async def test_closed_subscriptions_are_minimised_and_dead_letters_purged(db, settings):
    from signup_core.person import person_record

    # Given, at the purge's "now", subscriptions and letters 31 and 29 days old
    now = Clock().now() + datetime.timedelta(days=31)
    recent = now - datetime.timedelta(days=29)
    emails = {k: f"{k}-{uuid.uuid4().hex[:6]}@example.com" for k in
              ("unsub_old", "unsub_new", "supp_old", "confirmed_old")}  # fmt: skip
    for email in emails.values():
        await _signup(db, email)
    await db.execute(
        "UPDATE subscriptions SET status = 'unsubscribed', unsubscribed_at = now() "
        "WHERE email_index = ANY($1)",
        [index(emails["unsub_old"]), index(emails["unsub_new"])],
    )
    await db.execute(
        "INSERT INTO suppressions (email_index, reason) VALUES ($1, 'complaint')",
        index(emails["supp_old"]),
    )
    await db.execute(
        "UPDATE subscriptions SET status = 'suppressed', suppressed_at = now(), "
        "suppression_reason = 'complaint' WHERE email_index = $1",
        index(emails["supp_old"]),
    )
    await db.execute(
        "UPDATE subscriptions SET status = 'confirmed', confirmed_at = now() "
        "WHERE email_index = $1",
        index(emails["confirmed_old"]),
    )
    await db.execute(
        "UPDATE subscriptions SET updated_at = $2 WHERE email_index = $1",
        index(emails["unsub_new"]), recent,
    )  # fmt: skip
    mails = [r["id"] for r in await db.fetch("SELECT id FROM outbox ORDER BY id")]
    await db.execute(
        "UPDATE outbox SET failed_at = now(), failure = 'gave up' WHERE id = ANY($1)", mails[:2]
    )
    await db.execute("UPDATE outbox SET failed_at = $2 WHERE id = $1", mails[1], recent)
    for sent, failed in ((True, None), (False, "now"), (False, "recent"), (False, None)):
        await db.execute(
            "INSERT INTO outbound_events (type, email_index, email_sealed, sent_at, failed_at) "
            "VALUES ('subscriber.confirmed', $1, $2, $3, $4)",
            index(emails["confirmed_old"]), b"sealed",
            Clock().now() if sent else None,
            {"now": Clock().now(), "recent": recent, None: None}[failed],
        )  # fmt: skip
    pool = await core_db.create_pool(settings, max_size=2)
    try:
        expected = {
            "pending": 0, "tokens": 0, "outbox": 0, "events": 0, "closed": 2, "dead_letters": 1,
            "outbound_sent": 1, "outbound_dead": 1,
        }  # fmt: skip
        assert await retention.count(pool, settings, now) == expected
        # When the purge runs
        assert await retention.purge(pool, settings, now, batch=1) == expected
        # Then a second run finds nothing more
        assert not any((await retention.purge(pool, settings, now)).values())
        async with pool.acquire() as conn:
            old = await person_record(conn, settings, emails["unsub_old"])
    finally:
        await pool.close()
    rows = {
        r["email_index"]: r
        for r in await db.fetch("SELECT * FROM subscriptions")
    }  # fmt: skip
    for key in ("unsub_old", "supp_old"):
        row = rows[index(emails[key])]
        assert row["email_sealed"] is None and row["name_sealed"] is None
        assert row["minimised_at"] is not None
        # What proof needs stays: status, dates, the consent record
        assert row["consent_at"] is not None and row["consent_source"] == "landing"
    assert rows[index(emails["supp_old"])]["suppression_reason"] == "complaint"
    for key in ("unsub_new", "confirmed_old"):
        assert rows[index(emails[key])]["email_sealed"] is not None
    assert await db.fetchval("SELECT count(*) FROM suppressions") == 1
    assert [
        r["id"] for r in await db.fetch("SELECT id FROM outbox WHERE failed_at IS NOT NULL")
    ] == [mails[1]]
    assert await db.fetchval("SELECT count(*) FROM outbound_events") == 2
    [sub] = old["subscriptions"]
    assert sub["status"] == "unsubscribed" and sub["address"] is None
    # And the person signing up again is whole again
    again = await _signup(db, emails["unsub_old"], name="Back")
    assert again["status"] == "pending"
    row = await db.fetchrow(
        "SELECT * FROM subscriptions WHERE email_index = $1", index(emails["unsub_old"])
    )
    assert row["email_sealed"] is not None and row["minimised_at"] is None

"""signupctl migrate, purge, audit: the schema, retention, and the trail of operator actions."""

from __future__ import annotations

import datetime
import json

import click

from signup_core import db, operations, retention
from signup_core.audit import record
from signup_core.migrations import migrate as apply_migrations
from signup_core.settings import load_migrate_target
from signupctl.common import MOMENT, context, open_pool, run, say


@click.command()
@run
async def migrate() -> None:
    """Apply pending database migrations (needs only DATABASE_URL, or DATABASE_MIGRATE_URL for
    a direct connection past a pooler; safe to run concurrently)."""
    url, mode = load_migrate_target()
    conn = await db.connect(url, mode, timeout=10)
    try:
        applied = await apply_migrations(conn)
        await record(conn, context().who, "migrate", {}, {"applied": len(applied)})
    finally:
        await conn.close()
    say(f"applied {len(applied)} migration(s)" + (f": {', '.join(applied)}" if applied else ""))


@click.command()
@click.option("--dry-run", is_flag=True, help="Print what would be deleted; delete nothing.")
@click.option("--batch", type=click.IntRange(1), help="Rows per transaction (SIGNUP_PURGE_BATCH).")
@run
async def purge(dry_run: bool, batch: int | None) -> None:
    """Delete what the retention settings say has expired.

    Unconfirmed subscriptions (SIGNUP_RETAIN_PENDING), spent or expired confirmation tokens
    (SIGNUP_RETAIN_TOKENS), sent outbox rows (SIGNUP_RETAIN_OUTBOX) and applied provider events
    (SIGNUP_RETAIN_EVENTS); unsubscribed and suppressed subscriptions are stripped of address
    and name (SIGNUP_RETAIN_CLOSED; "closed"), dead-lettered mails (SIGNUP_RETAIN_DEAD_LETTERS),
    delivered and dead-lettered outbound events ("outbound_sent", "outbound_dead") are
    deleted; in short batches. The worker does the same every
    SIGNUP_PURGE_INTERVAL; this is for doing it now.
    """
    ctx = context()
    settings = ctx.settings_for("DATABASE_URL")
    pool = await open_pool(settings)
    try:
        now = ctx.now()
        if dry_run:
            counts = await retention.count(pool, settings, now)
            for name, n in counts.items():
                click.echo(f"{name}\t{n}")
            await record(pool, context().who, "purge", {"dry_run": True}, counts, "dry-run")
            return
        counts = await retention.purge(pool, settings, now, batch=batch)
        await record(pool, context().who, "purge", {"batch": batch or settings.purge_batch}, counts)
    finally:
        await pool.close()
    say("purged " + ", ".join(f"{n} {name}" for name, n in counts.items()))


@click.command("audit")
@click.option(
    "--since", type=MOMENT, help="Only entries at or after this time (ISO 8601; UTC if no offset)."
)
@click.option("--limit", type=click.IntRange(1), default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object a line.")
@run
async def audit_log(since: datetime.datetime | None, limit: int, as_json: bool) -> None:
    """List operator actions, newest first: when, who, what, parameters, counts."""
    settings = context().settings_for("DATABASE_URL")
    conn = await db.connect(settings.database_url.value, settings.database_pool_mode, timeout=10)
    try:
        for row in await operations.audit_entries(conn, since, limit):
            if as_json:
                click.echo(json.dumps(row, sort_keys=True))
            else:
                click.echo(
                    f"{row['at']}\t{row['actor']}\t{row['action']}\t{row['outcome']}\t"
                    f"{json.dumps(row['params'], sort_keys=True)}\t"
                    f"{json.dumps(row['counts'], sort_keys=True)}"
                )
    finally:
        await conn.close()


COMMANDS = (migrate, purge, audit_log)

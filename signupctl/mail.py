"""signupctl dead-letters: mails that failed for good, listed and put back on the queue."""

from __future__ import annotations

import click

from signup_core import operations
from signupctl.common import context, open_pool, run, say


@click.group("dead-letters")
def dead_letters() -> None:
    """Mails the worker gave up on (retries exhausted, refused, or not allowed)."""


@dead_letters.command("list")
@click.option("--limit", type=click.IntRange(1), default=100, show_default=True)
@run
async def list_dead(limit: int) -> None:
    """List dead-lettered mails, newest first: id, kind, list, failed at, why."""
    pool = await open_pool(context().settings_for("DATABASE_URL"))
    try:
        rows = await operations.dead_letters(pool, limit)
    finally:
        await pool.close()
    for r in rows:
        click.echo(
            f"{r['id']}\t{r['kind']}\t{r['list_name']}\t"
            f"{r['failed_at'].isoformat()}\t{r['failure']}"
        )


@dead_letters.command("replay")
@click.option("--id", "outbox_id", type=click.IntRange(1), help="Only this outbox id.")
@click.option("--all", "replay_all", is_flag=True, help="Every dead-lettered mail.")
@run
async def replay(outbox_id: int | None, replay_all: bool) -> None:
    """Put dead-lettered mails back on the queue (their outbox rows reset); the worker sends
    them again, after checking once more that the subscription may receive them."""
    if (outbox_id is None) == (not replay_all):
        raise click.UsageError("give exactly one of --id N or --all")
    pool = await open_pool(context().settings_for("DATABASE_URL"))
    try:
        n = await operations.replay_dead_letters(pool, context().who, outbox_id)
    finally:
        await pool.close()
    if outbox_id is not None and not n:
        raise click.ClickException(f"outbox row {outbox_id} is not dead-lettered")
    say(f"replayed {n} mail(s)")


COMMANDS = (dead_letters,)

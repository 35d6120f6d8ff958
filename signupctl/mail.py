"""signupctl dead-letters: mails and outbound events that failed for good, listed and put back
on the queue."""

from __future__ import annotations

import click

from signup_core import operations
from signupctl.common import context, open_pool, run, say


@click.group("dead-letters")
def dead_letters() -> None:
    """Mails and outbound events the worker gave up on (retries exhausted, refused, or not
    allowed)."""


@dead_letters.command("list")
@click.option("--limit", type=click.IntRange(1), default=100, show_default=True)
@run
async def list_dead(limit: int) -> None:
    """List dead letters, newest first: id, kind, list, failed at, why. Mails first, then
    outbound events (their id prefixed "event:", their kind the event type)."""
    pool = await open_pool(context().settings_for("DATABASE_URL"))
    try:
        rows = await operations.dead_letters(pool, limit)
        events = await operations.dead_events(pool, limit)
    finally:
        await pool.close()
    if not rows and not events:
        say("no dead letters: every mail and event was delivered or is still being tried")
    for r in rows:
        click.echo(
            f"{r['id']}\t{r['kind']}\t{r['list_name']}\t"
            f"{r['failed_at'].isoformat()}\t{r['failure']}"
        )
    for e in events:
        click.echo(
            f"event:{e['id']}\t{e['type']}\t{e['list_name'] or '-'}\t"
            f"{e['failed_at'].isoformat()}\t{e['failure']} after {e['attempts']} attempt(s)"
        )


@dead_letters.command("replay")
@click.option("--id", "outbox_id", type=click.IntRange(1), help="Only this outbox id.")
@click.option("--event-id", type=click.IntRange(1), help="Only this outbound event.")
@click.option("--all", "replay_all", is_flag=True, help="Every dead-lettered mail and event.")
@run
async def replay(outbox_id: int | None, event_id: int | None, replay_all: bool) -> None:
    """Put dead letters back on the queue; the worker sends them again (a mail after checking
    once more that the subscription may receive it; an event with its same webhook-id)."""
    if sum((outbox_id is not None, event_id is not None, replay_all)) != 1:
        raise click.UsageError("give exactly one of --id N, --event-id N or --all")
    pool = await open_pool(context().settings_for("DATABASE_URL"))
    mails = events = 0
    try:
        if event_id is None:
            mails = await operations.replay_dead_letters(pool, context().who, outbox_id)
        if outbox_id is None:
            events = await operations.replay_dead_events(pool, context().who, event_id)
    finally:
        await pool.close()
    if outbox_id is not None and not mails:
        raise click.ClickException(f"outbox row {outbox_id} is not dead-lettered")
    if event_id is not None and not events:
        raise click.ClickException(f"event {event_id} is not dead-lettered")
    say(f"replayed {mails} mail(s)" + (f" and {events} event(s)" if outbox_id is None else ""))


COMMANDS = (dead_letters,)

"""signupctl export and stats: the list out, and the list counted."""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import sys
from typing import TextIO

import click

from signup_core import operations
from signupctl.common import MOMENT, context, open_pool, run, say


@click.command()
@click.option(
    "--format", "fmt", type=click.Choice(["csv", "jsonl"]), default="csv", show_default=True
)
@click.option("--list", "list_name", help="Only this list (default: every list).")
@click.option("--since", type=MOMENT, help="Confirmed at or after (ISO 8601; UTC if no offset).")
@click.option("--until", type=MOMENT, help="Confirmed before (ISO 8601; UTC if no offset).")
@click.option(
    "--output", "-o", type=click.File("w", encoding="utf-8"), help="Write here, not to stdout."
)
@run
async def export(
    fmt: str,
    list_name: str | None,
    since: datetime.datetime | None,
    until: datetime.datetime | None,
    output: TextIO | None,
) -> None:
    """Write confirmed subscribers as CSV or JSON Lines, streamed in constant memory.

    Columns: address, name, list, locale, confirmed_at, consent_form_version, unsubscribe_url
    (a one-click unsubscribe link per subscriber, for your newsletter tool to put in each mail),
    then the consent record: consent_at, consent_source, consent_origin, consent_wording_sha256,
    consent_ip_hash, consent_ip_key, consent_actor, confirmed_via, confirmed_ip_hash,
    confirmed_user_agent (see docs/operator.md).
    The file holds personal data: keep it no longer than you need it.
    """
    settings = context().settings_for(
        "DATABASE_URL", "SIGNUP_SEAL_KEYS", "SIGNUP_SIGNING_KEY", "PUBLIC_BASE_URL"
    )
    out = output or sys.stdout
    show = sys.stderr.isatty()
    pool = await open_pool(settings)
    try:
        if list_name is not None and not await operations.known_list(pool, settings, list_name):
            raise click.BadParameter(
                f"no list {list_name!r}: not in SIGNUP_LISTS ({', '.join(settings.lists)}) "
                "and no subscription on it",
                param_hint="--list",
            )
        n = 0  # lines written
        lines = operations.export_lines(pool, settings, context().who, fmt, list_name, since, until)
        # Closed here, not when collected: a reader that left gets its audit row now.
        async with contextlib.aclosing(lines):
            async for line in lines:
                try:
                    if line == operations.EXPORT_END:
                        # Before the export counts as whole; a file is closed here too, since
                        # some file systems (NFS, a quota) report a failed write only then.
                        out.flush()
                        if output is not None:
                            output.close()
                        continue
                    out.write(line)
                except BrokenPipeError:
                    raise  # the reader left (`| head`): run() ends quietly
                except OSError as e:  # a full disk, a quota: not the database's fault
                    _abandon(output)
                    problem = f"cannot write the export: {e.strerror or e}"
                    raise click.ClickException(problem) from None
                n += 1
                rows = operations.exported_rows(n, fmt)
                if show and rows and rows % 1000 == 0:
                    click.echo(f"\rexported {rows} rows", err=True, nl=False)
    finally:
        await pool.close()
    say(("\n" if show else "") + f"exported {operations.exported_rows(n, fmt)} subscriber(s)")


def _abandon(output: TextIO | None) -> None:
    """Drops what is still buffered for an output that cannot be written, so neither click's
    close of a file nor Python's flush of stdout at exit fails on it again (a traceback, or
    exit status 120 after the error was said)."""
    if output is not None:
        with contextlib.suppress(OSError):
            output.close()  # the flush fails again, and the file is closed all the same
        return
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object per list.")
@run
async def stats(as_json: bool) -> None:
    """Per list: subscriptions by status, signups and confirmations in the last day and week,
    the confirmation rate, and bounce and complaint rates (per mail sent) over 30 days."""
    ctx = context()
    pool = await open_pool(ctx.settings_for("DATABASE_URL"))
    try:
        rows = await operations.stats(pool, ctx.now())
    finally:
        await pool.close()
    for r in rows:
        if as_json:
            click.echo(json.dumps(r))
            continue
        click.echo(
            f"{r['list_name']}: {r['confirmed']} confirmed, {r['pending']} pending, "
            f"{r['unsubscribed']} unsubscribed, {r['suppressed']} suppressed\n"
            f"  signups {r['signups_day']} (day) / {r['signups_week']} (week); "
            f"confirmations {r['confirmed_day']} / {r['confirmed_week']}\n"
            f"  30 days: confirmation rate {_pct(r['confirmation_rate'])}, "
            f"bounce rate {_pct(r['bounce_rate'])}, complaint rate {_pct(r['complaint_rate'])}"
        )


def _pct(rate: float | None) -> str:
    return "n/a" if rate is None else f"{rate:.1%}"


COMMANDS = (export, stats)

"""signupctl import: bring an existing list in (CSV or JSON Lines), confirmed with the consent
evidence each row carries, or to be confirmed by a paced mail."""

from __future__ import annotations

import sys
from typing import BinaryIO

import click

from signup_core import importing
from signup_core.import_rows import PRESETS, ImportFormatError
from signupctl.common import context, open_pool, run, say


@click.command("import")
@click.argument("file", type=click.File("rb"))
@click.option(
    "--confirmed",
    "mode",
    flag_value="confirmed",
    help="Import as confirmed; every row needs a consent time and a source (column or --source).",
)
@click.option(
    "--confirm-by-mail",
    "mode",
    flag_value="mail",
    help="Import as pending and mail each new address a confirmation, paced at --rate.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "jsonl"]),
    help="Input format (default: jsonl for .jsonl/.ndjson files, else csv).",
)
@click.option(
    "--columns",
    type=click.Choice(sorted(PRESETS)),
    default="signet",
    show_default=True,
    help="Which header names to read: ours, or listmonk's or Mailchimp's export.",
)
@click.option("--list", "list_name", help="List for rows without a list column (default: first).")
@click.option("--source", help="Where consent was given, for rows without a source column.")
@click.option(
    "--rate",
    type=click.IntRange(1, 100_000),
    default=60,
    show_default=True,
    help="Confirmation mails per minute (--confirm-by-mail).",
)
@click.option("--skip-invalid", is_flag=True, help="Import the valid rows even if some are not.")
@click.option("--dry-run", is_flag=True, help="Count what would happen; change nothing.")
@run
async def import_(
    file: BinaryIO,
    mode: str | None,
    fmt: str | None,
    columns: str,
    list_name: str | None,
    source: str | None,
    rate: int,
    skip_invalid: bool,
    dry_run: bool,
) -> None:
    """Import subscribers from FILE ('-' for stdin): CSV with a header row, or JSON Lines.

    Columns by name: address (or email), name, list, consent_at (ISO 8601), source, locale,
    consent_ip. An address already on its list is left as it is; a suppressed one is skipped;
    both are counted. An invalid row is reported by line number and nothing is imported unless
    --skip-invalid. Running the same file again imports nothing twice, and finishes an import
    that was killed. One audit row per run: counts and the batch id, never an address.
    """
    if mode is None:
        raise click.UsageError("give one of --confirmed or --confirm-by-mail")
    if fmt is None:
        jsonl = (file.name or "").endswith((".jsonl", ".ndjson"))
        fmt = "jsonl" if jsonl else "csv"
    options = importing.Options(
        confirmed=mode == "confirmed",
        fmt=fmt,
        columns=columns,
        list_name=list_name,
        source=source,
        rate=rate,
        skip_invalid=skip_invalid,
        dry_run=dry_run,
    )
    ctx = context()
    pool = await open_pool(ctx.settings)
    try:
        report = await importing.run(pool, ctx.settings, file, options, ctx.who, ctx.now())
    except (ImportFormatError, importing.ImportRefused) as e:
        raise click.ClickException(str(e)) from None
    finally:
        await pool.close()
    for problem in report.problems:
        click.echo(f"line {problem['line']}: {problem['reason']}", err=True)
    if report.invalid > len(report.problems):
        say(f"... and {report.invalid - len(report.problems)} more invalid row(s)")
    if report.refused:
        raise click.ClickException(
            f"{report.invalid} invalid row(s): nothing imported (fix them, or --skip-invalid)"
        )
    verb = "would import" if dry_run else "imported"
    say(
        f"{verb} {report.imported} of {report.rows} row(s) (batch {report.batch_id}): "
        f"{report.existing} already there, {report.resumed} from an earlier run of this file, "
        f"{report.suppressed} suppressed, {report.blocklisted} blocklisted, "
        f"{report.invalid} invalid"
        + ("" if options.confirmed else f"; {report.queued} confirmation(s) paced at {rate}/min")
    )
    sys.stderr.flush()


COMMANDS = (import_,)

"""signupctl erase, suppress, unsuppress, resend-confirmation: actions on one person's address.
Addresses are never written to the audit trail; at most their blind index."""

from __future__ import annotations

from typing import TextIO

import click

from signup_core import db, operations
from signup_core.audit import record
from signup_core.index_keys import index_keys
from signup_core.operations import refiled
from signupctl.common import address_of, context, open_pool, read_addresses, run, say

_FILE = click.option(
    "--from-file",
    "source",
    type=click.File("r", encoding="utf-8"),
    help="Also read addresses from FILE, one a line ('-' for stdin).",
)


def _addresses(addresses: tuple[str, ...], source: TextIO | None) -> list[str]:
    given = list(read_addresses(addresses, source))
    if not given:
        raise click.UsageError("give at least one ADDRESS or --from-file")
    return [address_of(a, n) for n, a in enumerate(given, 1)]


@click.command()
@click.argument("addresses", nargs=-1, metavar="[ADDRESS]...")
@_FILE
@run
async def erase(addresses: tuple[str, ...], source: TextIO | None) -> None:
    """Erase everything held about each address (right to be forgotten).

    Deletes its subscriptions on every list, their tokens and mails, and its provider events.
    A suppressed address keeps its suppression entry (blind index, reason, date: no address),
    so it is never mailed again. Idempotent: erasing twice removes nothing the second time.
    """
    given = _addresses(addresses, source)
    settings = context().settings_for("DATABASE_URL", "SIGNUP_BLIND_INDEX_KEY")
    pool = await open_pool(settings)
    try:
        indexes = await refiled(pool, settings, given)
        totals = await operations.erase(pool, context().who, indexes, settings.events_enabled)
    finally:
        await pool.close()
    say(f"erased {len(indexes)} address(es): " + ", ".join(f"{v} {k}" for k, v in totals.items()))


@click.command()
@click.argument("addresses", nargs=-1, metavar="[ADDRESS]...")
@_FILE
@click.option("--reason", default="operator", show_default=True, help="Recorded with the entry.")
@run
async def suppress(addresses: tuple[str, ...], source: TextIO | None, reason: str) -> None:
    """Never mail these addresses again, on any list, whether or not they are subscribed."""
    given = _addresses(addresses, source)
    settings = context().settings_for("DATABASE_URL", "SIGNUP_BLIND_INDEX_KEY")
    pool = await open_pool(settings)
    try:
        indexes = await refiled(pool, settings, given)
        key_id = index_keys(settings).current_id
        await operations.suppress(
            pool, context().who, indexes, reason, key_id, settings.events_enabled
        )
    finally:
        await pool.close()
    say(f"suppressed {len(indexes)} address(es)")


@click.command()
@click.argument("addresses", nargs=-1, metavar="[ADDRESS]...")
@_FILE
@run
async def unsuppress(addresses: tuple[str, ...], source: TextIO | None) -> None:
    """Lift the suppression of these addresses.

    Their suppressed subscriptions become unsubscribed, not subscribed: the person must sign
    up (and confirm) again to be mailed.
    """
    given = _addresses(addresses, source)
    settings = context().settings_for("DATABASE_URL", "SIGNUP_BLIND_INDEX_KEY")
    pool = await open_pool(settings)
    try:
        indexes = await refiled(pool, settings, given)
        counts = await operations.unsuppress(pool, context().who, indexes)
    finally:
        await pool.close()
    lifted, rows = counts["suppressions"], counts["subscriptions"]
    say(f"lifted {lifted} suppression(s); {rows} row(s) now unsubscribed")


@click.command("resend-confirmation")
@click.argument("address")
@click.option("--list", "list_name", help="Only this list (default: every list it is pending on).")
@run
async def resend_confirmation(address: str, list_name: str | None) -> None:
    """Queue a fresh confirmation mail for an address that has not confirmed yet.

    Ignores the resend window (an operator asked); a suppressed address gets nothing.
    """
    settings = context().settings_for("DATABASE_URL", "SIGNUP_BLIND_INDEX_KEY")
    given = address_of(address, 1)
    pool = await open_pool(settings)
    try:
        (index,) = await refiled(pool, settings, [given])
        async with pool.acquire() as conn:
            queued = await db.queries().resend_confirmation(
                conn, email_index=index, list_name=list_name
            )
        await record(
            pool,
            context().who,
            "resend-confirmation",
            {"email_index": index.hex(), "list": list_name},
            {"queued": queued},
        )
    finally:
        await pool.close()
    if not queued:
        raise click.ClickException("nothing to resend: no pending, unsuppressed subscription")
    say(f"queued {queued} confirmation mail(s)")


COMMANDS = (erase, suppress, unsuppress, resend_confirmation)

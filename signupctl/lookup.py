"""signupctl show: everything held about one address, as a summary or as the complete
data-subject access export (--json)."""

from __future__ import annotations

import json

import click

from signup_core import operations
from signupctl.common import address_of, context, open_pool, run


@click.command()
@click.argument("address")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="The complete record, decrypted, as JSON: the answer to an access request.",
)
@run
async def show(address: str, as_json: bool) -> None:
    """Find one person: every subscription of ADDRESS on every list (pending, unsubscribed and
    suppressed ones too) with its consent record, the suppression and its reason, outstanding
    confirmation tokens (counted), the mails sent, provider events and the audit entries
    about it. The look-up is audited by blind index; the address is never logged."""
    settings = context().settings
    given = address_of(address, 1)
    pool = await open_pool(settings)
    try:
        found = await operations.lookup(
            pool, settings, context().who, given, "json" if as_json else "summary"
        )
    finally:
        await pool.close()
    if as_json:
        click.echo(json.dumps(found, indent=2, ensure_ascii=False))
        return
    for line in summary(found):
        click.echo(line)


def summary(found: dict) -> list[str]:
    lines = [f"{found['address']}  (blind index {found['email_index'][:16]}...)"]
    held = found["suppression"]
    if held:
        by = f", by {held['provider']}" if held["provider"] else ""
        lines.append(f"SUPPRESSED since {held['since']}: {held['reason']}{by}")
    if not found["subscriptions"]:
        lines.append("no subscription on any list")
    for s in found["subscriptions"]:
        c = s["consent"]
        where = c["consent_source"] or "not recorded"
        if c["consent_origin"]:
            where += f" {c['consent_origin']}"
        lines.append(
            f"{s['list']}: {s['status']} (name {s['name'] or '-'}, locale {s['locale']}); "
            f"consent {c['consent_at']} via {where}, form {s['consent_form_version']}; "
            f"confirmed {s['confirmed_at'] or '-'}"
            + (f" by {c['confirmed_via']}" if c["confirmed_via"] else "")
            + f"; {s['tokens_outstanding']} outstanding token(s)"
        )
    for m in found["mails"]:
        lines.append(f"  mail {m['kind']} ({m['list']}) queued {m['queued_at']}: {m['outcome']}")
    for e in found["provider_events"]:
        lines.append(f"  event {e['provider']} {e['kind']} at {e['occurred_at']}")
    for a in found["audit"]:
        lines.append(f"  audit {a['at']} {a['actor']} {a['action']} {a['outcome']}")
    return lines


COMMANDS = (show,)

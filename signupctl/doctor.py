"""signupctl doctor: one line per check of what the service needs to start and to deliver mail,
with the fix for each that fails; exit 0 when none fails."""

from __future__ import annotations

import asyncio
import json
import os

import click

from signup_core import logs
from signup_core.diagnosis.results import FAIL, PASS, Result

MARKS = {PASS: "✓", FAIL: "✗", "skip": "-"}


def _resolver(value: str | None) -> tuple[str, int] | None:
    if value is None:
        return None
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise click.BadParameter("expected HOST:PORT, e.g. 127.0.0.1:53")
    return host.strip("[]"), int(port)


def line(result: Result) -> str:
    status = "skipped" if result.status == "skip" else ""
    text = f"{MARKS[result.status]} {result.name}: {status + ': ' if status else ''}{result.detail}"
    more = "".join(f"\n    {m}" for m in result.more)
    label = "fix" if result.status == FAIL else "to check it"
    fix = f"\n    {label}: {result.fix}" if result.fix and result.status != PASS else ""
    return text + more + fix


@click.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON document instead of lines.")
@click.option(
    "--resolver",
    metavar="HOST:PORT",
    help="The DNS server to ask about the sender domain (default: this host's resolver).",
)
def doctor(as_json: bool, resolver: str | None) -> None:
    """Why the service will not start, or mail does not arrive.

    One line per check: the configuration (every error at once), PostgreSQL and its schema,
    Redis, the seal keyring, a blind-index rotation, the mail transport (SMTP login or the
    provider's API key; nothing is sent), the sender domain's SPF, DKIM and DMARC, webhook
    secrets and PUBLIC_BASE_URL. Changes nothing. See docs/doctor.md.

    Reads the same environment as the API and the worker. Exit 0 when no check fails, 1 when
    one does; skipped checks (not configured, or not applicable here) do not fail.
    """
    # Imported here: the checks bring the Redis client and dnspython, a third of the start-up
    # of every other command (each `signupctl` call imports every command's module).
    from signup_core.diagnosis.runner import diagnose

    logs.configure("WARNING")
    results = asyncio.run(diagnose(os.environ, _resolver(resolver)))
    ok = not any(r.status == FAIL for r in results)
    if as_json:
        click.echo(json.dumps({"ok": ok, "checks": [r.as_dict() for r in results]}, indent=2))
    else:
        for result in results:
            click.echo(line(result))
        failures = [r.name for r in results if r.status == FAIL]
        click.echo(f"\n{'all checks passed' if ok else 'failed: ' + ', '.join(failures)}")
    if not ok:
        raise SystemExit(1)


COMMANDS = (doctor,)

"""`signupctl`: the operator's command line, one entry point with a subcommand per task.

Exit codes: 0 done, 1 failed, 2 usage. Data (export, listings) goes to stdout; messages to
stderr. Nothing reads the configuration before a command runs, so every --help works bare.
"""

from __future__ import annotations

import click

from signupctl import (
    addresses,
    blindindex,
    data,
    doctor,
    importer,
    keys,
    lookup,
    mail,
    maintenance,
    secrets,
    tokens,
)
from signupctl.common import Context


@click.group(
    context_settings={
        "help_option_names": ["-h", "--help"],
        "max_content_width": 100,
        "terminal_width": 100,
    }
)
@click.option(
    "--actor",
    metavar="NAME",
    help="Who to record in the audit trail (default: the OS user).",
)
@click.pass_context
def cli(ctx: click.Context, actor: str | None) -> None:
    """Operate a signet-signup installation: its database, list and keys.

    Reads the same environment as the API and the worker (DATABASE_URL, SIGNUP_SEAL_KEYS, ...),
    each command only the variables it uses (`migrate` and `stats` need only DATABASE_URL).
    `doctor` checks all of it. Every command that changes or reads personal data writes an
    audit row (see `signupctl audit`).
    """
    ctx.ensure_object(dict)
    ctx.obj.setdefault("context", Context(actor=actor, clock=ctx.obj.get("clock")))


for module in (
    doctor,
    maintenance,
    data,
    importer,
    lookup,
    addresses,
    keys,
    blindindex,
    mail,
    secrets,
    tokens,
):
    for command in module.COMMANDS:
        cli.add_command(command)


def main(argv: list[str] | None = None) -> None:
    cli.main(args=argv, prog_name="signupctl")

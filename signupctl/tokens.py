"""signupctl keys generate and signupctl token: the service's own ES256 signing keys, and
short-lived admin API tokens minted with them for on-call."""

from __future__ import annotations

import os

import click

from signup_core import admin_keys
from signup_core.audit import record
from signup_core.settings import duration as _duration
from signupctl.common import context, open_pool, run, say


@click.group("keys")
def keys() -> None:
    """The service's own token-signing keys (published at /.well-known/jwks.json)."""


@keys.command("generate")
@click.option(
    "--file",
    "path",
    metavar="PATH",
    help="The private key file (default: SIGNUP_ADMIN_KEYS_FILE).",
)
def generate(path: str | None) -> None:
    """Make a new ES256 key pair with its own kid and make it the current signing key.

    The file keeps the current and the previous key: tokens signed with the previous one stay
    valid until they expire, and both are published. Run it again to rotate; restart not
    needed (the admin listener reads the file when a token names a kid it does not know).
    """
    path = path or os.environ.get("SIGNUP_ADMIN_KEYS_FILE")
    if not path:
        raise click.UsageError("give --file or set SIGNUP_ADMIN_KEYS_FILE")
    try:
        kid = admin_keys.generate(path, context().now())
    except (OSError, ValueError) as e:
        raise click.ClickException(f"cannot write {path}: {e}") from None
    say(f"generated ES256 key {kid}; it signs from now on")
    click.echo(kid)


def _ttl(value: str) -> int:
    try:
        seconds = _duration(value)
    except ValueError as e:
        raise click.BadParameter(str(e)) from None
    if seconds > admin_keys.MAX_TTL:
        raise click.BadParameter(f"at most {admin_keys.MAX_TTL // 3600}h")
    return seconds


@click.command("token")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    required=True,
    type=click.Choice(admin_keys.SCOPES),
    help="A scope to grant (repeat for more).",
)
@click.option("--ttl", default="15m", show_default=True, help="Lifetime: 900, 15m, 1h (max 12h).")
@click.option("--subject", help="The token's sub, the audit trail's actor (default: --actor).")
@run
async def token(scopes: tuple[str, ...], ttl: str, subject: str | None) -> None:
    """Print a short-lived admin API token signed with the current key (to stdout).

    Its iss is SIGNUP_ADMIN_TOKEN_ISSUER (default PUBLIC_BASE_URL/admin), its aud
    SIGNUP_ADMIN_JWT_AUDIENCE. Minting is recorded in the audit trail.
    """
    ctx = context()
    seconds = _ttl(ttl)
    who = subject or ctx.who
    settings = ctx.settings_for("DATABASE_URL", "PUBLIC_BASE_URL")
    try:
        minted = admin_keys.mint(settings, who, list(scopes), seconds, ctx.now())
    except (OSError, ValueError) as e:
        raise click.ClickException(str(e)) from None
    pool = await open_pool(settings)
    try:
        params = {"subject": who, "scopes": sorted(scopes), "ttl": seconds}
        await record(pool, context().who, "token", params, {})
    finally:
        await pool.close()
    click.echo(minted)


COMMANDS = (keys, token)

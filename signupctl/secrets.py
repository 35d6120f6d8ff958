"""signupctl secrets new: fresh values for the secrets a site makes itself (signing key,
blind-index key, seal keyring, ...), printed in the form each deployment document uses, so the
set-up step is one command that cannot fall behind the settings.

Which variables are secret, required and self-generated comes from
signup_core.settings.variables(); only how each value looks is decided here. It reads no
configuration, so it runs anywhere the image or the wheel does, before anything is set up.
"""

from __future__ import annotations

import json
import re
import secrets
import shlex

import click

from signup_core.sealing import KEY_BYTES
from signup_core.settings import Variable, variables
from signupctl.common import context

# What the chart and the Vault runbook call things (helm/signet-signup/values.yaml,
# docs/runbooks/vault-secrets.md); both can be overridden.
SECRET_NAME = "signet-signup"  # noqa: S105 - the Secret object's name, not a secret
VAULT_PATH = "kv/signet/signup"
_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")


def _token() -> str:
    # 48 random bytes, URL-safe base64 (64 characters): above every "at least 32 characters"
    # rule, and nothing a dotenv file, YAML or a shell would need quoted.
    return secrets.token_urlsafe(48)


def _keyring() -> str:
    # One key, its id naming the day it was made (the rotation runbook adds newer ones in front)
    # and a random suffix, so two made the same day differ.
    key_id = f"{context().now():%Y%m%d}-{secrets.token_hex(2)}"
    return f"{key_id}:{secrets.token_urlsafe(KEY_BYTES)}"


# How a value looks where it is not a plain random key.
_SHAPES = {"SIGNUP_SEAL_KEYS": _keyring}


def generated() -> list[Variable]:
    return [v for v in variables() if v.secret and v.generated]


def fresh(names: list[str]) -> dict[str, str]:
    return {name: _SHAPES.get(name, _token)() for name in names}


def _dotenv(values: dict[str, str]) -> str:
    lines = []
    for name, value in values.items():
        # Unquoted when plain; otherwise single quotes, which compose and systemd read literally.
        if not re.fullmatch(r"[A-Za-z0-9_:./@+=,-]*", value):
            if "'" in value or "\n" in value:
                raise click.UsageError(f"{name}: a value with ' or a newline cannot go in .env")
            value = f"'{value}'"
        lines.append(f"{name}={value}")
    return "\n".join(lines) + "\n"


def _kubernetes(values: dict[str, str], name: str) -> str:
    # JSON is YAML: every value quoted exactly, whatever it holds.
    manifest = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": name,
            "labels": {"app.kubernetes.io/part-of": "signet-signup"},
        },
        "type": "Opaque",
        "stringData": values,
    }
    return json.dumps(manifest, indent=2) + "\n"


def _vault(values: dict[str, str], path: str) -> str:
    args = [f"vault kv put {shlex.quote(path)}"]
    args += [shlex.quote(f"{name}={value}") for name, value in values.items()]
    return " \\\n    ".join(args) + "\n"


def _given(pairs: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not _NAME.match(name):
            raise click.BadParameter(f"{pair!r}: expected NAME=VALUE", param_hint="--set")
        out[name] = value
    return out


@click.group("secrets")
def secrets_group() -> None:
    """The secrets a deployment needs, made for it (nothing here reads the configuration)."""


@secrets_group.command("new")
@click.option(
    "--format",
    "form",
    type=click.Choice(["env", "kubernetes", "vault"]),
    default="env",
    show_default=True,
    help="dotenv lines (compose, systemd), a Kubernetes Secret manifest, or `vault kv put`.",
)
@click.option(
    "--set",
    "given",
    metavar="NAME=VALUE",
    multiple=True,
    help="A value you have rather than one to make (DATABASE_URL, REDIS_URL, SMTP_PASSWORD,"
    " a provider's key, ...); repeatable. Printed with the fresh ones.",
)
@click.option(
    "--with",
    "extra",
    metavar="NAME",
    multiple=True,
    help="Also make an optional self-made secret (SIGNUP_ALTCHA_HMAC_KEY, a webhook password,"
    " ...); repeatable.",
)
@click.option("--name", default=SECRET_NAME, show_default=True, help="The Secret's name.")
@click.option("--path", default=VAULT_PATH, show_default=True, help="The Vault KV path.")
def new(form: str, given: tuple[str, ...], extra: tuple[str, ...], name: str, path: str) -> None:
    """Print a fresh value for every secret the service makes itself and needs to start:
    SIGNUP_SIGNING_KEY, SIGNUP_BLIND_INDEX_KEY and the SIGNUP_SEAL_KEYS keyring, plus the
    --with ones, then the --set values.

    \b
      signupctl secrets new >> .env
      signupctl secrets new --format kubernetes --set DATABASE_URL=... --set REDIS_URL=... \\
          | kubectl -n signup apply -f -
      signupctl secrets new --format vault --set DATABASE_URL=... --set REDIS_URL=... | sh

    Run it once per environment: a new blind-index key or keyring makes stored data
    unreadable (docs/runbooks/rotating-secrets.md says how to rotate instead).
    """
    optional = {v.env for v in generated() if not v.required}
    unknown = sorted(set(extra) - optional)
    if unknown:
        raise click.BadParameter(
            f"{', '.join(unknown)}: not an optional self-made secret"
            f" (those are: {', '.join(sorted(optional))})",
            param_hint="--with",
        )
    names = [v.env for v in generated() if v.required or v.env in extra]
    values = fresh(names)
    values.update(_given(given))
    if form == "env":
        out = _dotenv(values)
    elif form == "kubernetes":
        out = _kubernetes(values, name)
    else:
        out = _vault(values, path)
    click.echo(out, nl=False)


COMMANDS = (secrets_group,)

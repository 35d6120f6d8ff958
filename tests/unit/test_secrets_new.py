"""signupctl secrets new: every self-made secret the settings require, fresh each time, valid for
the settings parser, in each document's form (dotenv, a Kubernetes Secret, `vault kv put`)."""

from __future__ import annotations

import datetime
import json
import shlex

from click.testing import CliRunner

from signup_core.clock import FixedClock
from signup_core.settings import load_settings, variables
from signupctl import cli

AT = datetime.datetime(2031, 2, 3, 4, 5, tzinfo=datetime.UTC)
PROVIDED = {
    "DATABASE_URL": "postgresql://signup:pw@db.internal:5432/signup",
    "REDIS_URL": "redis://redis.internal:6379/0",
}


def run(*args: str, code: int = 0) -> str:
    done = CliRunner().invoke(cli, ["secrets", "new", *args], obj={"clock": FixedClock(AT)}, env={})
    assert done.exit_code == code, done.output
    return done.output


def dotenv(text: str) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))
    return {k: v.removeprefix("'").removesuffix("'") for k, v in pairs}


def required_generated() -> set[str]:
    return {v.env for v in variables() if v.required and v.secret and v.generated}


def test_env_lines_hold_every_required_self_made_secret_and_the_settings_accept_them():
    values = dotenv(run("--format", "env"))
    assert set(values) == required_generated() and required_generated()
    settings = load_settings({**PROVIDED, "PUBLIC_BASE_URL": "https://x.example", **values})
    # The keyring's id names the day it was made, by the injected clock.
    assert settings.seal_keys.current_id.startswith("20310203-")


def test_values_are_fresh_on_every_run():
    first, second = dotenv(run()), dotenv(run())
    assert all(first[name] != second[name] for name in first)


def test_kubernetes_manifest_is_the_charts_secret_with_the_given_values():
    manifest = json.loads(
        run("--format", "kubernetes", *(f"--set={k}={v}" for k, v in PROVIDED.items()))
    )
    assert manifest["kind"] == "Secret" and manifest["metadata"]["name"] == "signet-signup"
    values = manifest["stringData"]
    assert set(values) == required_generated() | set(PROVIDED)
    load_settings({**values, "PUBLIC_BASE_URL": "https://x.example"})
    renamed = json.loads(run("--format", "kubernetes", "--name", "other"))
    assert renamed["metadata"]["name"] == "other"


def vault_words(text: str) -> list[str]:
    """The words a POSIX shell reads, line continuations joined."""
    return shlex.split(text.replace("\\\n", ""))


def test_vault_output_is_one_vault_kv_put_at_the_runbooks_path():
    words = vault_words(run("--format", "vault", "--set", "REDIS_URL=redis://h:6379/0 x'y"))
    assert words[:4] == ["vault", "kv", "put", "kv/signet/signup"]
    values = dict(word.split("=", 1) for word in words[4:])
    assert set(values) == required_generated() | {"REDIS_URL"}
    assert values["REDIS_URL"] == "redis://h:6379/0 x'y"  # quoted for the shell, intact
    assert vault_words(run("--format", "vault", "--path", "kv/a b"))[3] == "kv/a b"


def test_optional_self_made_secrets_come_with_with_and_are_valid():
    optional = [v.env for v in variables() if v.secret and v.generated and not v.required]
    assert "SIGNUP_ALTCHA_HMAC_KEY" in optional
    for name in optional:
        assert name not in dotenv(run())
        values = dotenv(run("--with", name))
        assert name in values
        load_settings({**PROVIDED, "PUBLIC_BASE_URL": "https://x.example", **values})


def test_unknown_with_and_malformed_set_are_usage_errors():
    assert "not an optional self-made secret" in run("--with", "DATABASE_URL", code=2)
    assert "NAME=VALUE" in run("--set", "lowercase=x", code=2)
    assert "cannot go in .env" in run("--set", "SMTP_PASSWORD=it's", code=2)

"""The dev stack's environment file: development secrets made once and kept, this run's
addresses for signupctl, and a development signing key for the admin API when it is on."""

from __future__ import annotations

import os
import secrets
import shlex
from pathlib import Path

from signup_core import admin_keys
from signup_core.clock import Clock

REPO = Path(__file__).resolve().parent.parent
# DEV_STATE_DIR lets the tests run a whole stack without touching a developer's var/.
VAR = Path(os.environ.get("DEV_STATE_DIR") or REPO / "var").resolve()
DEV_ENV = VAR / "dev.env"
ADMIN_KEYS = VAR / "admin-keys.json"
SECRET_NAMES = ("SIGNUP_BLIND_INDEX_KEY", "SIGNUP_SIGNING_KEY", "SIGNUP_SEAL_KEYS")
# The variables signupctl needs besides the secrets, written to dev.env for this run's ports.
CTL_NAMES = ("DATABASE_URL", "REDIS_URL", "SMTP_HOST", "SMTP_PORT", "SMTP_TLS", "PUBLIC_BASE_URL")
ADMIN_NAMES = ("SIGNUP_ADMIN_PORT", "SIGNUP_ADMIN_KEYS_FILE")


def read_env(path: Path) -> dict[str, str]:
    """NAME=value lines (an `export ` before the name allowed, values shell-quoted)."""
    values: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            line = line.strip().removeprefix("export ")
            if "=" in line and not line.startswith("#"):
                key, value = line.split("=", 1)
                words = shlex.split(value)
                values[key.strip()] = words[0] if words else ""
    return values


def dev_secrets() -> dict[str, str]:
    """Development secrets, generated once into the git-ignored var/dev.env and reused."""
    values = {k: v for k, v in read_env(DEV_ENV).items() if k in SECRET_NAMES}
    for name in ("SIGNUP_BLIND_INDEX_KEY", "SIGNUP_SIGNING_KEY"):
        values.setdefault(name, secrets.token_urlsafe(48))
    values.setdefault("SIGNUP_SEAL_KEYS", f"dev1:{secrets.token_urlsafe(32)}")
    return values


def write_dev_env(env: dict[str, str]) -> None:
    """The secrets and this run's addresses, for a shell to source and point signupctl here."""
    names = (*SECRET_NAMES, *CTL_NAMES, *(n for n in ADMIN_NAMES if n in env))
    VAR.mkdir(parents=True, exist_ok=True)
    DEV_ENV.write_text(
        "# Made by `make run`: development secrets (kept) and this run's addresses (rewritten\n"
        "# each run). `. var/dev.env` points signupctl at the dev stack. Never for production.\n"
        + "".join(f"export {k}={shlex.quote(env[k])}\n" for k in names)
    )
    DEV_ENV.chmod(0o600)


def admin_settings(admin_port: int | None) -> dict[str, str]:
    """With SIGNUP_ADMIN_PORT and no verification keys given: a development signing key under
    var/, so the admin API starts and `signupctl token` mints tokens it accepts."""
    if admin_port is None:
        return {}
    given = ("SIGNUP_ADMIN_JWKS", "SIGNUP_ADMIN_KEYS_FILE", "SIGNUP_ADMIN_HS256_SECRET")
    if any(os.environ.get(name) for name in given):
        return {}
    if not admin_keys.read(ADMIN_KEYS):
        admin_keys.generate(ADMIN_KEYS, Clock().now())
    return {"SIGNUP_ADMIN_KEYS_FILE": str(ADMIN_KEYS)}

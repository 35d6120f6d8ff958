"""`signup-worker`: check the settings, then run Dramatiq with our broker setup and actors."""

from __future__ import annotations

import asyncio
import os
import sys

from signup_core import db, keycheck
from signup_core.sealing import UnknownKeyId
from signup_core.settings import ConfigError, Settings, load_settings

# Dramatiq's idle consumer backs off up to this many ms between polls; its default of 1000 ms
# would add up to a second to every mail sent after a quiet spell.
POLL_MS = "100"


HELP = """usage: signup-worker [-h] [dramatiq options]

Run the mail worker (Dramatiq on Redis): sends the outbox, applies provider events, purges
what retention says has expired. Configuration comes from the environment, as for signup-api
(SIGNUP_WORKER_PROCESSES / SIGNUP_WORKER_THREADS size it); see the README."""


def main() -> None:
    if any(a in ("-h", "--help") for a in sys.argv[1:]):
        print(HELP)
        return
    try:
        settings = load_settings()
    except ConfigError as e:
        sys.exit(f"signup-worker: configuration error: {e}")
    try:
        asyncio.run(_check_keyring(settings))
    except UnknownKeyId as e:
        sys.exit(f"signup-worker: refusing to start: {e}")
    os.environ.setdefault("dramatiq_worker_timeout", POLL_MS)
    from dramatiq.cli import main as dramatiq_main

    sys.argv = [
        "dramatiq",
        "signup_worker.broker:setup",
        "signup_worker.actors",
        "--processes",
        str(settings.worker_processes),
        "--threads",
        str(settings.worker_threads),
        "--skip-logging",
        *sys.argv[1:],
    ]
    sys.exit(dramatiq_main())


async def _check_keyring(settings: Settings) -> None:
    """Here, before Dramatiq starts: it logs a middleware's failure at boot and runs on."""
    pool = await db.create_pool(settings, max_size=1)
    try:
        await keycheck.check_keyring(pool, settings.seal_keys)
    finally:
        await pool.close()

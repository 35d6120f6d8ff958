"""`signup-worker`: check the settings, then run Dramatiq with our broker setup and actors."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
from pathlib import Path

from signup_core import db, keycheck
from signup_core.sealing import UnknownKeyId
from signup_core.settings import ConfigError, Settings, load_settings

# Dramatiq's idle consumer backs off up to this many ms between polls; its default of 1000 ms
# would add up to a second to every mail sent after a quiet spell.
POLL_MS = "100"


HELP = """usage: signup-worker [-h] [dramatiq options]

Run the mail worker (Dramatiq on Redis): sends the outbox, applies provider events, purges
what retention says has expired. Configuration comes from the environment, as for signup-api
(SIGNUP_WORKER_PROCESSES / SIGNUP_WORKER_THREADS size it); see docs/configuration.md."""


def main() -> None:
    if any(a in ("-h", "--help") for a in sys.argv[1:]):
        print(HELP)
        return
    try:
        settings = load_settings()
    except ConfigError as e:
        sys.exit(f"signup-worker: configuration error: {e}")
    try:
        asyncio.run(_check_keyring(settings))  # imports no prometheus_client: see _metrics_dir
    except UnknownKeyId as e:
        sys.exit(f"signup-worker: refusing to start: {e}")
    metrics_dir, made = _metrics_dir()
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
    try:
        code = dramatiq_main()
    finally:
        if made:
            shutil.rmtree(metrics_dir, ignore_errors=True)
    sys.exit(code)


async def _check_keyring(settings: Settings) -> None:
    """Here, before Dramatiq starts: it logs a middleware's failure at boot and runs on."""
    pool = await db.create_pool(settings, max_size=1)
    try:
        await keycheck.check_keyring(pool, settings.seal_keys)
    finally:
        await pool.close()


def _metrics_dir() -> tuple[Path, bool]:
    """The folder prometheus-client's multiprocess mode shares between the worker processes,
    set before anything imports prometheus_client. A given PROMETHEUS_MULTIPROC_DIR (e.g. an
    emptyDir) is emptied first, as its documentation asks; otherwise a private one is made
    and removed at exit. Dramatiq's Prometheus middleware is pointed at the same folder."""
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if given:
        folder = Path(given)
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob("*.db"):
            stale.unlink()
    else:
        folder = Path(tempfile.mkdtemp(prefix="signup-worker-metrics-"))
    for name in ("PROMETHEUS_MULTIPROC_DIR", "prometheus_multiproc_dir", "dramatiq_prom_db"):
        os.environ[name] = str(folder)
    return folder, not given

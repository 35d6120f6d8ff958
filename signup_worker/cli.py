"""`signup-worker`: check the settings, then run Dramatiq with our broker setup and actors."""

from __future__ import annotations

import os
import sys

from signup_core.settings import ConfigError, load_settings

# Dramatiq's idle consumer backs off up to this many ms between polls; its default of 1000 ms
# would add up to a second to every mail sent after a quiet spell.
POLL_MS = "100"


def main() -> None:
    try:
        settings = load_settings()
    except ConfigError as e:
        sys.exit(f"signup-worker: configuration error: {e}")
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

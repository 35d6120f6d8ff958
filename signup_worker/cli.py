"""`signup-worker`: check the settings, then run Dramatiq with our broker setup and actors."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

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
    metrics_dir, made = _metrics_dir()
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

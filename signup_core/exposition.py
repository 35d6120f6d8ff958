"""The metrics listener each process runs beside (never on) its public port."""

from __future__ import annotations

import logging

from prometheus_client import CollectorRegistry, start_http_server

from signup_core.settings import Settings

log = logging.getLogger(__name__)


def metrics_host(settings: Settings) -> str:
    """SIGNUP_METRICS_HOST, else the interface the API listens on."""
    return settings.metrics_host or settings.host


def serve(registry: CollectorRegistry, host: str, port: int) -> bool:
    """Serve /metrics on host:port from a daemon thread; False (and an error line) if the port
    cannot be had: the service goes on without metrics rather than not at all, and the
    "absent" alerts say so."""
    try:
        start_http_server(port, addr=host, registry=registry)
    except OSError as e:
        log.error(
            "metrics listener not started",
            extra={"host": host, "port": port, "error": type(e).__name__},
        )
        return False
    log.info("metrics listening", extra={"url": f"http://{host}:{port}/metrics"})
    return True

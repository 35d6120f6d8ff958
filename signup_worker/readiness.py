"""The worker's readiness, for a rollout to wait on: GET /readyz on the metrics port answers 200
only while every worker process has its resources open and its consumers are fetching from
Redis, 503 with the reason otherwise. Everything else on that port is the metrics.

The metrics process Dramatiq forks knows nothing of its siblings, so each worker process leaves
a marker file naming its broker id once it has booted (resources open, consumers started) and
takes it away when it shuts down; Dramatiq's Redis broker stamps that id in a sorted set on
every fetch, which tells a consuming process from a stuck one.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import redis
from dramatiq import Middleware
from prometheus_client import CollectorRegistry, make_wsgi_app

from signup_core import redis_client
from signup_core.settings import Settings

log = logging.getLogger(__name__)

PATH = "/readyz"
PREFIX = "consuming-"
HEARTBEATS = "dramatiq:__heartbeats__"  # the Redis broker's default namespace
# A consumer fetches at least every second while idle (signup_worker.wakeable's IDLE_WAIT).
STALE_MS = 10_000
TIMEOUT = 1.0


def folder() -> Path | None:
    # Shared by the worker processes and the metrics process (set by signup-worker).
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    return Path(given) if given else None


class Consuming(Middleware):
    """Install after Resources: its boot hook runs once the resources are open."""

    def after_worker_boot(self, broker, worker) -> None:
        where = folder()
        if where is not None:
            (where / f"{PREFIX}{os.getpid()}").write_text(broker.broker_id)

    def before_worker_shutdown(self, broker, worker) -> None:
        where = folder()
        if where is not None:
            (where / f"{PREFIX}{os.getpid()}").unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def not_ready(where: Path | None, processes: int, client: redis.Redis) -> str | None:
    """Why the worker is not ready, or None when it is."""
    if where is None:
        return "PROMETHEUS_MULTIPROC_DIR is not set (start the worker with signup-worker)"
    ids = []
    for marker in where.glob(f"{PREFIX}*"):
        pid = marker.name.removeprefix(PREFIX)
        if pid.isdigit() and _alive(int(pid)):
            ids.append(marker.read_text())
    if len(ids) < processes:
        return f"{len(ids)} of {processes} worker process(es) booted"
    try:
        stamps = client.zmscore(HEARTBEATS, ids)
    except (redis.RedisError, OSError) as e:
        return f"Redis unreachable ({type(e).__name__})"
    now = time.time() * 1000
    stale = sum(1 for s in stamps if s is None or now - s > STALE_MS)
    if stale:
        return f"{stale} worker process(es) not fetching from Redis"
    return None


def app(registry: CollectorRegistry, settings: Settings) -> Callable:
    metrics = make_wsgi_app(registry)
    client = redis_client.sync_client(
        settings.redis_url.value, socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT
    )

    def route(environ: dict, start_response: Callable) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != PATH:
            return metrics(environ, start_response)
        reason = not_ready(folder(), settings.worker_processes, client)
        body = f"{reason or 'ready'}\n".encode()
        status = "503 Service Unavailable" if reason else "200 OK"
        start_response(status, [("Content-Type", "text/plain; charset=utf-8")])
        return [body]

    return route


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Server6(_Server):
    address_family = socket.AF_INET6


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """A probe every few seconds is not worth a line."""


def serve(registry: CollectorRegistry, settings: Settings, host: str, port: int) -> bool:
    """As signup_core.exposition.serve, with /readyz beside /metrics."""
    try:
        server = make_server(
            host,
            port,
            app(registry, settings),
            server_class=_Server6 if ":" in host else _Server,
            handler_class=_Quiet,
        )
    except OSError as e:
        log.error(
            "metrics listener not started",
            extra={"host": host, "port": port, "error": type(e).__name__},
        )
        return False
    threading.Thread(target=server.serve_forever, daemon=True).start()
    log.info("metrics listening", extra={"url": f"http://{host}:{port}/metrics"})
    return True

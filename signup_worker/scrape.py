"""The worker's metrics process: the multiprocess counters of every worker process, and what
is read at scrape time, cheaply and with short timeouts: queue depths and dead letters from
Redis (three O(1) reads per queue), and the ages of the oldest unsent mail and unapplied
provider event from PostgreSQL (two index probes). Dramatiq forks it (Metrics.forks)."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator

import asyncpg
import redis
from dramatiq.middleware.prometheus import Prometheus
from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from signup_core import build, db, exposition, logs, redis_client
from signup_core.queue import EVENTS_QUEUE, HOOKS_QUEUE, MAIL_QUEUE
from signup_core.settings import Settings, load_settings
from signup_worker import readiness

log = logging.getLogger(__name__)

# A scrape must answer within Prometheus' timeout (10 s by default) even with both stores down.
TIMEOUT = 1.0
NAMESPACE = "dramatiq"  # the Redis broker's key prefix (signup_worker.broker keeps the default)
QUEUES = (MAIL_QUEUE, EVENTS_QUEUE, HOOKS_QUEUE)


class Backlog(Collector):
    """Queue depth per queue (ready / delayed), dead letters, waiting-row ages, and whether
    each store answered, so a missing age is told apart from a zero one."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.redis = redis_client.sync_client(
            settings.redis_url.value, socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT
        )

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily(
            "signup_worker_dependency_up",
            "1 if the store answered this scrape's reads.",
            labels=["dependency"],
        )
        yield from self._queues(up)
        yield from self._ages(up)
        yield up

    def _queues(self, up: GaugeMetricFamily) -> Iterator[GaugeMetricFamily]:
        depth = GaugeMetricFamily(
            "signup_queue_depth",
            "Messages waiting in a queue: ready to run, or delayed (a retry's backoff).",
            labels=["queue", "state"],
        )
        dead = GaugeMetricFamily(
            "signup_queue_dead_letters", "Dead-lettered messages kept by Redis.", labels=["queue"]
        )
        try:
            pipe = self.redis.pipeline(transaction=False)
            for queue in QUEUES:
                pipe.llen(f"{NAMESPACE}:{queue}")
                pipe.llen(f"{NAMESPACE}:{queue}.DQ")
                pipe.zcard(f"{NAMESPACE}:{queue}.XQ")
            values = pipe.execute()
        except (redis.RedisError, OSError) as e:
            log.warning("metrics: Redis unreadable", extra={"error": type(e).__name__})
            up.add_metric(["redis"], 0)
            return
        up.add_metric(["redis"], 1)
        for i, queue in enumerate(QUEUES):
            ready, delayed, dead_letters = values[3 * i : 3 * i + 3]
            depth.add_metric([queue, "ready"], ready)
            depth.add_metric([queue, "delayed"], delayed)
            dead.add_metric([queue], dead_letters)
        yield depth
        yield dead

    def _ages(self, up: GaugeMetricFamily) -> Iterator[GaugeMetricFamily]:
        try:
            row = asyncio.run(_waiting_ages(self.settings))
        except (*db.UNAVAILABLE, asyncpg.PostgresError) as e:
            log.warning("metrics: PostgreSQL unreadable", extra={"error": type(e).__name__})
            up.add_metric(["postgres"], 0)
            return
        up.add_metric(["postgres"], 1)
        yield GaugeMetricFamily(
            "signup_outbox_oldest_unsent_age_seconds",
            "Age of the oldest mail not yet sent nor failed (0 when none waits).",
            value=row["outbox_age"],
        )
        yield GaugeMetricFamily(
            "signup_events_oldest_unapplied_age_seconds",
            "Age of the oldest provider event not yet applied nor failed (0 when none waits).",
            value=row["events_age"],
        )


async def _waiting_ages(settings: Settings) -> asyncpg.Record:
    # One short-lived connection per scrape: nothing to keep healthy between scrapes, and a
    # scrape every 15-60 s costs PostgreSQL little.
    async with asyncio.timeout(TIMEOUT):
        conn = await db.connect(settings.database_url.value, settings.database_pool_mode)
        try:
            return await db.queries().waiting_ages(conn)
        finally:
            await conn.close()


def registry_for(settings: Settings) -> CollectorRegistry:
    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    build.register_info(registry, settings, "worker")
    registry.register(Backlog(settings))
    return registry


def serve() -> None:
    """Dramatiq's fork entry point: serve until Dramatiq stops this process. A port that cannot
    be had is logged, and mail goes on flowing; the WorkerAbsent alert says so."""
    settings = load_settings()
    logs.configure(settings.log_level, settings.log_format, "worker")
    # /readyz beside /metrics on the same port.
    readiness.serve(
        registry_for(settings),
        settings,
        exposition.metrics_host(settings),
        settings.worker_metrics_port,
    )
    threading.Event().wait()


class Metrics(Prometheus):
    """Dramatiq's Prometheus middleware (messages, errors, retries, dead letters, durations per
    actor) with our exposition process in place of its own, which listens on 0.0.0.0:9191
    whatever is configured and knows nothing of our scrape-time readings."""

    @property
    def forks(self):
        return [serve]

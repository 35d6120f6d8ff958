"""The service's own concerns: where it runs and what it connects to, its keys, what it keeps
and for how long, and how it reports on itself."""

from __future__ import annotations

from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict

from signup_core.settings.types import (
    BaseUrl,
    Duration,
    Key,
    PositiveFloat,
    PositiveInt,
    PostgresUrl,
    RedisUrl,
    Seal,
    var,
)


class Concern(BaseSettings):
    """One group of variables (its title heads its section in docs/configuration.md)."""

    # Built on first use, not at import: `signupctl --help` never validates settings.
    # Sources are load_settings' own (see model.py): nothing here reads os.environ.
    model_config = SettingsConfigDict(
        defer_build=True,
        frozen=True,
        extra="ignore",
        case_sensitive=True,
        validate_default=False,
    )


class Service(Concern, title="Service"):
    database_url: PostgresUrl = var(
        "DATABASE_URL", doc="PostgreSQL, `postgresql://user:pass@host:5432/db`."
    )
    redis_url: RedisUrl = var(
        "REDIS_URL",
        doc="Redis or Valkey, `redis://host:6379/0`, or Sentinel's primary: "
        "`redis+sentinel://[:password@]host:port[,host:port…]/service_name[/db]`.",
    )
    database_pool_mode: Literal["session", "transaction"] = var(
        "DATABASE_POOL_MODE",
        "session",
        "`transaction` when DATABASE_URL points at PgBouncer in transaction pooling: no statement "
        "cache, no session state (docs/data-tier.md).",
    )
    database_migrate_url: PostgresUrl | None = var(
        "DATABASE_MIGRATE_URL",
        None,
        "A direct connection (past any pooler) for `signupctl migrate`; DATABASE_URL when unset.",
    )
    public_base_url: BaseUrl = var(
        "PUBLIC_BASE_URL",
        doc="Base of links in mails, `https://news.example.com`; its host names Message-IDs.",
    )
    host: str = var("HOST", "127.0.0.1", "Where `signup-api` listens.")
    port: PositiveInt = var("PORT", 8000, "The public API's port.")
    db_pool_max: PositiveInt = var(
        "SIGNUP_DB_POOL_MAX",
        20,
        "API connection pool size; fewer than concurrent requests and waits set the tail latency.",
    )
    relay_interval: PositiveFloat = var(
        "SIGNUP_RELAY_INTERVAL",
        0.1,
        "Seconds between the relay's polls of the outbox and of provider events.",
    )
    relay_check_after: PositiveInt = var(
        "SIGNUP_RELAY_CHECK_AFTER",
        30,
        "Seconds after relaying a row before the relay checks its queue message (else requeues).",
    )
    worker_heartbeat_timeout: PositiveInt = var(
        "SIGNUP_WORKER_HEARTBEAT_TIMEOUT",
        60,
        "Seconds of silence after which a worker counts as dead and its messages are requeued.",
    )
    worker_processes: PositiveInt = var("SIGNUP_WORKER_PROCESSES", 1, "Worker processes.")
    worker_threads: PositiveInt = var("SIGNUP_WORKER_THREADS", 8, "Worker threads per process.")


class Keys(Concern, title="Keys"):
    blind_index_key: Key = var(
        "SIGNUP_BLIND_INDEX_KEY",
        doc="Keys the address index and consent IP hash; see runbooks/rotating-secrets.md.",
        generated=True,
    )
    blind_index_key_previous: Key | None = var(
        "SIGNUP_BLIND_INDEX_KEY_PREVIOUS",
        None,
        "During a blind-index key rotation, the key before; look-ups also try it and refile.",
    )
    signing_key: Key = var("SIGNUP_SIGNING_KEY", doc="Signs unsubscribe links.", generated=True)
    signing_key_previous: Key | None = var(
        "SIGNUP_SIGNING_KEY_PREVIOUS",
        None,
        "The signing key before a rotation, still accepted for links.",
    )
    seal_keys: Seal = var(
        "SIGNUP_SEAL_KEYS",
        doc="Seals addresses and names: `id:base64key[,id:base64key...]`; the first seals.",
        generated=True,
    )
    consent_key: Key | None = var(
        "SIGNUP_CONSENT_KEY",
        None,
        "Keys the consent record's IP hashes; unset: derived from the blind-index key under its "
        "own purpose (each row records which key made its hash).",
    )


class Privacy(Concern, title="Privacy and retention"):
    retain_pending: Duration = var(
        "SIGNUP_RETAIN_PENDING",
        30 * 86400,
        "Unconfirmed subscriptions are deleted this long after their last signup.",
    )
    retain_tokens: Duration = var(
        "SIGNUP_RETAIN_TOKENS",
        7 * 86400,
        "Spent or expired confirmation tokens are deleted this long after.",
    )
    retain_outbox: Duration = var(
        "SIGNUP_RETAIN_OUTBOX",
        30 * 86400,
        "Sent outbox rows are deleted this long after sending (dead letters are kept).",
    )
    retain_events: Duration = var(
        "SIGNUP_RETAIN_EVENTS",
        30 * 86400,
        "Applied provider events are deleted this long after; at least SIGNUP_SOFT_BOUNCE_WINDOW.",
    )
    retain_closed: Duration = var(
        "SIGNUP_RETAIN_CLOSED",
        30 * 86400,
        "Unsubscribed or suppressed subscriptions keep their address and name this long, then "
        "only what suppression and the consent record need.",
    )
    retain_dead_letters: Duration = var(
        "SIGNUP_RETAIN_DEAD_LETTERS",
        30 * 86400,
        "Dead-lettered mails and outbound events are deleted this long after they failed.",
    )
    purge_interval: Duration = var(
        "SIGNUP_PURGE_INTERVAL", 3600, "How often one worker of the cluster purges."
    )
    purge_batch: PositiveInt = var("SIGNUP_PURGE_BATCH", 1000, "Rows per purge transaction.")


class Observability(Concern, title="Logs, metrics and traces"):
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = var(
        "SIGNUP_LOG_LEVEL", "INFO", "Log level."
    )
    log_format: Literal["json", "console"] = var(
        "SIGNUP_LOG_FORMAT",
        "json",
        "`json` (one object a line) or `console` (short lines for a terminal; `make run` sets it).",
    )
    metrics_host: str | None = var(
        "SIGNUP_METRICS_HOST", None, "Where the metrics listen (unset: HOST)."
    )
    metrics_port: PositiveInt = var("SIGNUP_METRICS_PORT", 9181, "The API's metrics port.")
    worker_metrics_port: PositiveInt = var(
        "SIGNUP_WORKER_METRICS_PORT", 9191, "The worker's metrics port."
    )
    git_sha: str = var("SIGNUP_GIT_SHA", "unknown", "The commit, shown in `signup_build_info`.")
    traces_exporter: Literal["none", "otlp", "console"] = var(
        "OTEL_TRACES_EXPORTER",
        "none",
        "Trace exporter; the other `OTEL_*` variables as OpenTelemetry defines them.",
    )
    service_name: str | None = var(
        "OTEL_SERVICE_NAME", None, "The service name in traces (unset: per process)."
    )

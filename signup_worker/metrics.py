"""The worker's Prometheus metrics. Dramatiq forks worker processes, so every value lives in
prometheus-client's multiprocess files (PROMETHEUS_MULTIPROC_DIR, set by `signup-worker`
before anything imports prometheus_client); one forked process serves them with the
scrape-time readings of Redis and PostgreSQL (signup_worker.scrape).

Label values come from fixed sets: the mail kinds, the outcomes below, the configured
transport, the providers and event kinds the parsers emit.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

MAIL_KINDS = frozenset({"confirmation", "welcome", "already_subscribed", "unsubscribed"})
PROVIDERS = frozenset({"ses", "postmark", "sendgrid", "mailgun"})
EVENT_KINDS = frozenset({"hard_bounce", "soft_bounce", "complaint", "unsubscribe", "delivered"})

MAILS = Counter(
    "signup_mails_total",
    "Mails by kind and result: sent, deferred (a retry will follow), failed (refused or broken), "
    "gave_up (retries exhausted), skipped (the subscription no longer wants it).",
    ["kind", "result"],
)
SEND_SECONDS = Histogram(
    "signup_mail_send_seconds",
    "Time to hand one mail to the transport, whatever the answer.",
    ["transport"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
PROVIDER_EVENTS = Counter(
    "signup_provider_events_total",
    "Provider events applied (each once): bounces by type, complaints, unsubscribes.",
    ["provider", "kind"],
)
RELAY_BATCHES = Counter(
    "signup_relay_batches_total", "Relay polls that moved rows onto a queue.", ["queue"]
)
RELAY_ROWS = Counter("signup_relay_rows_total", "Rows the relay moved onto a queue.", ["queue"])
RELAY_RELEASED = Counter(
    "signup_relay_released_total",
    "Rows given back to the relay because Redis no longer held their message.",
    ["queue"],
)


HOOK_TYPES = frozenset(
    {
        "subscriber.confirmed",
        "subscriber.unsubscribed",
        "subscriber.suppressed",
        "subscriber.erased",
    }
)
HOOKS = Counter(
    "signup_outbound_events_total",
    "Outbound events to SIGNUP_EVENTS_URL by type and result: sent, retried (the receiver did "
    "not take it; a retry follows), gone (410: dead-lettered), gave_up (retries exhausted).",
    ["type", "result"],
)


# Every series at zero from the start: the alert's ratio needs them before the first event.
for _type in HOOK_TYPES:
    for _result in ("sent", "retried", "gone", "gave_up"):
        HOOKS.labels(_type, _result)


def hook(event_type: str, result: str) -> None:
    HOOKS.labels(event_type if event_type in HOOK_TYPES else "other", result).inc()


def mail(kind: str, result: str) -> None:
    MAILS.labels(kind if kind in MAIL_KINDS else "unknown", result).inc()


def provider_event(provider: str, kind: str) -> None:
    PROVIDER_EVENTS.labels(
        provider if provider in PROVIDERS else "other", kind if kind in EVENT_KINDS else "other"
    ).inc()

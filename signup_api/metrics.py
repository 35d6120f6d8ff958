"""Prometheus counters of the API and the /metrics endpoint that exposes them."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, Counter, generate_latest
from starlette.requests import Request
from starlette.responses import Response

SIGNUPS = Counter("signup_signups_total", "Signups by outcome.", ["outcome"])
RATE_LIMITED = Counter("signup_rate_limited_total", "Signups refused by a rate limit.", ["limit"])
LIMITER_ERRORS = Counter(
    "signup_rate_limiter_errors_total",
    "Rate-limit checks skipped because Redis did not answer (signups were let through).",
)
WEBHOOK_EVENTS = Counter(
    "signup_webhook_events_total", "Provider events received, by kind.", ["provider", "kind"]
)
WEBHOOK_REJECTED = Counter(
    "signup_webhook_verification_failures_total",
    "Webhook requests refused before anything was stored.",
    ["provider", "reason"],
)
WEBHOOK_DERIVED_IDS = Counter(
    "signup_webhook_events_without_id_total",
    "Provider events that came without an id, stored under one derived from their content.",
    ["provider"],
)
BLOCKED = Counter("signup_blocked_total", "Signups refused by an abuse control.", ["reason"])


async def metrics(request: Request) -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

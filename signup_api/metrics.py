"""The API's Prometheus metrics, served by start() on the metrics port, never the public one.

Every label value comes from a fixed set: route templates (not paths), status classes, outcome
slugs written in the code, the configured providers.
"""

from __future__ import annotations

from prometheus_client import REGISTRY, Counter, Gauge, Histogram

from signup_core import build, exposition
from signup_core.settings import Settings

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
CONFIRMATIONS = Counter(
    "signup_confirmations_total", "Confirmation attempts by outcome.", ["outcome"]
)
READY = Gauge(
    "signup_ready", "1 when the last /readyz found the API ready (PostgreSQL, Redis, schema)."
)
DEPENDENCY_UP = Gauge(
    "signup_dependency_up", "What the last /readyz found, per check (1 up).", ["dependency"]
)

REQUESTS = Counter(
    "signup_http_requests_total",
    "HTTP requests by method, route template and status class.",
    ["method", "route", "status"],
)
# Around the measured latencies: ~1 ms for one request alone; p50 ~30 ms and p99 ~55-70 ms
# with 32 connections at ~1000 signups/s on 2 cores (bench/results).
LATENCY = Histogram(
    "signup_http_request_duration_seconds",
    "Time from the request's arrival to the end of its answer, by route template.",
    ["method", "route"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.035, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)


class _Tally:
    """A count changed on the event loop's thread only, read by its gauge when scraped:
    Gauge.inc() and .dec() take a lock each, twice a request, for a number read rarely."""

    __slots__ = ("n",)

    def __init__(self) -> None:
        self.n = 0

    def inc(self) -> None:
        self.n += 1

    def dec(self) -> None:
        self.n -= 1


IN_FLIGHT = _in_flight = _Tally()
Gauge("signup_http_requests_in_flight", "Requests being answered now.").set_function(
    lambda: _in_flight.n
)

_METHODS = frozenset({"GET", "POST", "HEAD", "OPTIONS"})
_CLASSES = ("1xx", "1xx", "2xx", "3xx", "4xx", "5xx")
# labels() takes a lock for each lookup; the children are cached here once made.
_requests: dict[tuple[str, str, str], Counter] = {}
_latency: dict[tuple[str, str], Histogram] = {}


def observe(method: str, route: str, status: int, seconds: float) -> None:
    """Count one answered request under bounded labels."""
    method = method if method in _METHODS else "other"
    status_class = _CLASSES[status // 100] if 100 <= status < 600 else "5xx"
    key = (method, route, status_class)
    counter = _requests.get(key)
    if counter is None:
        counter = _requests[key] = REQUESTS.labels(*key)
    counter.inc()
    histogram = _latency.get(key[:2])
    if histogram is None:
        histogram = _latency[key[:2]] = LATENCY.labels(method, route)
    histogram.observe(seconds)


_started = False


def start(settings: Settings) -> bool:
    """Register the build info and serve the default registry on the metrics port, once."""
    global _started
    if _started:
        return True
    build.register_info(REGISTRY, settings, "api")
    _started = exposition.serve(REGISTRY, exposition.metrics_host(settings), settings.metrics_port)
    return _started


# Admin API: tokens by algorithm, so the operator sees when HS256 traffic has stopped.
ADMIN_TOKENS = Counter(
    "signup_admin_tokens_total",
    "Admin API bearer tokens by signing algorithm and outcome (accepted or why refused).",
    ["algorithm", "outcome"],
)
ADMIN_ALGORITHMS = frozenset({"ES256", "RS256", "HS256", "none"})  # else "other"

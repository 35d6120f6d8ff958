"""Mail-provider webhooks: each module verifies a request first, then turns it into Events."""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

import httpx

from signup_core.settings import Settings

_ENHANCED_STATUS = re.compile(r"\b([245])\.\d{1,3}\.\d{1,3}\b")


class Rejected(Exception):
    """Not authentic, or not acceptable: answered with `status`, and nothing is stored."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class Event:
    """One thing a provider says about one address. `detail` never holds personal data."""

    event_id: str
    kind: str
    address: str
    occurred_at: datetime.datetime
    detail: str | None = None


@dataclass(frozen=True)
class Inbound:
    body: bytes
    headers: Mapping[str, str]  # lower-case names
    query: Mapping[str, str]


@dataclass(frozen=True)
class Context:
    settings: Settings
    now: datetime.datetime
    http: httpx.AsyncClient
    # Claims a one-time value for `ttl` seconds; False if it was claimed before (a replay).
    claim_once: Callable[[str, int], Awaitable[bool]]
    certificates: dict[str, object]  # certificate URL -> its parsed public key


def json_body(body: bytes, kind: type[dict] | type[list] = dict):
    """The request body as a JSON object (or array); anything else is a 400."""
    try:
        value = json.loads(body)
    except ValueError:
        raise Rejected(400, "malformed") from None
    if not isinstance(value, kind):
        raise Rejected(400, "malformed")
    return value


def bounce_kind(status: str | None, *, labelled_permanent: bool) -> str:
    """A per-recipient SMTP status decides (5.x.x is permanent whatever the label says);
    only without one does the provider's label count."""
    match = _ENHANCED_STATUS.search(status or "")
    if match:
        return "hard_bounce" if match.group(1) == "5" else "soft_bounce"
    return "hard_bounce" if labelled_permanent else "soft_bounce"


def status_of(text: str | None) -> str | None:
    match = _ENHANCED_STATUS.search(text or "")
    return match.group(0) if match else None


def parse_time(value: object, fallback: datetime.datetime) -> datetime.datetime:
    """ISO 8601 strings or Unix seconds, as providers send them."""
    try:
        if isinstance(value, int | float):
            return datetime.datetime.fromtimestamp(float(value), datetime.UTC)
        if isinstance(value, str) and value:
            parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.UTC)
    except (ValueError, OverflowError, OSError):
        pass
    return fallback


def within(moment: datetime.datetime, now: datetime.datetime, tolerance: int) -> bool:
    return abs((now - moment).total_seconds()) <= tolerance

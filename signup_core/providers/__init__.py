"""Mail-provider webhooks: each module verifies a request first, then turns it into Events.
Every field is read through the typed helpers here: a field of another type is `Malformed`."""

from __future__ import annotations

import datetime
import hashlib
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from signup_core import json_bodies
from signup_core.settings import Settings


class Rejected(Exception):
    """Not authentic, or not acceptable: answered with `status`, and nothing is stored."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class Malformed(Rejected):
    """A body or a field that is not what the provider documents: a 400, whoever sent it."""

    def __init__(self) -> None:
        super().__init__(400, "malformed")


@dataclass(frozen=True)
class Event:
    """One thing a provider says about one address. `detail` never holds personal data.
    `derived_id`: the provider gave no id, so `event_id` is a digest of the event itself."""

    event_id: str
    kind: str
    address: str
    occurred_at: datetime.datetime
    detail: str | None = None
    derived_id: bool = False

    def __post_init__(self) -> None:
        # Stored as text, which PostgreSQL cannot hold a NUL in; JSON's "\u0000" and a form's
        # %00 can put one in any field. Replaced, not refused: the bounce still counts.
        for name in ("event_id", "detail"):
            value = getattr(self, name)
            if value is not None and "\x00" in value:
                object.__setattr__(self, name, value.replace("\x00", "\ufffd"))


@dataclass(frozen=True)
class Inbound:
    body: bytes
    headers: Mapping[str, str]  # lower-case names
    query: Mapping[str, str]
    client: str | None = None  # the client's address, past trusted proxies


@dataclass(frozen=True)
class Context:
    settings: Settings
    now: datetime.datetime
    http: httpx.AsyncClient
    # Claims a one-time value for `ttl` seconds; False if it was claimed before (a replay).
    claim_once: Callable[[str, int], Awaitable[bool]]
    certificates: dict[str, object]  # certificate URL -> its parsed public key


def json_body(body: bytes | str, kind: type[dict] | type[list] = dict) -> Any:
    """The body as a JSON object (or array), through the one strict loader; else Malformed."""
    try:
        value = json_bodies.loads(body)
    except json_bodies.MalformedJSON:
        raise Malformed from None
    if not isinstance(value, kind):
        raise Malformed
    return value


def text(record: Mapping[str, Any], name: str) -> str | None:
    """A string field; None when absent or null."""
    value = record.get(name)
    if value is None or isinstance(value, str):
        return value
    raise Malformed


def mapping(record: Mapping[str, Any], name: str) -> dict[str, Any]:
    """An object field; empty when absent or null."""
    value = record.get(name)
    if value is None:
        return {}
    if isinstance(value, dict):
        return value
    raise Malformed


def array(record: Mapping[str, Any], name: str, item: type = dict) -> list[Any]:
    """A list field whose items are all of one type; empty when absent or null."""
    value = record.get(name)
    if value is None:
        return []
    if isinstance(value, list) and all(isinstance(v, item) for v in value):
        return value
    raise Malformed


def identify(given: object, event: object) -> tuple[str, bool]:
    """The provider's id for an event, or, without one, a digest of the signed event itself:
    a retry of the same event gets the same id, so it is still stored once."""
    if isinstance(given, str) and given:
        return given, False
    if isinstance(given, int) and not isinstance(given, bool):
        return str(given), False
    if given not in (None, ""):
        raise Malformed
    canonical = json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "derived:" + hashlib.sha256(canonical.encode()).hexdigest()[:32], True


def parse_time(value: object, fallback: datetime.datetime) -> datetime.datetime:
    """ISO 8601 strings or Unix seconds, as providers send them; unreadable ones fall back."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, str | int | float)):
        raise Malformed
    try:
        if isinstance(value, int | float):
            return datetime.datetime.fromtimestamp(float(value), datetime.UTC)
        if isinstance(value, str) and value:
            parsed = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.UTC)
    except (ValueError, OverflowError, OSError):
        pass
    return fallback


def unix_time(stamp: str) -> datetime.datetime | None:
    """A signed Unix-seconds timestamp as sent in headers and signatures; None unless it is
    1-12 ASCII digits (str.isdigit() accepts "²", and 5,000 digits overflow)."""
    if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 12):
        return None
    try:
        return datetime.datetime.fromtimestamp(int(stamp), datetime.UTC)
    except (ValueError, OverflowError, OSError):
        return None


def within(moment: datetime.datetime, now: datetime.datetime, tolerance: int) -> bool:
    return abs((now - moment).total_seconds()) <= tolerance

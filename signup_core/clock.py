"""The one clock every replay-window check reads, so tests can set the time; and the one reading
of a time someone typed or a file holds."""

from __future__ import annotations

import datetime


class Clock:
    def now(self) -> datetime.datetime:
        return datetime.datetime.now(datetime.UTC)


class FixedClock(Clock):
    def __init__(self, at: datetime.datetime) -> None:
        self.at = at

    def now(self) -> datetime.datetime:
        return self.at


def iso_time(value: str) -> datetime.datetime | None:
    """An ISO 8601 time (UTC when it names no offset), or None when it is not one. Offsets,
    fractions of a second and a date alone are all read: what `date -Iseconds` prints, and
    what an export or a provider writes."""
    try:
        parsed = datetime.datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.UTC)


def utc_time(value: str) -> datetime.datetime | None:
    """iso_time in UTC, as an operator's filter is compared and audited; None also for a time
    that has no UTC form (0001-01-01T00:00+01:00, before UTC's year 1)."""
    parsed = iso_time(value)
    try:
        return parsed.astimezone(datetime.UTC) if parsed else None
    except OverflowError:
        return None

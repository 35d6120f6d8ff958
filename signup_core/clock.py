"""The one clock every replay-window check reads, so tests can set the time."""

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

"""Outbound events to the owner's tools (Standard Webhooks): off unless a URL is set."""

from __future__ import annotations

from signup_core.settings.service import Concern
from signup_core.settings.types import HttpUrl, PositiveFloat, PositiveInt, SvixSecret, var


class Hooks(Concern, title="Outbound events"):
    events_url: HttpUrl | None = var(
        "SIGNUP_EVENTS_URL",
        None,
        "Where subscriber.confirmed / unsubscribed / suppressed / erased are POSTed "
        "(docs/operator.md); unset: no events.",
    )
    events_secret: SvixSecret | None = var(
        "SIGNUP_EVENTS_SECRET",
        None,
        "Signs the events (`whsec_` and base64, as Standard Webhooks says); needed with the URL.",
    )
    events_min_backoff_ms: PositiveInt = var(
        "SIGNUP_EVENTS_MIN_BACKOFF_MS", 5_000, "First retry delay of an undelivered event."
    )
    events_max_backoff_ms: PositiveInt = var(
        "SIGNUP_EVENTS_MAX_BACKOFF_MS", 120_000, "Longest retry delay of an undelivered event."
    )
    events_max_retries: int = var(
        "SIGNUP_EVENTS_MAX_RETRIES", 20, "Retries before an event is dead-lettered."
    )
    events_timeout: PositiveFloat = var(
        "SIGNUP_EVENTS_TIMEOUT", 10.0, "Seconds the receiver has to answer one delivery."
    )

    @property
    def events_enabled(self) -> bool:
        return self.events_url is not None

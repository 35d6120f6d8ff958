"""A 429's reset, however the provider writes it, as seconds from now."""

from __future__ import annotations

import datetime

import pytest

from signup_core.clock import FixedClock
from signup_core.mail.http_api import reset_after

NOW = datetime.datetime(2026, 11, 23, 12, 0, 0, tzinfo=datetime.UTC)
CLOCK = FixedClock(NOW)


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"retry-after": "30"}, 30.0),
        ({"retry-after": "Mon, 23 Nov 2026 12:02:00 GMT"}, 120.0),
        ({"ratelimit-reset": "7"}, 7.0),  # Resend: seconds
        ({"x-ratelimit-reset": str(int(NOW.timestamp()) + 60)}, 60.0),  # SendGrid: Unix time
        ({"x-ratelimit-reset": str(int(NOW.timestamp() * 1000) + 5000)}, 5.0),  # milliseconds
        ({"x-sib-ratelimit-reset": "45"}, 45.0),  # Brevo: seconds
        ({"retry-after": "-5"}, 0.0),
        ({"retry-after": "9" * 30}, 86_400.0),  # never longer than a day
        ({"retry-after": "soon", "ratelimit-reset": "3"}, 3.0),  # unreadable: the next one
        ({"retry-after": "nan"}, None),
        ({}, None),
    ],
)
def test_reset_after(headers, seconds):
    assert reset_after(headers, CLOCK) == seconds

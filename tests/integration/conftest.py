"""Fixtures shared by the hostile-input tests."""

from __future__ import annotations

import pytest
import respx

from signup_core.clock import FixedClock
from tests import providers as p
from tests.support import app_client


@pytest.fixture
async def armed(env, db):
    """A client for an app with every provider's webhook configured with the test keys, the
    SNS certificate served, and the clock at the time the test signatures are made for."""
    with respx.mock(assert_all_called=False) as mock:
        mock.get(p.CERT_URL).respond(content=p.SNS_CERT)
        async with app_client(p.configured(env), clock=FixedClock(p.NOW)) as client:
            yield client

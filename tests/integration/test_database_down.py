"""PostgreSQL stopped under a running API: every surface, public and admin, answers 503 with
Retry-After (a problem for APIs, a page for browsers), never a 500."""

from __future__ import annotations

import logging
import uuid

import httpx
import pytest
import respx

from signup_core import unsubscribe_links
from signup_core.clock import FixedClock
from signup_core.settings import load_settings
from tests import admin_support as a
from tests.integration.test_outages import _migrate, own_postgres  # noqa: F401 - a fixture
from tests.support import app_client

ES = a.ec_key("es-1")

ADMIN_CALLS = [
    ("GET", "/admin/v1/stats", None),
    ("GET", "/admin/v1/audit", None),
    ("GET", "/admin/v1/dead-letters", None),
    ("POST", "/admin/v1/dead-letters/replay", {"all": True}),
    ("POST", "/admin/v1/erasures", {"address": "gone@example.com"}),
    ("POST", "/admin/v1/suppressions", {"address": "stop@example.com"}),
    ("DELETE", "/admin/v1/suppressions/" + "ab" * 32, None),
]


@pytest.fixture
async def stopped(env, own_postgres):  # noqa: F811 - the fixture imported above
    """The app's environment on a PostgreSQL of its own, migrated, which the test stops."""
    await _migrate(own_postgres.url)
    return {**env, "DATABASE_URL": own_postgres.url}, own_postgres


async def test_every_admin_route_answers_503_while_postgresql_is_down(stopped, caplog):
    env, server = stopped
    with respx.mock(assert_all_called=False) as mock:
        mock.get(a.JWKS_URL).mock(return_value=httpx.Response(200, json=a.jwks(ES)))
        settings = load_settings(a.admin_env(env))
        async with a.admin_client(settings, FixedClock(a.NOW)) as admin:
            headers = a.bearer(a.sign(ES, scope="signup:admin"))
            assert (await admin.get("/admin/v1/stats", headers=headers)).status_code == 200
            server.stop()
            answers = {
                path: await admin.request(method, path, json=body, headers=headers)
                for method, path, body in ADMIN_CALLS
            }
    for path, answer in answers.items():
        assert answer.status_code == 503, (path, answer.text)
        assert answer.headers["retry-after"] == "5"
        assert answer.headers["content-type"] == "application/problem+json"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_every_public_surface_answers_503_while_postgresql_is_down(stopped, caplog):
    env, server = stopped
    link = unsubscribe_links.url(load_settings(env), uuid.uuid4())
    async with app_client(env) as client:
        assert (await client.get("/readyz")).status_code == 200
        server.stop()
        answers = {
            "signup": await client.post("/signup", json={"email": "down@example.com"}),
            "confirm": await client.post("/confirm", data={"token": "A" * 43}),
            "unsubscribe page": await client.get(link),
            "unsubscribe": await client.post(link),
        }
    for surface, answer in answers.items():
        assert answer.status_code == 503, (surface, answer.text)
        assert answer.headers["retry-after"] == "5", surface
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]

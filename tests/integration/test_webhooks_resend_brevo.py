"""Resend (Svix-signed) and Brevo (shared secret) webhooks: every documented event type is
stored and applied by the real worker; forged, stale, replayed and unauthenticated requests
are refused, or acknowledged without storing twice, and store nothing; Svix's published
reference vector verifies."""

from __future__ import annotations

import base64
import datetime
import json
import uuid

import pytest

from signup_core.clock import FixedClock
from tests import providers as p
from tests.integration.test_webhooks import (
    _applied,
    events_stored,
    person,
    status,
    subscribed,
)
from tests.support import app_client, eventually, inspect


@pytest.fixture
async def hooks(env, db):
    async with app_client(p.configured(env), clock=FixedClock(p.NOW)) as client:
        yield client


async def kinds(db) -> list[str]:
    return [r["kind"] async for r in inspect().events(db)]


async def reason(db, email: str) -> str:
    from tests.integration.test_signup import index

    [row] = [r async for r in inspect().suppression(db, email_index=index(email))]
    return row["suppression_reason"]


# --- Resend


def resend_event(kind: str, email: str, **data: object) -> dict:
    """An event as Resend's webhook documentation shows it."""
    return {
        "type": kind,
        "created_at": "2026-11-23T11:59:12.126Z",
        "data": {
            "created_at": "2026-11-23T11:59:11.894719+00:00",
            "email_id": "56761188-7520-42d8-8898-ff6fc54ce618",
            "from": "News <news@example.org>",
            "to": [email],
            "subject": "Please confirm",
            **data,
        },
    }


def bounce(kind: str, diagnostic: str, message: str = "The email bounced.") -> dict:
    return {
        "bounce": {
            "diagnosticCode": [diagnostic],
            "message": message,
            "subType": "General",
            "type": kind,
        }
    }


async def post_resend(client, event: dict, msg_id: str | None = None, **kw):
    body = json.dumps(event).encode()
    headers = p.svix_headers(body, msg_id or f"msg_{uuid.uuid4().hex}", **kw)
    return await client.post("/webhooks/resend", content=body, headers=headers)


@pytest.mark.parametrize(
    ("event", "data", "kind", "after"),
    [
        (
            "email.bounced",
            bounce("Permanent", "smtp; 550 5.1.1 user unknown"),
            "hard_bounce",
            "suppressed",
        ),
        (
            "email.bounced",
            bounce("Transient", "smtp; 452 4.2.2 mailbox full"),
            "soft_bounce",
            "confirmed",
        ),
        ("email.complained", {}, "complaint", "suppressed"),
        ("email.delivered", {}, "delivered", "confirmed"),
        # Resend is still trying: never a bounce, whatever is said about it
        (
            "email.delivery_delayed",
            bounce("Permanent", "550 5.1.1 unknown"),
            "deferred",
            "confirmed",
        ),
        (
            "email.suppressed",
            {"suppressed": {"message": "on the suppression list"}},
            "suppressed",
            "suppressed",
        ),
    ],
)
async def test_resend_events_are_stored_and_applied(hooks, db, worker, event, data, kind, after):
    # Given a confirmed subscriber
    email = person()
    await subscribed(hooks, db, email)
    # When Resend reports an event about them
    response = await post_resend(hooks, resend_event(event, email, **data))
    # Then it is stored as its kind, and the worker applies it
    assert response.status_code == 200 and response.json() == {"received": 1, "stored": 1}
    assert await kinds(db) == [kind]
    await eventually(lambda: _applied(db, 1), timeout=10)
    assert await status(db, email) == after
    if kind == "suppressed":
        assert await reason(db, email) == "provider_suppressed"


async def test_resend_events_we_do_not_act_on_are_acknowledged(hooks, db):
    for kind in ("email.sent", "email.opened", "email.clicked", "contact.created"):
        response = await post_resend(hooks, resend_event(kind, person()))
        assert response.status_code == 200 and response.json()["received"] == 0
    assert await events_stored(db) == 0


async def test_resend_one_event_per_recipient(hooks, db):
    event = resend_event("email.complained", person())
    event["data"]["to"] = [person(), f"Pat <{person()}>"]
    assert (await post_resend(hooks, event)).json() == {"received": 2, "stored": 2}


async def test_resend_seen_svix_id_is_acknowledged_and_not_stored_twice(hooks, db):
    event = resend_event("email.complained", person())
    first = await post_resend(hooks, event, "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W")
    # Svix's retry of the same message: the same id, signed again
    again = await post_resend(hooks, event, "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W")
    assert first.json()["stored"] == 1
    assert again.status_code == 200 and again.json()["stored"] == 0
    assert await events_stored(db) == 1


async def test_resend_any_one_of_several_signatures_passes(hooks, db):
    # While a secret rotates, Svix signs with the old and the new one.
    other = "whsec_" + base64.b64encode(b"the-other-secret-being-rotated").decode()
    event = resend_event("email.complained", person())
    body = json.dumps(event).encode()
    old = p.svix_headers(body, "msg_rotated", secret=other)["svix-signature"]
    headers = p.svix_headers(body, "msg_rotated", extra=("v1a,c29tZXRoaW5nIGVsc2U=", old))
    response = await hooks.post("/webhooks/resend", content=body, headers=headers)
    assert response.status_code == 200 and response.json()["stored"] == 1


def _forged(forgery: str, body: bytes) -> tuple[bytes, dict[str, str]]:
    headers = p.svix_headers(body, "msg_forged")
    if forgery == "tampered":
        return body.replace(b"complained", b"delivered"), headers
    if forgery == "other-secret":
        other = "whsec_" + base64.b64encode(b"not-the-configured-secret").decode()
        return body, p.svix_headers(body, "msg_forged", secret=other)
    if forgery == "other-id":
        return body, {**headers, "svix-id": "msg_another"}
    if forgery == "stale":
        return body, p.svix_headers(body, "msg_forged", when=p.NOW - datetime.timedelta(hours=1))
    if forgery == "future":
        return body, p.svix_headers(body, "msg_forged", when=p.NOW + datetime.timedelta(hours=1))
    if forgery == "other-version":
        return body, {**headers, "svix-signature": headers["svix-signature"].replace("v1,", "v2,")}
    return body, {"content-type": "application/json"}


@pytest.mark.parametrize(
    "forgery",
    ["tampered", "other-secret", "other-id", "stale", "future", "other-version", "unsigned"],
)
async def test_resend_forgeries_are_refused_and_store_nothing(hooks, db, forgery):
    body, headers = _forged(
        forgery, json.dumps(resend_event("email.complained", person())).encode()
    )
    response = await hooks.post("/webhooks/resend", content=body, headers=headers)
    assert response.status_code == (401 if forgery == "unsigned" else 403)
    assert response.headers["content-type"] == "application/problem+json"
    assert await events_stored(db) == 0


async def test_resend_without_a_configured_secret_is_refused(env, db):
    unconfigured = {k: v for k, v in p.configured(env).items() if "RESEND" not in k}
    async with app_client(unconfigured, clock=FixedClock(p.NOW)) as client:
        response = await post_resend(client, resend_event("email.complained", person()))
    assert response.status_code == 403
    assert await events_stored(db) == 0


async def test_svix_reference_vector_verifies(env, db):
    """Svix's published example: this secret, id, timestamp and payload, and this signature."""
    vector = {
        "SIGNUP_RESEND_WEBHOOK_SECRET": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "SIGNUP_WEBHOOK_TOLERANCE": "300",
    }
    at = FixedClock(datetime.datetime.fromtimestamp(1614265330, datetime.UTC))
    headers = {
        "svix-id": "msg_p5jXN8AQM9LWM0D4loKWxJek",
        "svix-timestamp": "1614265330",
        "svix-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    }
    payload = b'{"test": 2432232314}'
    async with app_client({**p.configured(env), **vector}, clock=at) as client:
        genuine = await client.post("/webhooks/resend", content=payload, headers=headers)
        altered = await client.post("/webhooks/resend", content=payload + b" ", headers=headers)
    assert genuine.status_code == 200 and genuine.json() == {"received": 0, "stored": 0}
    assert altered.status_code == 403


# --- Brevo


def brevo_event(kind: str, email: str, reason: str | None = None, ts: int = 1795003140) -> dict:
    """A transactional webhook event as Brevo's documentation shows it."""
    event = {
        "event": kind,
        "email": email,
        "id": 26224,  # the webhook's id, the same on every event
        "date": "2026-11-23 12:59:00",
        "ts": ts,
        "message-id": "<202611231159.12345678@smtp-relay.mailin.fr>",
        "ts_event": ts,
        "subject": "Please confirm",
        "tag": '["confirmation"]',
        "sending_ip": "185.41.28.109",
        "ts_epoch": ts * 1000 + 223,
        "tags": ["confirmation"],
    }
    if reason is not None:
        event["reason"] = reason
    return event


def brevo_auth(secret: str = p.BREVO_SECRET, user: str = "brevo") -> dict[str, str]:
    token = base64.b64encode(f"{user}:{secret}".encode()).decode()
    return {"authorization": f"Basic {token}"}


def bearer(secret: str = p.BREVO_SECRET) -> dict[str, str]:
    return {"authorization": f"Bearer {secret}"}


@pytest.mark.parametrize(
    ("event", "why", "kind", "after"),
    [
        ("hard_bounce", "550 5.1.1 The email account does not exist", "hard_bounce", "suppressed"),
        ("soft_bounce", "452 4.2.2 Mailbox full", "soft_bounce", "confirmed"),
        ("blocked", "blocked : due to blacklist user", "suppressed", "suppressed"),
        ("spam", None, "complaint", "suppressed"),
        ("unsubscribed", None, "unsubscribe", "unsubscribed"),
        ("invalid_email", None, "hard_bounce", "suppressed"),
        ("delivered", None, "delivered", "confirmed"),
        # Brevo is still trying: never a bounce, whatever its reason text says
        ("deferred", "550 5.1.1 user unknown (will retry)", "deferred", "confirmed"),
    ],
)
async def test_brevo_events_are_stored_and_applied(hooks, db, worker, event, why, kind, after):
    email = person()
    await subscribed(hooks, db, email)
    response = await hooks.post(
        "/webhooks/brevo", json=brevo_event(event, email, why), headers=brevo_auth()
    )
    assert response.status_code == 200 and response.json() == {"received": 1, "stored": 1}
    assert await kinds(db) == [kind]
    await eventually(lambda: _applied(db, 1), timeout=10)
    assert await status(db, email) == after


async def test_a_nul_in_an_event_is_stored_replaced_and_the_bounce_applied(hooks, db, worker):
    # JSON's \u0000 gives a NUL, which a PostgreSQL text column refuses (a 500, found by the
    # generated-input test); the provider's bounce must still count.
    email = person()
    await subscribed(hooks, db, email)
    event = {
        **brevo_event("hard_bounce", email, "550 5.1.1 unknown"),
        "message-id": "<m\x00@relay>",
    }
    response = await hooks.post("/webhooks/brevo", json=event, headers=brevo_auth())
    assert response.status_code == 200 and response.json() == {"received": 1, "stored": 1}
    [stored] = [r async for r in inspect().events(db)]
    assert "\x00" not in stored["event_id"] and "\ufffd" in stored["event_id"]
    await eventually(lambda: _applied(db, 1), timeout=10)
    assert await status(db, email) == "suppressed"


async def test_brevo_bearer_token_and_batches(hooks, db):
    batch = [brevo_event("spam", person()), brevo_event("opened", person())]
    response = await hooks.post("/webhooks/brevo", json=batch, headers=bearer())
    assert response.status_code == 200 and response.json() == {"received": 1, "stored": 1}


async def test_brevo_retry_of_an_event_is_not_stored_twice(hooks, db):
    event = brevo_event("hard_bounce", person(), "550 5.1.1 unknown")
    first = await hooks.post("/webhooks/brevo", json=event, headers=brevo_auth())
    again = await hooks.post("/webhooks/brevo", json=event, headers=brevo_auth())
    later = await hooks.post(
        "/webhooks/brevo",
        json={**event, "ts_epoch": event["ts_epoch"] + 60_000},
        headers=brevo_auth(),
    )
    assert [r.json()["stored"] for r in (first, again, later)] == [1, 0, 1]
    [event_id, _] = sorted([r["event_id"] async for r in inspect().events(db)])
    assert event_id.startswith("hard_bounce:<202611231159")


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, 401),
        ({"authorization": "Token abc"}, 401),
        ({"authorization": "Basic not base64!"}, 401),
        (bearer("wrong-secret-0123456789abcdef0123"), 403),
        (brevo_auth("wrong-secret-0123456789abcdef0123"), 403),
        (brevo_auth(user="someone"), 403),
    ],
)
async def test_brevo_unauthenticated_requests_are_refused(hooks, db, headers, expected):
    event = brevo_event("hard_bounce", person(), "550 5.1.1 unknown")
    response = await hooks.post("/webhooks/brevo", json=event, headers=headers)
    assert response.status_code == expected
    assert await events_stored(db) == 0


@pytest.mark.parametrize(
    ("networks", "expected"), [("1.179.112.0/20, 172.246.240.0/20", 403), ("203.0.113.0/24", 200)]
)
async def test_brevo_source_networks_when_configured(env, db, networks, expected):
    # The test client connects from 203.0.113.7.
    limited = {**p.configured(env), "SIGNUP_BREVO_WEBHOOK_NETWORKS": networks}
    event = brevo_event("spam", person())
    async with app_client(limited, clock=FixedClock(p.NOW)) as client:
        response = await client.post("/webhooks/brevo", json=event, headers=brevo_auth())
    assert response.status_code == expected
    assert await events_stored(db) == (1 if expected == 200 else 0)


async def test_brevo_without_a_configured_secret_is_refused(env, db):
    unconfigured = {k: v for k, v in p.configured(env).items() if "BREVO" not in k}
    async with app_client(unconfigured, clock=FixedClock(p.NOW)) as client:
        response = await client.post(
            "/webhooks/brevo", json=brevo_event("spam", person()), headers=brevo_auth()
        )
    assert response.status_code == 403
    assert await events_stored(db) == 0

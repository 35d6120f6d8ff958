"""Every bounce read right, through the real path: signed webhook → stored → the session worker
applies it. Per provider, the rules the parsers learnt: unspecific status codes read by their
words, bounces without a type are hard, the providers' own suppressions and every complaint
name suppress, Mailgun's legacy form webhooks are verified and applied, and an event naming
thousands of recipients is stored in batches, once, well within the provider's timeout."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
import uuid
from urllib.parse import parse_qsl, urlencode

import asyncpg
import pytest

from signup_core.clock import FixedClock
from tests import providers as p
from tests.conftest import Worker
from tests.integration.test_webhooks import (
    becomes,
    certificate,  # noqa: F401 - a fixture
    events_stored,
    hooks,  # noqa: F401 - a fixture
    person,
    post_sendgrid,
    postmark_bounce,
    subscribed,
)
from tests.integration.test_webhooks_resend_brevo import (
    bearer,
    brevo_event,
    post_resend,
    reason,
    resend_event,
)
from tests.support import (
    app_client,
    app_env,
    empty_tables,
    eventually,
    inspect,
    migrated_database,
)

UNAVAILABLE = "smtp; 550 5.0.0 Requested action not taken: mailbox unavailable"
FORM = {"content-type": "application/x-www-form-urlencoded"}


async def kinds(db) -> list[str]:
    return [r["kind"] async for r in inspect().events(db)]


async def suppressed_for(db, email: str, why: str) -> None:
    await becomes(db, email, "suppressed")
    assert await reason(db, email) == why


# --- SES


async def test_ses_unspecific_code_no_type_and_account_suppression(hooks, db, worker, certificate):  # noqa: F811
    unavailable, untyped, listed = person(), person(), person()
    for email in (unavailable, untyped, listed):
        await subscribed(hooks, db, email)
    first = p.ses_bounce([(unavailable, "5.0.0")], bounce_type="Undetermined")
    first["bounce"]["bouncedRecipients"][0]["diagnosticCode"] = UNAVAILABLE
    second = p.ses_bounce([(untyped, None)])
    del second["bounce"]["bounceType"], second["bounce"]["bounceSubType"]
    third = p.ses_bounce([(listed, None)])
    third["bounce"]["bounceSubType"] = "OnAccountSuppressionList"
    for i, notification in enumerate((first, second, third)):
        notification["bounce"]["feedbackId"] = f"feedback-{i}"
        assert (await hooks.post("/webhooks/ses", json=p.sns(notification))).status_code == 200
    await suppressed_for(db, unavailable, "hard_bounce")
    await suppressed_for(db, untyped, "hard_bounce")
    await suppressed_for(db, listed, "provider_suppressed")


# --- Postmark


async def test_postmark_untyped_bounce_and_inactive_recipient_suppress(hooks, db, worker):  # noqa: F811
    untyped, inactive = person(), person()
    for email in (untyped, inactive):
        await subscribed(hooks, db, email)
    record = postmark_bounce(untyped, details=UNAVAILABLE, record_id=11)
    del record["Type"]
    change = {
        "RecordType": "SubscriptionChange", "MessageID": "m-1", "Recipient": inactive,
        "ChangedAt": "2026-11-23T11:59:00Z", "SuppressSending": True,
        "SuppressionReason": "InactiveRecipient",
    }  # fmt: skip
    url = f"/webhooks/postmark?token={p.POSTMARK_SECRET}"
    for body in (record, change):
        assert (await hooks.post(url, json=body)).json()["stored"] == 1
    await suppressed_for(db, untyped, "hard_bounce")
    await suppressed_for(db, inactive, "provider_suppressed")


# --- SendGrid


async def test_sendgrid_dropped_for_a_suppressed_address_suppresses(hooks, db, worker):  # noqa: F811
    email = person()
    await subscribed(hooks, db, email)
    item = {"email": email, "event": "dropped", "reason": "Bounced Address", "sg_event_id": "d"}
    body = json.dumps([{**item, "timestamp": 1}]).encode()
    assert (await post_sendgrid(hooks, body)).json()["stored"] == 1
    await suppressed_for(db, email, "provider_suppressed")


# --- Mailgun, legacy form webhooks


def legacy(fields: dict[str, str], token: str | None = None, key: str = p.MAILGUN_KEY) -> str:
    stamp, token = str(int(p.NOW.timestamp())), token or uuid.uuid4().hex
    signature = hmac.new(key.encode(), (stamp + token).encode(), hashlib.sha256).hexdigest()
    return urlencode({**fields, "timestamp": stamp, "token": token, "signature": signature})


async def test_mailgun_legacy_form_webhooks_are_verified_and_applied(hooks, db, worker):  # noqa: F811
    bounced, complained = person(), person()
    for email in (bounced, complained):
        await subscribed(hooks, db, email)
    bounce = legacy({"event": "bounced", "recipient": bounced, "code": "550", "error": UNAVAILABLE})
    answer = await hooks.post("/webhooks/mailgun", content=bounce, headers=FORM)
    assert answer.status_code == 200 and answer.json()["stored"] == 1
    # Multipart, as Mailgun posts the events that carry the message
    boundary = uuid.uuid4().hex
    parts = [("event", "complained"), ("recipient", complained)]
    fields = dict(parse_qsl(legacy(dict(parts))))
    multipart = (
        "".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
            for k, v in fields.items()
        )
        + f"--{boundary}--\r\n"
    )
    headers = {"content-type": f"multipart/form-data; boundary={boundary}"}
    answer = await hooks.post("/webhooks/mailgun", content=multipart.encode(), headers=headers)
    assert answer.status_code == 200 and answer.json()["stored"] == 1
    await suppressed_for(db, bounced, "hard_bounce")
    await suppressed_for(db, complained, "complaint")


@pytest.mark.parametrize("forgery", ["wrong key", "reused token", "no signature", "stale"])
async def test_mailgun_legacy_forgeries_store_nothing(hooks, db, forgery):  # noqa: F811
    fields = {"event": "complained", "recipient": person()}
    if forgery == "wrong key":
        body = legacy(fields, key="not-the-key")
    elif forgery == "no signature":
        body = urlencode(fields)
    elif forgery == "stale":
        body = legacy(fields).replace(str(int(p.NOW.timestamp())), "1000000000")
    else:
        body = legacy(fields, token="once")
        first = await hooks.post("/webhooks/mailgun", content=body, headers=FORM)
        assert first.status_code == 200
        await empty_tables(db)
    answer = await hooks.post("/webhooks/mailgun", content=body, headers=FORM)
    assert answer.status_code in (401, 403), answer.text
    assert await events_stored(db) == 0


# --- Resend and Brevo


async def test_resend_untyped_and_suppressed_bounces_and_brevo_complaint(hooks, db, worker):  # noqa: F811
    untyped, listed, complained = person(), person(), person()
    for email in (untyped, listed, complained):
        await subscribed(hooks, db, email)
    no_type = {"bounce": {"message": "The email bounced.", "diagnosticCode": [UNAVAILABLE]}}
    assert (await post_resend(hooks, resend_event("email.bounced", untyped, **no_type))).is_success
    on_list = {"bounce": {"type": "Permanent", "subType": "Suppressed", "message": "Suppressed"}}
    assert (await post_resend(hooks, resend_event("email.bounced", listed, **on_list))).is_success
    event = brevo_event("complaint", complained)
    assert (await hooks.post("/webhooks/brevo", json=event, headers=bearer())).is_success
    await suppressed_for(db, untyped, "hard_bounce")
    await suppressed_for(db, listed, "provider_suppressed")
    await suppressed_for(db, complained, "complaint")


# --- One event, many recipients

MANY = 10_000
# SNS waits 15 s for an answer before it counts a delivery attempt as failed.
SNS_TIMEOUT = 15


async def test_a_bounce_naming_ten_thousand_recipients_is_stored_once_and_applied(
    pg_server,
    redis_server,
    smtp_server,
    scratch,
    certificate,  # noqa: F811
):
    # On a database and queue of its own: ten thousand events would keep the session worker busy
    url = await migrated_database(pg_server.url, "many")
    env = app_env(url, redis_server.url.rsplit("/", 1)[0] + "/6", smtp_server.port)
    recipients = [(f"many-{i}@example.com", "5.1.1") for i in range(MANY)]
    notification = p.ses_bounce(recipients, destination=["list@example.com"])
    for r in notification["bounce"]["bouncedRecipients"]:
        del r["diagnosticCode"], r["action"]  # kept small: 10,000 fit in the body limit
    body = p.sns(notification)

    async with app_client(p.configured(env), clock=FixedClock(p.NOW)) as client:
        started = time.monotonic()
        answer = await asyncio.wait_for(client.post("/webhooks/ses", json=body), SNS_TIMEOUT)
        took = time.monotonic() - started
        assert answer.status_code == 200 and answer.json() == {"received": MANY, "stored": MANY}
        # The provider's retry of the same notification stores nothing more
        again = await client.post("/webhooks/ses", json=body)
        assert again.json() == {"received": MANY, "stored": 0}
    print(f"\n{MANY} recipients stored in {took:.2f} s")
    worker = Worker(env, scratch / f"worker-many-{uuid.uuid4().hex[:6]}.log")
    conn = await asyncpg.connect(url)
    try:
        worker.wait_ready()

        async def all_suppressed() -> bool:
            return await conn.fetchval("SELECT count(*) FROM suppressions") == MANY

        await eventually(all_suppressed, timeout=300, interval=1)
        assert await conn.fetchval("SELECT count(*) FROM provider_events") == MANY
    finally:
        worker.stop()
        await conn.close()

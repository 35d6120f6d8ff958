"""Mail-provider webhooks: genuine requests are stored once and applied by the worker;
forged, unsigned, stale, replayed or foreign ones are refused and store nothing."""

from __future__ import annotations

import base64
import copy
import datetime
import json
import logging
import uuid

import pytest
import respx

from signup_core.clock import FixedClock
from tests import providers as p
from tests.integration.test_signup import index, rows
from tests.support import app_client, eventually, inspect

POSTMARK_SECRET = p.POSTMARK_SECRET


@pytest.fixture
async def hooks(env, db):
    async with app_client(p.configured(env), clock=FixedClock(p.NOW)) as client:
        yield client


@pytest.fixture
def certificate():
    with respx.mock(assert_all_called=False) as mock:
        route = mock.get(p.CERT_URL).respond(content=p.SNS_CERT)
        yield mock, route


def person() -> str:
    return f"reader-{uuid.uuid4().hex[:10]}@example.com"


async def subscribed(client, db, email: str) -> None:
    assert (await client.post("/signup", json={"email": email})).status_code == 202
    await inspect().set_status(db, email_index=index(email), status="confirmed")


async def status(db, email: str) -> str:
    return (await rows(db, email))[0]["status"]


async def events_stored(db) -> int:
    return (await inspect().count_events(db))["events"]


async def becomes(db, email: str, wanted: str) -> None:
    async def check():
        return await status(db, email) == wanted

    await eventually(check, timeout=10)


# --- Amazon SES through SNS


async def test_ses_hard_bounce_suppresses_only_the_bounced_recipients(
    hooks, db, worker, certificate, caplog
):
    caplog.set_level(logging.DEBUG)
    bounced, bystander = person(), person()
    for email in (bounced, bystander):
        await subscribed(hooks, db, email)
    notification = p.ses_bounce([(bounced, "5.1.1")], destination=[bounced, bystander])
    response = await hooks.post("/webhooks/ses", json=p.sns(notification))
    assert response.status_code == 200 and response.json() == {"received": 1, "stored": 1}
    await becomes(db, bounced, "suppressed")
    assert await status(db, bystander) == "confirmed"
    logged = "\n".join(str(r.__dict__) for r in caplog.records if r.name.startswith("signup"))
    assert bounced not in logged and bounced not in worker.log()


@pytest.mark.parametrize("version", ["1", "2"])
async def test_ses_configuration_set_event_and_both_signature_versions(
    hooks, db, worker, certificate, version
):
    email = person()
    await subscribed(hooks, db, email)
    body = p.sns(p.ses_bounce([(email, "5.1.1")], event=True), version=version)
    assert (await hooks.post("/webhooks/ses", json=body)).status_code == 200
    await becomes(db, email, "suppressed")


async def test_ses_transient_label_with_a_5xx_status_is_a_hard_bounce(
    hooks, db, worker, certificate
):
    email = person()
    await subscribed(hooks, db, email)
    body = p.sns(p.ses_bounce([(email, "5.2.1")], bounce_type="Transient"))
    await hooks.post("/webhooks/ses", json=body)
    await becomes(db, email, "suppressed")


async def test_ses_complaint_suppresses(hooks, db, worker, certificate):
    email = person()
    await subscribed(hooks, db, email)
    await hooks.post("/webhooks/ses", json=p.sns(p.ses_complaint(email)))
    await becomes(db, email, "suppressed")
    [row] = [r async for r in inspect().suppression(db, email_index=index(email))]
    assert row["suppression_reason"] == "complaint"


async def test_ses_message_with_escaped_slashes_and_a_trailing_newline(hooks, db, certificate):
    email = person()
    raw = json.dumps(p.ses_bounce([(email, "5.1.1")])).replace("/", "\\/") + "\n"
    response = await hooks.post("/webhooks/ses", json=p.sns(raw))
    assert response.json()["stored"] == 1


async def test_ses_subscription_confirmation_is_confirmed_by_fetching_the_url(
    hooks, db, certificate
):
    mock, _ = certificate
    url = "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&Token=abc"
    confirm = mock.get(url).respond(200)
    body = p.sns(
        "You have chosen to subscribe",
        kind="SubscriptionConfirmation",
        SubscribeURL=url,
        Token="abc",
    )
    response = await hooks.post("/webhooks/ses", json=body)
    assert response.status_code == 200 and confirm.called
    assert await events_stored(db) == 0


async def test_ses_certificate_is_fetched_once(hooks, db, certificate):
    _, route = certificate
    for n in range(3):
        body = p.sns(p.ses_bounce([(person(), "5.1.1")]), message_id=f"m-{n}")
        assert (await hooks.post("/webhooks/ses", json=body)).status_code == 200
    assert route.call_count == 1


def _tampered(body: dict) -> dict:
    changed = copy.deepcopy(body)
    changed["Message"] = changed["Message"].replace("5.1.1", "4.4.7")
    return changed


def _resigned_with_other_key(body: dict) -> dict:
    other, _ = p.self_signed()
    return p.sns(body["Message"], key=other)


def _foreign_cert(url: str):
    return lambda body: {**body, "SigningCertURL": url}


@pytest.mark.parametrize(
    ("forge", "status"),
    [
        (_tampered, 403),
        (_resigned_with_other_key, 403),
        (lambda b: {k: v for k, v in b.items() if k != "Signature"}, 401),
        (lambda b: {**b, "TopicArn": "arn:aws:sns:us-east-1:999999999999:other"}, 403),
        (_foreign_cert("https://evil.example/cert.pem"), 403),
        (_foreign_cert("http://sns.us-east-1.amazonaws.com/cert.pem"), 403),
        (_foreign_cert("https://sns.us-east-1.amazonaws.com.evil.example/c.pem"), 403),
        (_foreign_cert("https://user@sns.us-east-1.amazonaws.com/c.pem"), 403),
        (lambda b: {**b, "SignatureVersion": "3"}, 403),
    ],
    ids=[
        "tampered",
        "wrong-key",
        "unsigned",
        "unknown-topic",
        "foreign-host",
        "http",
        "lookalike-host",
        "userinfo",
        "unknown-version",
    ],
)
async def test_ses_forgeries_are_refused_and_store_nothing(hooks, db, certificate, forge, status):
    mock, _ = certificate
    body = forge(p.sns(p.ses_bounce([(person(), "5.1.1")])))
    response = await hooks.post("/webhooks/ses", json=body)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert await events_stored(db) == 0
    assert all(call.request.url == p.CERT_URL for call in mock.calls)  # nothing foreign fetched


async def test_ses_stale_message_is_refused(hooks, db, certificate):
    import datetime

    old = p.NOW - datetime.timedelta(hours=2)
    response = await hooks.post(
        "/webhooks/ses", json=p.sns(p.ses_bounce([(person(), "5.1.1")]), when=old)
    )
    assert response.status_code == 403
    assert await events_stored(db) == 0


async def test_ses_foreign_subscribe_url_is_not_fetched(hooks, db, certificate):
    mock, _ = certificate
    body = p.sns(
        "confirm",
        kind="SubscriptionConfirmation",
        SubscribeURL="https://evil.example/confirm",
        Token="abc",
    )
    response = await hooks.post("/webhooks/ses", json=body)
    assert response.status_code == 403
    assert [str(c.request.url) for c in mock.calls] == [p.CERT_URL]


async def test_ses_replay_stores_nothing_more(hooks, db, certificate):
    body = p.sns(p.ses_bounce([(person(), "5.1.1")]))
    first = await hooks.post("/webhooks/ses", json=body)
    again = await hooks.post("/webhooks/ses", json=body)
    assert first.json()["stored"] == 1 and again.json()["stored"] == 0
    assert await events_stored(db) == 1


# --- Postmark


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"authorization": f"Basic {token}"}


def postmark_bounce(
    email: str,
    kind: str = "HardBounce",
    record_id: int = 4323372036854775807,
    details: str = "smtp;550 5.1.1 The email account does not exist",
    bounced_at: datetime.datetime = p.NOW,
) -> dict:
    return {
        "RecordType": "Bounce",
        "ID": record_id,
        "Type": kind,
        "TypeCode": 1,
        "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
        "Email": email,
        "From": "news@example.org",
        "BouncedAt": bounced_at.isoformat().replace("+00:00", "Z"),
        "Details": details,
        "Inactive": True,
        "CanActivate": True,
        "Subject": "Welcome",
        "MessageStream": "outbound",
    }


async def test_postmark_hard_bounce_with_basic_auth(hooks, db, worker):
    email = person()
    await subscribed(hooks, db, email)
    response = await hooks.post(
        "/webhooks/postmark",
        json=postmark_bounce(email),
        headers=basic("postmark", POSTMARK_SECRET),
    )
    assert response.status_code == 200
    await becomes(db, email, "suppressed")


async def test_postmark_ids_beyond_2_to_the_53_are_kept_exact(hooks, db):
    big = 2**53 + 1
    raw = json.dumps(postmark_bounce(person(), record_id=big)).encode()
    await hooks.post(
        f"/webhooks/postmark?token={POSTMARK_SECRET}",
        content=raw,
        headers={"content-type": "application/json"},
    )
    [event] = [r async for r in inspect().events(db)]
    assert event["event_id"].startswith(f"{big}:")


async def _soft_bounce(hooks, email: str, record_id: int, at: datetime.datetime) -> None:
    soft = "smtp;452 4.2.2 mailbox full"
    response = await hooks.post(
        f"/webhooks/postmark?token={POSTMARK_SECRET}",
        json=postmark_bounce(email, "SoftBounce", record_id, soft, bounced_at=at),
    )
    assert response.status_code == 200


async def test_postmark_soft_bounces_suppress_at_the_threshold(hooks, db, worker):
    # Given soft bounces stamped long before any real date (the window reads their own times)
    email, days = person(), datetime.timedelta(days=1)
    start = p.NOW - 400 * days
    await subscribed(hooks, db, email)
    await _soft_bounce(hooks, email, 1, start)
    await eventually(lambda: _applied(db, 1))
    assert await status(db, email) == "confirmed"
    # When a second one (the test limit is 2) falls within the 7-day window of the first
    await _soft_bounce(hooks, email, 2, start + 6 * days)
    # Then the address is suppressed
    await becomes(db, email, "suppressed")


async def test_soft_bounces_further_apart_than_the_window_do_not_suppress(hooks, db, worker):
    email, days = person(), datetime.timedelta(days=1)
    await subscribed(hooks, db, email)
    await _soft_bounce(hooks, email, 1, p.NOW - 10 * days)
    await _soft_bounce(hooks, email, 2, p.NOW - 2 * days)
    await eventually(lambda: _applied(db, 2))
    assert await status(db, email) == "confirmed"


async def test_a_soft_bounce_delivered_late_counts_at_its_own_time(hooks, db, worker):
    # Given two soft bounces ten days apart, applied: no window holds two of them
    email, days = person(), datetime.timedelta(days=1)
    await subscribed(hooks, db, email)
    await _soft_bounce(hooks, email, 1, p.NOW - 30 * days)
    await _soft_bounce(hooks, email, 2, p.NOW - 20 * days)
    await eventually(lambda: _applied(db, 2))
    assert await status(db, email) == "confirmed"
    # When the provider delivers, late, one that happened a day after the first
    await _soft_bounce(hooks, email, 3, p.NOW - 29 * days)
    # Then it counts beside the first, and the address is suppressed
    await becomes(db, email, "suppressed")


async def test_postmark_complaint_and_subscription_change(hooks, db, worker):
    complainer, unsubscriber = person(), person()
    for email in (complainer, unsubscriber):
        await subscribed(hooks, db, email)
    url = f"/webhooks/postmark?token={POSTMARK_SECRET}"
    await hooks.post(
        url,
        json={
            **postmark_bounce(complainer),
            "RecordType": "SpamComplaint",
            "Type": "SpamComplaint",
        },
    )
    await hooks.post(
        url,
        json={
            "RecordType": "SubscriptionChange",
            "MessageID": "a1",
            "Recipient": unsubscriber,
            "ChangedAt": "2026-11-23T11:59:00Z",
            "SuppressSending": True,
            "SuppressionReason": "ManualSuppression",
        },
    )
    await becomes(db, complainer, "suppressed")
    await becomes(db, unsubscriber, "unsubscribed")


async def test_postmark_unknown_record_type_is_acknowledged(hooks, db):
    url = f"/webhooks/postmark?token={POSTMARK_SECRET}"
    response = await hooks.post(url, json={"RecordType": "Open", "Recipient": person()})
    assert response.status_code == 200 and response.json()["received"] == 0


@pytest.mark.parametrize(
    ("path", "headers", "status"),
    [
        ("/webhooks/postmark", {}, 401),
        ("/webhooks/postmark?token=wrong", {}, 401),
        ("/webhooks/postmark", basic("postmark", "wrong"), 403),
        ("/webhooks/postmark", basic("someone", POSTMARK_SECRET), 403),
    ],
)
async def test_postmark_without_the_secret_is_refused(hooks, db, path, headers, status):
    response = await hooks.post(path, json=postmark_bounce(person()), headers=headers)
    assert response.status_code == status
    assert await events_stored(db) == 0


# --- SendGrid


def sendgrid_batch(email: str) -> list[dict]:
    base = {"email": email, "timestamp": int(p.NOW.timestamp()), "smtp-id": "<x@sg>"}
    return [
        {**base, "event": "processed", "sg_event_id": "e0"},
        {
            **base,
            "event": "bounce",
            "type": "bounce",
            "status": "5.1.1",
            "sg_event_id": "e1",
            "reason": "550 5.1.1 unknown user",
        },
        {**base, "event": "open", "sg_event_id": "e2"},
        {**base, "event": "something_new", "sg_event_id": "e3"},
    ]


async def post_sendgrid(client, body: bytes, **kw):
    headers = p.sendgrid_headers(body, **kw)
    return await client.post("/webhooks/sendgrid", content=body, headers=headers)


async def test_sendgrid_signed_batch_is_applied(hooks, db, worker):
    email, complainer, leaver = person(), person(), person()
    for e in (email, complainer, leaver):
        await subscribed(hooks, db, e)
    batch = [
        *sendgrid_batch(email),
        {"email": complainer, "event": "spamreport", "sg_event_id": "e4", "timestamp": 1},
        {"email": leaver, "event": "unsubscribe", "sg_event_id": "e5", "timestamp": 1},
    ]
    response = await post_sendgrid(hooks, json.dumps(batch).encode())
    assert response.status_code == 200 and response.json()["stored"] == 3
    await becomes(db, email, "suppressed")
    await becomes(db, complainer, "suppressed")
    await becomes(db, leaver, "unsubscribed")


async def test_sendgrid_blocked_without_a_status_is_stored_as_blocked(hooks, db):
    body = json.dumps(
        [
            {
                "email": person(),
                "event": "bounce",
                "type": "blocked",
                "sg_event_id": "b1",
                "timestamp": 1,
                "reason": "blocked",
            }
        ]
    ).encode()
    await post_sendgrid(hooks, body)
    [event] = [r async for r in inspect().events(db)]
    assert event["kind"] == "blocked"


async def test_sendgrid_signature_covers_the_raw_bytes(hooks, db):
    raw = json.dumps(sendgrid_batch(person()), indent=2).encode()
    headers = p.sendgrid_headers(json.dumps(json.loads(raw)).encode())  # same JSON, other bytes
    response = await hooks.post("/webhooks/sendgrid", content=raw, headers=headers)
    assert response.status_code == 403
    assert (await post_sendgrid(hooks, raw)).status_code == 200


@pytest.mark.parametrize("forgery", ["tampered", "other-key", "stale", "unsigned"])
async def test_sendgrid_forgeries_are_refused(hooks, db, forgery):
    import datetime

    from cryptography.hazmat.primitives.asymmetric import ec

    body = json.dumps(sendgrid_batch(person())).encode()
    headers = p.sendgrid_headers(body)
    if forgery == "tampered":
        body = body.replace(b"5.1.1", b"4.4.7")
    elif forgery == "other-key":
        headers = p.sendgrid_headers(body, key=ec.generate_private_key(ec.SECP256R1()))
    elif forgery == "stale":
        headers = p.sendgrid_headers(body, when=p.NOW - datetime.timedelta(minutes=10))
    else:
        headers = {"content-type": "application/json"}
    response = await hooks.post("/webhooks/sendgrid", content=body, headers=headers)
    assert response.status_code == (401 if forgery == "unsigned" else 403)
    assert await events_stored(db) == 0


async def test_sendgrid_replay_stores_nothing_more(hooks, db):
    body = json.dumps(sendgrid_batch(person())).encode()
    assert (await post_sendgrid(hooks, body)).json()["stored"] == 1
    assert (await post_sendgrid(hooks, body)).json()["stored"] == 0


# --- Mailgun


def mailgun_failed(
    email: str,
    severity: str = "permanent",
    message: str = "5.1.1 no such user",
    event_id: str = "mg-1",
) -> dict:
    return {
        "event": "failed",
        "severity": severity,
        "recipient": email,
        "id": event_id,
        "timestamp": p.NOW.timestamp(),
        "reason": "bounce",
        "delivery-status": {"code": 550, "message": message, "description": ""},
    }


async def test_mailgun_permanent_failure_suppresses(hooks, db, worker):
    email = person()
    await subscribed(hooks, db, email)
    body = p.mailgun(mailgun_failed(email), token=uuid.uuid4().hex)
    assert (await hooks.post("/webhooks/mailgun", json=body)).status_code == 200
    await becomes(db, email, "suppressed")


async def test_mailgun_temporary_label_with_a_5xx_status_is_hard(hooks, db):
    body = p.mailgun(mailgun_failed(person(), severity="temporary"), token=uuid.uuid4().hex)
    await hooks.post("/webhooks/mailgun", json=body)
    [event] = [r async for r in inspect().events(db)]
    assert event["kind"] == "hard_bounce"


async def test_mailgun_complaint(hooks, db, worker):
    email = person()
    await subscribed(hooks, db, email)
    data = {"event": "complained", "recipient": email, "id": "mg-c", "timestamp": 1.0}
    await hooks.post("/webhooks/mailgun", json=p.mailgun(data, token=uuid.uuid4().hex))
    await becomes(db, email, "suppressed")


@pytest.mark.parametrize("forgery", ["tampered", "wrong-key", "stale", "unsigned"])
async def test_mailgun_forgeries_are_refused(hooks, db, forgery):
    import datetime

    token = uuid.uuid4().hex
    body = p.mailgun(mailgun_failed(person()), token=token)
    if forgery == "tampered":
        body["signature"]["token"] = uuid.uuid4().hex
    elif forgery == "wrong-key":
        body = p.mailgun(mailgun_failed(person()), token=token, key="another-key-0123456789")
    elif forgery == "stale":
        body = p.mailgun(
            mailgun_failed(person()), token=token, when=p.NOW - datetime.timedelta(minutes=10)
        )
    else:
        del body["signature"]
    response = await hooks.post("/webhooks/mailgun", json=body)
    assert response.status_code == (401 if forgery == "unsigned" else 403)
    assert await events_stored(db) == 0


async def test_mailgun_reused_token_is_refused(hooks, db):
    body = p.mailgun(mailgun_failed(person()), token=uuid.uuid4().hex)
    assert (await hooks.post("/webhooks/mailgun", json=body)).status_code == 200
    assert (await hooks.post("/webhooks/mailgun", json=body)).status_code == 403
    assert await events_stored(db) == 1


# --- common


async def test_unknown_provider_is_404(hooks):
    assert (await hooks.post("/webhooks/nobody", json={})).status_code == 404


@pytest.mark.parametrize("provider", ["ses", "postmark", "sendgrid", "mailgun"])
async def test_malformed_bodies_are_4xx_never_500(hooks, db, provider, certificate):
    for raw in (b"", b"not json", b"[]", b"{}", b"\xff"):
        url = f"/webhooks/{provider}?token={POSTMARK_SECRET}"
        response = await hooks.post(url, content=raw, headers={"content-type": "application/json"})
        assert 400 <= response.status_code < 500 or response.json() == {"received": 0, "stored": 0}
    assert await events_stored(db) == 0


async def _applied(db, count: int) -> bool:
    return len([r async for r in inspect().events(db) if r["applied_at"] is not None]) >= count


# --- classified by meaning: only the recipient's own failures count against them


async def test_sendgrid_blocked_by_policy_is_stored_and_never_suppresses(hooks, db, worker):
    email = person()
    await subscribed(hooks, db, email)
    item = {
        "email": email,
        "event": "bounce",
        "type": "blocked",
        "status": "5.7.1",
        "reason": "550 5.7.1 Service unavailable; client host blocked using a blocklist",
        "sg_event_id": "blk-1",
        "timestamp": 1,
    }
    response = await post_sendgrid(hooks, json.dumps([item]).encode())
    assert response.json()["stored"] == 1
    await eventually(lambda: _applied(db, 1))
    [event] = [r async for r in inspect().events(db)]
    assert event["kind"] == "blocked"
    assert await status(db, email) == "confirmed"


@pytest.mark.parametrize(
    ("reason", "kind"),
    [
        ("Invalid SMTPAPI header", "other"),
        ("Spam Content", "other"),
        ("Recipient List over Package Quota", "other"),
        ("A reason SendGrid adds next year", "other"),
        ("Bounced Address", "suppressed"),  # on SendGrid's own suppression list
        ("Invalid", "hard_bounce"),
        ("Spam Reporting Address", "complaint"),
        ("Unsubscribed Address", "suppressed"),
    ],
)
async def test_sendgrid_dropped_reasons_are_matched_whole(hooks, db, reason, kind):
    item = {"email": person(), "event": "dropped", "reason": reason, "sg_event_id": "d1"}
    assert (await post_sendgrid(hooks, json.dumps([{**item, "timestamp": 1}]).encode())).json()[
        "stored"
    ] == 1
    [event] = [r async for r in inspect().events(db)]
    assert event["kind"] == kind


async def test_policy_statuses_are_blocked_for_every_provider(hooks, db, certificate):
    """5.7.x is the receiving side refusing the sender, whatever the provider's label says."""
    ses = p.sns(p.ses_bounce([(person(), "5.7.1")], bounce_type="Permanent"))
    assert (await hooks.post("/webhooks/ses", json=ses)).json()["stored"] == 1
    postmark = postmark_bounce(person(), "HardBounce", 7, "smtp;550 5.7.1 rejected by policy")
    url = f"/webhooks/postmark?token={POSTMARK_SECRET}"
    assert (await hooks.post(url, json=postmark)).json()["stored"] == 1
    mailgun = mailgun_failed(person(), message="5.7.1 sender blocked", event_id="mg-b")
    body = p.mailgun(mailgun, token=uuid.uuid4().hex)
    assert (await hooks.post("/webhooks/mailgun", json=body)).json()["stored"] == 1
    kinds = {r["provider"]: r["kind"] async for r in inspect().events(db)}
    assert kinds == {"ses": "blocked", "postmark": "blocked", "mailgun": "blocked"}


@pytest.mark.parametrize(
    ("label", "kind"),
    [("Blocked", "blocked"), ("DMARCPolicy", "blocked"), ("SMTPApiError", "other")],
)
async def test_postmark_types_that_are_not_the_recipients_fault(hooks, db, label, kind):
    url = f"/webhooks/postmark?token={POSTMARK_SECRET}"
    await hooks.post(url, json=postmark_bounce(person(), label, 8, "rejected"))
    [event] = [r async for r in inspect().events(db)]
    assert event["kind"] == kind


# --- nothing verified is lost


async def test_mailgun_retry_after_a_database_outage_is_stored(env, db):
    from devstack.processes import free_port

    body = p.mailgun(mailgun_failed(person()), token=uuid.uuid4().hex)
    down = {**p.configured(env), "DATABASE_URL": f"postgresql://x@127.0.0.1:{free_port()}/x"}
    async with app_client(down, clock=FixedClock(p.NOW)) as client:
        assert (await client.post("/webhooks/mailgun", json=body)).status_code == 503
    async with app_client(p.configured(env), clock=FixedClock(p.NOW)) as client:
        retry = await client.post("/webhooks/mailgun", json=body)
        assert retry.status_code == 200 and retry.json()["stored"] == 1
        # Stored once, the token is spent: a replay is refused again.
        assert (await client.post("/webhooks/mailgun", json=body)).status_code == 403


def _without_id(provider: str, email: str) -> tuple[str, object, dict]:
    """A genuine event of `provider` that carries no event id, and a fresh signature."""
    if provider == "mailgun":
        data = {k: v for k, v in mailgun_failed(email).items() if k != "id"}
        return "/webhooks/mailgun", p.mailgun(data, token=uuid.uuid4().hex), {}
    if provider == "sendgrid":
        item = {k: v for k, v in sendgrid_batch(email)[1].items() if k != "sg_event_id"}
        body = json.dumps([item]).encode()
        return "/webhooks/sendgrid", body, p.sendgrid_headers(body)
    if provider == "postmark":
        record = {k: v for k, v in postmark_bounce(email).items() if k != "ID"}
        return f"/webhooks/postmark?token={POSTMARK_SECRET}", record, {}
    notification = p.ses_bounce([(email, "5.1.1")])
    del notification["bounce"]["feedbackId"]
    return "/webhooks/ses", p.sns(notification, message_id=""), {}


@pytest.mark.parametrize("provider", ["mailgun", "sendgrid", "postmark", "ses"])
async def test_an_event_without_an_id_is_stored_once_and_counted(hooks, db, certificate, provider):
    from prometheus_client import REGISTRY

    def without_id() -> float:
        labels = {"provider": provider}
        return REGISTRY.get_sample_value("signup_webhook_events_without_id_total", labels) or 0

    email, before = person(), without_id()
    stored = []
    for _ in range(2):  # the provider's retry: the same event, signed again
        path, body, headers = _without_id(provider, email)
        kw = {"content": body} if isinstance(body, bytes) else {"json": body}
        response = await hooks.post(path, headers=headers, **kw)
        assert response.status_code == 200
        stored.append(response.json()["stored"])
    assert stored == [1, 0]
    [event] = [r async for r in inspect().events(db)]
    assert event["event_id"].startswith("derived:")
    assert without_id() == before + 2

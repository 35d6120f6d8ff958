"""Hostile input answers 4xx (a problem for APIs, a page for browsers), never a 500: the
inputs a sweep of every route found. Generated ones: test_generated_input.py."""

from __future__ import annotations

import json
import logging
import uuid

import pytest
from itsdangerous import URLSafeSerializer

from tests import providers as p
from tests.support import SIGNING_KEY

DEEP = b"[" * 1500 + b"]" * 1500  # 3 KB, 1,500 levels
PROBLEM = "application/problem+json"
JSON = {"content-type": "application/json"}
STAMP = "X-Twilio-Email-Event-Webhook-Timestamp"
SURROGATE = '"\\ud800"'  # a JSON escape for a lone surrogate: valid JSON, no valid text


def raw_json(template: dict, **raw_fields: str) -> bytes:
    """`template` as JSON with some values spliced in as raw JSON text (escapes kept)."""
    body = json.dumps({**template, **{k: f"@{k}@" for k in raw_fields}})
    for key, raw in raw_fields.items():
        body = body.replace(f'"@{key}@"', raw)
    return body.encode()


def cert_url(url: str) -> dict:
    return {**p.sns(p.ses_bounce([("a@example.com", "5.1.1")])), "SigningCertURL": url}


def mailgun_signature(**fields: str) -> dict:
    body = p.mailgun({"event": "delivered", "recipient": "a@example.com"}, token="t" * 50)
    body["signature"].update(fields)
    return body


def signed_link(value: object) -> bytes:
    """A one-click unsubscribe form post whose link is signed with the real key."""
    token = URLSafeSerializer(SIGNING_KEY, salt="signet-signup.unsubscribe").dumps(value)
    return f"token={token}".encode()


FORM = {"content-type": "application/x-www-form-urlencoded"}

UNSIGNED = [
    ("/signup", DEEP, JSON),
    ("/confirm", DEEP, JSON),
    ("/unsubscribe", DEEP, JSON),
    ("/webhooks/ses", DEEP, JSON),
    ("/webhooks/mailgun", DEEP, JSON),
    ("/signup", raw_json({"email": "a@example.com"}, name=SURROGATE), JSON),
    ("/unsubscribe", raw_json({}, token=SURROGATE), JSON),
    ("/webhooks/ses", json.dumps(cert_url("https://sns.us-east-1.amazonaws.com:abc/c.pem")), JSON),
    ("/webhooks/ses", json.dumps(cert_url("https://sns.us-east-1.amazonaws.com:99999/c")), JSON),
    ("/webhooks/ses", json.dumps(cert_url("https://[sns.us-east-1.amazonaws.com/c.pem")), JSON),
    ("/webhooks/ses", json.dumps({**p.sns("m"), "Type": ["Notification"]}), JSON),
    ("/webhooks/ses", json.dumps({**p.sns("m"), "Type": {"a": 1}}), JSON),
    ("/webhooks/mailgun", json.dumps(mailgun_signature(signature="é" * 64)), JSON),
    (
        "/webhooks/mailgun",
        b'{"signature": {"timestamp": "\\ud800", "token": "t", "signature": "s"}}',
        JSON,
    ),
    (
        "/webhooks/mailgun",
        b'{"signature": {"timestamp": "1", "token": "\\udfff", "signature": "s"}}',
        JSON,
    ),
    ("/webhooks/postmark", b"{}", {**JSON, "authorization": b"Basic \xe9\xe9\xe9\xe9"}),
    ("/webhooks/sendgrid", b"[]", p.sendgrid_headers(b"[]") | {STAMP: b"\xb2"}),
    ("/webhooks/sendgrid", b"[]", p.sendgrid_headers(b"[]") | {STAMP: "9" * 20}),
    ("/webhooks/sendgrid", b"[]", p.sendgrid_headers(b"[]") | {STAMP: "9" * 5000}),
    ("/webhooks/resend", DEEP, p.svix_headers(DEEP, "msg_deep")),
    ("/webhooks/resend", b"{}", p.svix_headers(b"{}", "m") | {"svix-timestamp": b"\xb2"}),
    ("/webhooks/resend", b"{}", p.svix_headers(b"{}", "m") | {"svix-timestamp": "9" * 5000}),
    ("/webhooks/resend", b"{}", p.svix_headers(b"{}", "m") | {"svix-signature": b"v1,\xe9"}),
    ("/webhooks/resend", b"{}", p.svix_headers(b"{}", "m") | {"svix-signature": "v1"}),
    ("/webhooks/resend", b"{}", p.svix_headers(b"{}", "m") | {"svix-id": b"\xe9\xff"}),
    ("/webhooks/brevo", b"{}", {**JSON, "authorization": b"Basic \xe9\xe9\xe9\xe9"}),
    ("/webhooks/brevo", b"{}", {**JSON, "authorization": b"Bearer \xe9\xe9"}),
    ("/webhooks/brevo", b"{}", {**JSON, "authorization": "Bearer"}),
    ("/webhooks/brevo", DEEP, {**JSON, "authorization": f"Bearer {p.BREVO_SECRET}"}),
    ("/webhooks/mailgun", b"event=\xff&timestamp=1", FORM),  # Mailgun's legacy form webhooks
    ("/webhooks/mailgun", b"timestamp=%ff&token=t&signature=s", FORM),
    ("/webhooks/mailgun", b"&".join(b"f%d=1" % i for i in range(300)), FORM),
    ("/webhooks/mailgun", b"timestamp=1&token=t", FORM),
    ("/webhooks/mailgun", b"no parts", {"content-type": "multipart/form-data; boundary=b"}),
    ("/webhooks/mailgun", b"x", {"content-type": b"multipart/form-data; boundary=\xe9"}),
    ("/unsubscribe", signed_link(2**64), FORM),  # no bigint row number
    ("/unsubscribe", signed_link(-(2**70)), FORM),
    ("/unsubscribe", signed_link([1]), FORM),
]


@pytest.mark.parametrize(("path", "body", "headers"), UNSIGNED)
async def test_malformed_unauthenticated_input_is_a_4xx(armed, caplog, path, body, headers):
    response = await armed.post(path, content=body, headers=headers)
    assert 400 <= response.status_code < 500, response.text
    browser = path in ("/confirm", "/unsubscribe")
    expected = "text/html" if browser else PROBLEM
    assert response.headers["content-type"].startswith(expected)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def _ses(message: dict) -> tuple[str, bytes, dict]:
    return "/webhooks/ses", json.dumps(p.sns(message)).encode(), JSON


def _postmark(record: dict) -> tuple[str, bytes, dict]:
    url = f"/webhooks/postmark?token={p.POSTMARK_SECRET}"
    return url, json.dumps(record).encode(), JSON


def _sendgrid(item: dict) -> tuple[str, bytes, dict]:
    body = json.dumps([{"email": "a@example.com", "sg_event_id": "e", **item}]).encode()
    return "/webhooks/sendgrid", body, p.sendgrid_headers(body)


def _mailgun(data: dict) -> tuple[str, bytes, dict]:
    event = {"recipient": "a@example.com", "id": "mg", **data}
    return "/webhooks/mailgun", json.dumps(p.mailgun(event, token=uuid.uuid4().hex)).encode(), JSON


def _resend(event: dict) -> tuple[str, bytes, dict]:
    body = json.dumps(event).encode()
    return "/webhooks/resend", body, p.svix_headers(body, f"msg_{uuid.uuid4().hex}")


def _brevo(event: dict | list) -> tuple[str, bytes, dict]:
    return "/webhooks/brevo", json.dumps(event).encode(), {**JSON, "authorization": BREVO}


BREVO = f"Bearer {p.BREVO_SECRET}"
BOUNCE = {"bounceType": "Permanent", "bouncedRecipients": [{"emailAddress": "a@example.com"}]}
RECIPIENT = "a@example.com"

SIGNED = [
    _ses({"notificationType": "Bounce", "bounce": []}),
    _ses({"notificationType": "Bounce", "bounce": {**BOUNCE, "bouncedRecipients": ["x"]}}),
    _ses({"notificationType": "Bounce", "bounce": {"bouncedRecipients": [{"emailAddress": [1]}]}}),
    _ses({"notificationType": "Bounce", "bounce": {"bouncedRecipients": [{"status": 5}]}}),
    _ses({"notificationType": "Bounce", "bounce": {"bouncedRecipients": {"a": 1}}}),
    _ses({"notificationType": "Complaint", "complaint": {"complainedRecipients": {"a": 1}}}),
    _ses({"notificationType": "Delivery", "delivery": "x"}),
    _postmark({"RecordType": "Bounce", "ID": 1, "Email": RECIPIENT, "Type": ["HardBounce"]}),
    _postmark({"RecordType": "Bounce", "ID": 1, "Email": RECIPIENT, "Type": "X", "Details": 5}),
    _postmark(
        {"RecordType": "SubscriptionChange", "SuppressSending": True, "SuppressionReason": [1]}
    ),
    _sendgrid({"event": ["bounce"]}),
    _sendgrid({"event": "bounce", "status": 5}),
    _sendgrid({"event": "delivered", "status": {"a": 1}}),
    _mailgun({"event": "failed", "delivery-status": []}),
    _mailgun({"event": "failed", "delivery-status": {"message": 550}}),
    _mailgun({"event": "delivered", "severity": ["x"]}),
    _mailgun({"event": {"a": 1}}),
    _resend({"type": ["email.bounced"], "data": {"to": [RECIPIENT]}}),
    _resend({"type": "email.complained", "data": []}),
    _resend({"type": "email.complained", "data": {"to": [1]}}),
    _resend({"type": "email.complained", "data": {"to": {"a": RECIPIENT}}}),
    _resend({"type": "email.bounced", "data": {"to": [RECIPIENT], "bounce": "hard"}}),
    _resend({"type": "email.bounced", "data": {"bounce": {"diagnosticCode": [550]}}}),
    _resend({"type": "email.bounced", "data": {"bounce": {"type": ["Permanent"]}}}),
    _resend({"type": "email.delivered", "created_at": ["x"], "data": {"to": [RECIPIENT]}}),
    _brevo({"event": ["spam"], "email": RECIPIENT}),
    _brevo({"event": "spam", "email": [RECIPIENT]}),
    _brevo({"event": "hard_bounce", "email": RECIPIENT, "reason": 550}),
    _brevo({"event": "spam", "email": RECIPIENT, "message-id": 5}),
    _brevo([{"event": "spam", "email": RECIPIENT}, "spam"]),
    _brevo("spam"),
]


@pytest.mark.parametrize(("path", "body", "headers"), SIGNED)
async def test_authenticated_bodies_with_fields_of_other_types_are_malformed(
    armed, db, caplog, path, body, headers
):
    response = await armed.post(path, content=body, headers=headers)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["type"].endswith(":malformed")
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]

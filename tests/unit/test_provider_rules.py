"""Each provider's events read right: complaint names, bounces without a type, the providers'
own suppressions, unspecific status codes, and Mailgun's legacy form fields. Parsers only:
the signed, stored and applied path is tests/integration/test_bounce_rules.py."""

from __future__ import annotations

import datetime
from types import SimpleNamespace

import pytest

from signup_core.providers import (
    Event,
    Inbound,
    Malformed,
    brevo,
    legacy_form,
    mailgun,
    postmark,
    resend,
    sendgrid,
    ses,
)

NOW = datetime.datetime(2026, 11, 23, 12, 0, tzinfo=datetime.UTC)
CTX = SimpleNamespace(now=NOW)  # the parsers read only the time from their context
UNAVAILABLE = "smtp; 550 5.0.0 Requested action not taken: mailbox unavailable"
A = "a@example.com"


def kinds(found) -> list[str]:
    return [e.kind for e in found]


def _ses(bounce: dict) -> list[str]:
    body = {"notificationType": "Bounce", "bounce": {"feedbackId": "f", **bounce}}
    return kinds(ses.events(body, {"MessageId": "m"}, CTX))


@pytest.mark.parametrize(
    ("bounce", "kind"),
    [
        ({"bounceType": "Permanent", "bounceSubType": "OnAccountSuppressionList"}, "suppressed"),
        ({"bounceType": "Permanent", "bounceSubType": "Suppressed"}, "suppressed"),
        ({}, "hard_bounce"),  # no type: hard
        ({"bounceType": "Undetermined"}, "hard_bounce"),
        ({"bounceType": "Transient", "bounceSubType": "General"}, "soft_bounce"),
    ],
)
def test_ses_bounce_types(bounce, kind):
    assert _ses({**bounce, "bouncedRecipients": [{"emailAddress": A}]}) == [kind]


def test_ses_unspecific_status_with_a_mailbox_unavailable_diagnosis_is_hard():
    recipient = {"emailAddress": A, "status": "5.0.0", "diagnosticCode": UNAVAILABLE}
    bounce = {"bounceType": "Undetermined", "bouncedRecipients": [recipient]}
    assert _ses(bounce) == ["hard_bounce"]
    recipient["diagnosticCode"] = "smtp; 550 5.5.0 mailbox unavailable"
    assert _ses({"bounceType": "Transient", "bouncedRecipients": [recipient]}) == ["hard_bounce"]


def test_ses_complaints_in_both_forms():
    for field in ("notificationType", "eventType"):
        body = {field: "Complaint", "complaint": {"complainedRecipients": [{"emailAddress": A}]}}
        assert kinds(ses.events(body, {"MessageId": "m"}, CTX)) == ["complaint"]


def _postmark(**record) -> list[str]:
    return kinds(postmark.events({"ID": 1, "Email": A, "Recipient": A, **record}, CTX))


def test_postmark_rules():
    assert _postmark(RecordType="Bounce", Details=UNAVAILABLE) == ["hard_bounce"]  # no Type
    assert _postmark(RecordType="Bounce", Type="Unknown", Details=UNAVAILABLE) == ["hard_bounce"]
    for name in ("SpamComplaint", "SpamNotification"):
        assert _postmark(RecordType="Bounce", Type=name) == ["complaint"]
    assert _postmark(RecordType="SpamComplaint", Type="SpamComplaint") == ["complaint"]
    change = {"RecordType": "SubscriptionChange", "SuppressSending": True, "MessageID": "m"}
    assert _postmark(**change, SuppressionReason="SpamComplaint") == ["complaint"]
    assert _postmark(**change, SuppressionReason="SomethingNew") == ["suppressed"]
    assert _postmark(**change) == ["suppressed"]


def _sendgrid(**item) -> list[str]:
    return kinds(sendgrid._event({"email": A, "sg_event_id": "s", **item}, CTX))


def test_sendgrid_rules():
    assert _sendgrid(event="spamreport") == ["complaint"]
    assert _sendgrid(event="dropped", reason="Spam Reporting Address") == ["complaint"]
    assert _sendgrid(event="dropped", reason="Bounced Address") == ["suppressed"]
    assert _sendgrid(event="dropped", reason="Unsubscribed Address") == ["suppressed"]
    assert _sendgrid(event="bounce", reason=UNAVAILABLE) == ["hard_bounce"]  # no type
    assert _sendgrid(event="bounce", type="bounce", status="5.0.0", reason=UNAVAILABLE) == [
        "hard_bounce"
    ]


def _mailgun(**data) -> list[str]:
    return kinds(mailgun._event({"recipient": A, "id": "g", **data}, CTX))


def test_mailgun_rules():
    assert _mailgun(event="complained") == ["complaint"]
    failed = {"event": "failed", "delivery-status": {"message": UNAVAILABLE}}
    assert _mailgun(**failed) == ["hard_bounce"]  # no severity: permanent
    assert _mailgun(**failed, severity="temporary") == ["hard_bounce"]  # the 550 says so
    assert _mailgun(event="failed", severity="temporary") == ["soft_bounce"]
    assert _mailgun(event="failed", severity="permanent", reason="suppress-bounce") == [
        "suppressed"
    ]
    assert _mailgun(event="failed", reason="suppress-complaint") == ["complaint"]


@pytest.mark.parametrize(
    ("fields", "kind"),
    [
        ({"event": "bounced", "code": "550", "error": "5.1.1 no such user"}, "hard_bounce"),
        ({"event": "bounced", "code": "550", "error": "mailbox unavailable"}, "hard_bounce"),
        ({"event": "bounced"}, "hard_bounce"),
        ({"event": "dropped", "reason": "hardfail"}, "suppressed"),
        ({"event": "dropped", "reason": "maxfails"}, "soft_bounce"),
        ({"event": "dropped", "reason": "old"}, "other"),
        ({"event": "complained"}, "complaint"),
        ({"event": "unsubscribed"}, "unsubscribe"),
        ({"event": "delivered"}, "delivered"),
    ],
)
def test_mailgun_legacy_events(fields, kind):
    found = mailgun._legacy_event({"recipient": A, "timestamp": "1795000000", **fields}, CTX)
    assert kinds(found) == [kind]
    assert found[0].derived_id  # no id in the legacy form: one made from the fields


def _resend(bounce: dict) -> list[str]:
    body = {"type": "email.bounced", "data": {"to": [A], "bounce": bounce}}
    return kinds(resend.events("msg", body, CTX))


def test_resend_rules():
    assert _resend({}) == ["hard_bounce"]
    assert _resend({"type": "Undetermined", "message": UNAVAILABLE}) == ["hard_bounce"]
    assert _resend({"type": "Transient"}) == ["soft_bounce"]
    assert _resend({"type": "Permanent", "subType": "Suppressed"}) == ["suppressed"]
    assert _resend({"type": "Permanent", "subType": "OnAccountSuppressionList"}) == ["suppressed"]
    complained = {"type": "email.complained", "data": {"to": A}}
    assert kinds(resend.events("m", complained, CTX)) == ["complaint"]


@pytest.mark.parametrize(
    ("event", "kind"),
    [("spam", "complaint"), ("complaint", "complaint"), ("blocked", "suppressed")],
)
def test_brevo_rules(event, kind):
    assert kinds(brevo._event({"event": event, "email": A}, CTX)) == [kind]


def _form(body: bytes, content_type: str) -> dict | None:
    return legacy_form.fields(Inbound(body, {"content-type": content_type}, {}))


def test_legacy_form_fields():
    urlencoded = b"event=bounced&recipient=a%40example.com&token=t&token=again&empty="
    assert _form(urlencoded, "application/x-www-form-urlencoded") == {
        "event": "bounced", "recipient": "a@example.com", "token": "t", "empty": "",
    }  # fmt: skip
    multipart = (
        b'--b\r\nContent-Disposition: form-data; name="event"\r\n\r\ncomplained\r\n'
        b'--b\r\nContent-Disposition: form-data; name="attachment-1"; filename="m.eml"\r\n'
        b"\r\nanything\r\n--b--\r\n"
    )
    assert _form(multipart, "multipart/form-data; boundary=b") == {"event": "complained"}
    assert _form(b"{}", "application/json") is None


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"event=\xff", "application/x-www-form-urlencoded"),
        (b"event=%ff", "application/x-www-form-urlencoded"),
        (b"&".join(b"f%d=1" % i for i in range(500)), "application/x-www-form-urlencoded"),
        (b"not multipart", "multipart/form-data; boundary=b"),
    ],
)
def test_legacy_form_refuses_what_is_no_form(body, content_type):
    with pytest.raises(Malformed):
        _form(body, content_type)


def test_an_events_id_and_detail_never_hold_a_nul():
    # A PostgreSQL text column refuses NUL; JSON's \u0000 or a form's %00 can bring one.
    event = Event("id\x00one", "hard_bounce", A, NOW, "550\x00 5.1.1")
    assert (event.event_id, event.detail) == ("id\ufffdone", "550\ufffd 5.1.1")
    assert Event("plain", "delivered", A, NOW).detail is None

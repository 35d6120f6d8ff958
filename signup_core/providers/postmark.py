"""Postmark: authenticated by basic auth or a secret token in the URL; Bounce, SpamComplaint,
SubscriptionChange and Delivery records."""

from __future__ import annotations

import base64
import binascii
import hmac

from signup_core.providers import (
    Context,
    Event,
    Inbound,
    Rejected,
    bounce_kind,
    json_body,
    parse_time,
)

HARD = {"HardBounce", "BadEmailAddress", "ManuallyDeactivated", "Blocked"}
SOFT = {"SoftBounce", "Transient", "DnsError", "MailboxFull"}
COMPLAINT = {"SpamComplaint", "SpamNotification"}
SUPPRESSION = {
    "HardBounce": "hard_bounce",
    "SpamComplaint": "complaint",
    "ManualSuppression": "unsubscribe",
}


def authenticate(inbound: Inbound, ctx: Context) -> None:
    secret = ctx.settings.postmark_webhook_secret
    if secret is None:
        raise Rejected(403, "not configured")
    expected = secret.value.encode()
    token = inbound.query.get("token", "").encode()
    if token and hmac.compare_digest(token, expected):
        return
    auth = inbound.headers.get("authorization", "")
    if not auth.lower().startswith("basic "):
        raise Rejected(401, "unsigned")
    try:
        user, _, password = base64.b64decode(auth[6:], validate=True).partition(b":")
    except binascii.Error:
        raise Rejected(401, "unsigned") from None
    user_ok = hmac.compare_digest(user, ctx.settings.postmark_webhook_user.encode())
    if not (hmac.compare_digest(password, expected) and user_ok):
        raise Rejected(403, "bad credentials")


async def receive(inbound: Inbound, ctx: Context) -> list[Event]:
    authenticate(inbound, ctx)
    # Python's json keeps integers exact: Postmark ids can pass 2**53.
    return events(json_body(inbound.body), ctx)


def events(record: dict, ctx: Context) -> list[Event]:
    kind = record.get("RecordType")
    if kind == "Bounce":
        label = record.get("Type")
        if label in COMPLAINT:
            return _one(record, "complaint", "Email", "BouncedAt", ctx, label)
        if label not in HARD | SOFT:
            return []  # auto-replies, challenge mails and the like say nothing about the address
        found = bounce_kind(record.get("Details"), labelled_permanent=label in HARD)
        return _one(record, found, "Email", "BouncedAt", ctx, label)
    if kind == "SpamComplaint":
        return _one(record, "complaint", "Email", "BouncedAt", ctx, record.get("Type"))
    if kind == "SubscriptionChange" and record.get("SuppressSending") is True:
        found = SUPPRESSION.get(record.get("SuppressionReason"))
        if found is None:
            return []
        record = {**record, "ID": f"sub:{record.get('MessageID')}:{record.get('ChangedAt')}"}
        return _one(record, found, "Recipient", "ChangedAt", ctx, record.get("SuppressionReason"))
    if kind == "Delivery":
        record = {**record, "ID": f"dlv:{record.get('MessageID')}"}
        return _one(record, "delivered", "Recipient", "DeliveredAt", ctx, None)
    return []


def _one(
    record: dict, kind: str, address_field: str, time_field: str, ctx: Context, detail: object
) -> list[Event]:
    address = record.get(address_field)
    if not isinstance(address, str) or not address or record.get("ID") is None:
        return []
    when = parse_time(record.get(time_field), ctx.now)
    return [Event(str(record["ID"]), kind, address, when, str(detail) if detail else None)]

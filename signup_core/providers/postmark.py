"""Postmark: authenticated by basic auth or a secret token in the URL; Bounce, SpamComplaint,
SubscriptionChange and Delivery records."""

from __future__ import annotations

import base64
import hmac
from typing import Any

from signup_core.providers import (
    Context,
    Event,
    Inbound,
    Rejected,
    identify,
    json_body,
    parse_time,
    text,
)
from signup_core.providers.bounces import BLOCKED, HARD, OTHER, SOFT, SUPPRESSED, classify

# Postmark's bounce types, by what they say about the address.
BOUNCE_TYPES = {
    "HardBounce": HARD,
    "BadEmailAddress": HARD,
    "ManuallyDeactivated": HARD,
    "SoftBounce": SOFT,
    "Transient": SOFT,
    "DnsError": SOFT,
    "Blocked": BLOCKED,  # the receiving side blocked the sender (content, blocklists)
    "DMARCPolicy": BLOCKED,
    "SMTPApiError": OTHER,
    "TemplateRenderingFailed": OTHER,
    "VirusNotification": OTHER,
    "Unknown": OTHER,
}
COMPLAINT = {"SpamComplaint", "SpamNotification"}
# Auto-replies, challenge mails and the like say nothing about the address.
IGNORED = {
    "AutoResponder",
    "AddressChange",
    "ChallengeVerification",
    "InboundError",
    "OpenRelayTest",
    "Subscribe",
    "Unconfirmed",
    "Unsubscribe",
}
SUPPRESSION = {
    "HardBounce": HARD,
    "SpamComplaint": "complaint",
    "ManualSuppression": "unsubscribe",
}


def authenticate(inbound: Inbound, ctx: Context) -> None:
    secret = ctx.settings.postmark_webhook_secret
    if secret is None:
        raise Rejected(403, "not configured")
    expected = secret.value.encode()
    token = inbound.query.get("token", "").encode("utf-8", "surrogatepass")
    if token and hmac.compare_digest(token, expected):
        return
    auth = inbound.headers.get("authorization", "")
    if not auth.lower().startswith("basic "):
        raise Rejected(401, "unsigned")
    try:
        user, _, password = base64.b64decode(auth[6:], validate=True).partition(b":")
    except ValueError:  # binascii.Error, or non-ASCII text, which b64decode refuses
        raise Rejected(401, "unsigned") from None
    user_ok = hmac.compare_digest(user, ctx.settings.postmark_webhook_user.encode())
    if not (hmac.compare_digest(password, expected) and user_ok):
        raise Rejected(403, "bad credentials")


async def receive(inbound: Inbound, ctx: Context) -> list[Event]:
    authenticate(inbound, ctx)
    # Python's json keeps integers exact: Postmark ids can pass 2**53.
    return events(json_body(inbound.body), ctx)


def events(record: dict[str, Any], ctx: Context) -> list[Event]:
    kind, label = text(record, "RecordType"), text(record, "Type")
    given = record.get("ID")
    if kind == "Bounce":
        if label in COMPLAINT:
            return _one(record, "complaint", "Email", "BouncedAt", ctx, label, given)
        if label in IGNORED:
            return []
        # A bounce without a type is hard: only a type Postmark gives says otherwise.
        found = classify(text(record, "Details"), BOUNCE_TYPES.get(label, OTHER) if label else HARD)
        return _one(record, found, "Email", "BouncedAt", ctx, label, given)
    if kind == "SpamComplaint":
        return _one(record, "complaint", "Email", "BouncedAt", ctx, label, given)
    message_id = text(record, "MessageID")
    if kind == "SubscriptionChange" and record.get("SuppressSending") is True:
        reason = text(record, "SuppressionReason")
        # Postmark stopped sending there (its inactive recipients): for any reason, suppressed.
        found = SUPPRESSION.get(reason or "", SUPPRESSED)
        changed = text(record, "ChangedAt")
        given = f"sub:{message_id}:{changed}" if message_id and changed else None
        return _one(record, found, "Recipient", "ChangedAt", ctx, reason, given)
    if kind == "Delivery":
        given = f"dlv:{message_id}" if message_id else None
        return _one(record, "delivered", "Recipient", "DeliveredAt", ctx, None, given)
    return []


def _one(
    record: dict[str, Any],
    kind: str | None,
    address_field: str,
    time_field: str,
    ctx: Context,
    detail: str | None,
    given: object,
) -> list[Event]:
    event_id, derived = identify(given, record)
    address = text(record, address_field)
    if kind is None or not address:
        return []
    when = parse_time(record.get(time_field), ctx.now)
    return [Event(event_id, kind, address, when, detail, derived)]

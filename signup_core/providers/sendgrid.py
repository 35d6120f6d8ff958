"""SendGrid's signed event webhook: ECDSA over the timestamp and the raw body, then a batch."""

from __future__ import annotations

import base64
import binascii
import datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from signup_core.providers import (
    Context,
    Event,
    Inbound,
    Rejected,
    bounce_kind,
    json_body,
    parse_time,
    within,
)

SIGNATURE = "x-twilio-email-event-webhook-signature"
TIMESTAMP = "x-twilio-email-event-webhook-timestamp"
SIMPLE = {
    "spamreport": "complaint",
    "unsubscribe": "unsubscribe",
    "group_unsubscribe": "unsubscribe",
    "delivered": "delivered",
    "blocked": "soft_bounce",
}
# Why SendGrid dropped a mail without trying: what that says about the address.
DROPPED = {
    "bounced address": "hard_bounce",
    "invalid": "hard_bounce",
    "spam reporting address": "complaint",
    "unsubscribed address": "unsubscribe",
}


def public_key(text: str) -> ec.EllipticCurvePublicKey:
    """The key as SendGrid shows it: base64 DER, with or without PEM armour."""
    body = "".join(line for line in text.strip().splitlines() if "-----" not in line)
    key = serialization.load_der_public_key(base64.b64decode(body))
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise ValueError("not an EC public key")
    return key


def verify(inbound: Inbound, ctx: Context) -> None:
    if not ctx.settings.sendgrid_public_key:
        raise Rejected(403, "not configured")
    signature, stamp = inbound.headers.get(SIGNATURE), inbound.headers.get(TIMESTAMP)
    if not signature or not stamp:
        raise Rejected(401, "unsigned")
    if not stamp.isdigit() or not within(
        datetime.datetime.fromtimestamp(int(stamp), datetime.UTC),
        ctx.now,
        ctx.settings.webhook_tolerance,
    ):
        raise Rejected(403, "stale")
    try:
        # The signature covers the body's bytes exactly as received, not a re-encoding.
        public_key(ctx.settings.sendgrid_public_key).verify(
            base64.b64decode(signature, validate=True),
            stamp.encode() + inbound.body,
            ec.ECDSA(hashes.SHA256()),
        )
    except (InvalidSignature, binascii.Error, ValueError):
        raise Rejected(403, "bad signature") from None


async def receive(inbound: Inbound, ctx: Context) -> list[Event]:
    verify(inbound, ctx)
    batch = json_body(inbound.body, list)
    return [e for item in batch if isinstance(item, dict) for e in _event(item, ctx)]


def _event(item: dict, ctx: Context) -> list[Event]:
    name, address, event_id = item.get("event"), item.get("email"), item.get("sg_event_id")
    if not isinstance(address, str) or not address or not event_id:
        return []
    if name == "bounce":
        blocked = item.get("type") == "blocked"
        kind = bounce_kind(item.get("status") or item.get("reason"), labelled_permanent=not blocked)
    elif name == "dropped":
        reason = str(item.get("reason", "")).lower()
        kind = next((k for text, k in DROPPED.items() if text in reason), None)
    else:
        kind = SIMPLE.get(name)
    if kind is None:
        return []
    when = parse_time(item.get("timestamp"), ctx.now)
    return [Event(str(event_id), kind, address, when, item.get("status") or name)]

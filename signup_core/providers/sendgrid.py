"""SendGrid's signed event webhook: ECDSA over the timestamp and the raw body, then a batch."""

from __future__ import annotations

import base64
import binascii

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from signup_core.providers import (
    Context,
    Event,
    Inbound,
    Malformed,
    Rejected,
    identify,
    json_body,
    parse_time,
    text,
    unix_time,
    within,
)
from signup_core.providers.bounces import BLOCKED, DEFERRED, HARD, OTHER, SUPPRESSED, classify

SIGNATURE = "x-twilio-email-event-webhook-signature"
TIMESTAMP = "x-twilio-email-event-webhook-timestamp"
SIMPLE = {
    "spamreport": "complaint",
    "unsubscribe": "unsubscribe",
    "group_unsubscribe": "unsubscribe",
    "delivered": "delivered",
    "deferred": DEFERRED,
}
# A bounce's `type`: "blocked" is the receiving server refusing the sender, not the mailbox.
BOUNCE_TYPES = {"bounce": HARD, "blocked": BLOCKED}
# Why SendGrid dropped a mail without trying, as its documentation lists them, matched whole:
# a substring match took "Invalid SMTPAPI header" (our error) for "Invalid" (the address).
DROPPED = {
    # On SendGrid's own suppression lists: it will not send there again.
    "bounced address": SUPPRESSED,
    "unsubscribed address": SUPPRESSED,
    "invalid": HARD,
    "spam reporting address": "complaint",
    "invalid smtpapi header": OTHER,
    "spam content": OTHER,
    "recipient list over package quota": OTHER,
    "duplicate message": OTHER,
}


def public_key(shown: str) -> ec.EllipticCurvePublicKey:
    """The key as SendGrid shows it: base64 DER, with or without PEM armour."""
    body = "".join(line for line in shown.strip().splitlines() if "-----" not in line)
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
    moment = unix_time(stamp)
    if moment is None or not within(moment, ctx.now, ctx.settings.webhook_tolerance):
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
    if not all(isinstance(item, dict) for item in batch):
        raise Malformed
    return [e for item in batch for e in _event(item, ctx)]


def _event(item: dict, ctx: Context) -> list[Event]:
    name, address = text(item, "event"), text(item, "email")
    event_id, derived = identify(item.get("sg_event_id"), item)
    status = text(item, "status")
    if name == "bounce":
        bounce_type = text(item, "type")
        label = HARD if bounce_type is None else BOUNCE_TYPES.get(bounce_type, OTHER)
        kind = classify(status or text(item, "reason"), label)
    elif name == "dropped":
        kind = DROPPED.get((text(item, "reason") or "").strip().lower(), OTHER)
    else:
        kind = SIMPLE.get(name or "")
    if kind is None or not address:
        return []
    when = parse_time(item.get("timestamp"), ctx.now)
    return [Event(event_id, kind, address, when, status or name, derived)]

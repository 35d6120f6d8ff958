"""Resend: signed by Svix (HMAC-SHA256 over id.timestamp.body, several signatures while a
secret rotates); one event per request, one Event per recipient. The svix-id is the event's
id, so a delivery seen before is acknowledged and not stored twice."""

from __future__ import annotations

import base64
import hashlib
import hmac
from email.utils import parseaddr
from typing import Any

from signup_core.providers import (
    Context,
    Event,
    Inbound,
    Rejected,
    array,
    json_body,
    mapping,
    parse_time,
    text,
    unix_time,
    within,
)
from signup_core.providers.bounces import DEFERRED, HARD, SOFT, SUPPRESSED, classify

# Svix's own names first; Standard Webhooks (which Svix white-labels) names the same headers so.
HEADERS = (
    ("svix-id", "svix-timestamp", "svix-signature"),
    ("webhook-id", "webhook-timestamp", "webhook-signature"),
)
SIMPLE = {
    "email.complained": "complaint",
    "email.delivered": "delivered",
    "email.delivery_delayed": DEFERRED,  # Resend is still trying: never a bounce
    "email.suppressed": SUPPRESSED,
}
# A bounce's `type`, as SES (which Resend sends through) reports it.
# No type, or Undetermined, is hard: only Transient says the mailbox may take mail later.
BOUNCE_TYPES = {"Permanent": HARD, "Transient": SOFT}
# Subtypes that say SES (under Resend) did not send at all: the address is suppressed.
SUPPRESSED_SUBTYPES = {"Suppressed", "OnAccountSuppressionList"}


def signature(secret: str, msg_id: str, stamp: str, body: bytes) -> bytes:
    """The v1 signature Svix sends: base64 of HMAC-SHA256 over `id.timestamp.body`."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = msg_id.encode("utf-8", "surrogatepass") + b"." + stamp.encode() + b"." + body
    return base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest())


def verify(inbound: Inbound, ctx: Context) -> str:
    """The message's svix-id, once one of its signatures and its timestamp check out."""
    secret = ctx.settings.resend_webhook_secret
    if secret is None:
        raise Rejected(403, "not configured")
    for names in HEADERS:
        msg_id, stamp, signed = (inbound.headers.get(n) for n in names)
        if msg_id and stamp and signed:
            break
    else:
        raise Rejected(401, "unsigned")
    moment = unix_time(stamp)
    if moment is None or not within(moment, ctx.now, ctx.settings.webhook_tolerance):
        raise Rejected(403, "stale")
    expected = signature(secret.value, msg_id, stamp, inbound.body)
    # "v1,<base64>" entries, space-separated; other versions are skipped, any v1 match passes.
    for entry in signed.split(" "):
        version, _, given = entry.partition(",")
        if version == "v1" and hmac.compare_digest(
            expected, given.encode("utf-8", "surrogatepass")
        ):
            return msg_id
    raise Rejected(403, "bad signature")


async def receive(inbound: Inbound, ctx: Context) -> list[Event]:
    msg_id = verify(inbound, ctx)
    return events(msg_id, json_body(inbound.body), ctx)


def events(msg_id: str, body: dict[str, Any], ctx: Context) -> list[Event]:
    name, data = text(body, "type"), mapping(body, "data")
    # The API takes one address or a list, and the events echo what it took.
    one = data.get("to")
    recipients = [one] if isinstance(one, str) else array(data, "to", str)
    if name == "email.bounced":
        bounce = mapping(data, "bounce")
        label = BOUNCE_TYPES.get(text(bounce, "type") or "", HARD)
        kind: str | None = classify(_diagnosis(bounce), label)
        if text(bounce, "subType") in SUPPRESSED_SUBTYPES:
            kind = SUPPRESSED
        detail = text(bounce, "subType") or text(bounce, "type")
    else:
        kind = SIMPLE.get(name or "")
        detail = name
    when = parse_time(body.get("created_at"), ctx.now)
    if kind is None:
        return []
    # An address may come as "Name <address>".
    addresses = [parseaddr(r)[1] or r for r in recipients if r]
    return [Event(msg_id, kind, address, when, detail) for address in addresses]


def _diagnosis(bounce: dict[str, Any]) -> str:
    """The receiving server's reply when Resend passes it on (one line or several), before
    Resend's own sentence about it: the status code in the reply is what the bounce means."""
    code = bounce.get("diagnosticCode")
    lines = [code] if isinstance(code, str) else array(bounce, "diagnosticCode", str)
    return " ".join([*lines, text(bounce, "message") or ""])

"""Mailgun: HMAC-SHA256 of timestamp + token with the webhook signing key; stale timestamps
and reused tokens are refused; then one event per request. The token is claimed only once
the event has been read, and the caller releases it if storing fails, so a retry gets in.
Both of Mailgun's forms: JSON webhooks (`signature` + `event-data`) and the legacy ones, form
fields (urlencoded or multipart) with `timestamp`, `token`, `signature` beside the event's."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from signup_core.providers import (
    Context,
    Event,
    Inbound,
    Rejected,
    identify,
    json_body,
    legacy_form,
    mapping,
    parse_time,
    text,
    unix_time,
    within,
)
from signup_core.providers.bounces import (
    BLOCKED,
    DEFERRED,
    HARD,
    OTHER,
    SOFT,
    SUPPRESSED,
    classify,
)

SIMPLE = {"complained": "complaint", "unsubscribed": "unsubscribe", "delivered": "delivered"}
# A failed event's `reason`, for when no status code says more; by `severity`.
PERMANENT = {
    "espblock": BLOCKED,
    "suppress-bounce": SUPPRESSED,  # on Mailgun's own bounce list: it did not even try
    "suppress-complaint": "complaint",
    "suppress-unsubscribe": "unsubscribe",
}
TEMPORARY = {"espblock": BLOCKED, "greylisted": DEFERRED}


def verify(signed: object, ctx: Context) -> str:
    """The signature's token, once the signature and its timestamp check out."""
    key = ctx.settings.mailgun_signing_key
    if key is None:
        raise Rejected(403, "not configured")
    if not isinstance(signed, dict) or not all(
        isinstance(signed.get(k), str) for k in ("timestamp", "token", "signature")
    ):
        raise Rejected(401, "unsigned")
    stamp, token = signed["timestamp"], signed["token"]
    # Bytes on both sides: compare_digest refuses non-ASCII str, and any text encodes.
    message = (stamp + token).encode("utf-8", "surrogatepass")
    expected = hmac.new(key.bytes(), message, hashlib.sha256).hexdigest().encode()
    if not hmac.compare_digest(expected, signed["signature"].encode("utf-8", "surrogatepass")):
        raise Rejected(403, "bad signature")
    moment = unix_time(stamp)
    if moment is None or not within(moment, ctx.now, ctx.settings.webhook_tolerance):
        raise Rejected(403, "stale")
    return token


async def receive(inbound: Inbound, ctx: Context) -> list[Event]:
    fields = legacy_form.fields(inbound)
    if fields is not None:
        token = verify({k: fields.get(k) for k in ("timestamp", "token", "signature")}, ctx)
        events = _legacy_event(fields, ctx)
    else:
        body = json_body(inbound.body)
        token = verify(body.get("signature"), ctx)
        events = _event(mapping(body, "event-data"), ctx)
    if not await ctx.claim_once(f"mailgun:{token}", ctx.settings.webhook_tolerance * 2):
        raise Rejected(403, "replayed")
    return events


def _event(data: dict[str, Any], ctx: Context) -> list[Event]:
    name, address = text(data, "event"), text(data, "recipient")
    if not data:
        return []
    # Mailgun's signature covers the token, not the event; its content makes the stable id.
    event_id, derived = identify(data.get("id"), data)
    severity = text(data, "severity")
    if name == "failed":
        status = mapping(data, "delivery-status")
        code = (
            text(status, "enhanced-code") or text(status, "message") or text(status, "description")
        )
        reason = text(data, "reason")
        # Without a severity a failure is permanent: only "temporary" says Mailgun retries.
        if severity == "temporary":
            kind = classify(code, TEMPORARY.get(reason or "", SOFT))
        else:
            kind = classify(code, PERMANENT.get(reason or "", HARD))
            if reason == "suppress-bounce":
                kind = SUPPRESSED
    else:
        kind = SIMPLE.get(name or "")
    if kind is None or not address:
        return []
    when = parse_time(data.get("timestamp"), ctx.now)
    return [Event(event_id, kind, address, when, severity or name, derived)]


# The legacy webhooks' events; "bounced" is a permanent failure, "dropped" a mail Mailgun did not
# (or no longer) try to deliver, for the `reason` given.
LEGACY_SIMPLE = {"complained": "complaint", "unsubscribed": "unsubscribe", "delivered": "delivered"}
LEGACY_DROPPED = {"hardfail": SUPPRESSED, "maxfails": SOFT, "old": OTHER}


def _legacy_event(fields: dict[str, str], ctx: Context) -> list[Event]:
    name, address = fields.get("event"), fields.get("recipient")
    # No event id in this form: the signed fields, less the signature's own, make the id.
    content = {k: v for k, v in fields.items() if k not in ("token", "signature")}
    event_id, derived = identify(None, content)
    said = " ".join(filter(None, (fields.get("code"), fields.get("error"))))
    if name == "bounced":
        kind: str | None = classify(said or fields.get("description"), HARD)
    elif name == "dropped":
        reason = fields.get("reason") or ""
        kind = LEGACY_DROPPED.get(reason, OTHER)
        if kind == SOFT:
            kind = classify(said or fields.get("description"), SOFT)
    else:
        kind = LEGACY_SIMPLE.get(name or "")
    if kind is None or not address:
        return []
    when = unix_time(fields.get("timestamp") or "") or ctx.now
    return [Event(event_id, kind, address, when, name, derived)]

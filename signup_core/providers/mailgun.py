"""Mailgun: HMAC-SHA256 of timestamp + token with the webhook signing key; stale timestamps
and reused tokens are refused; then one event per request."""

from __future__ import annotations

import datetime
import hashlib
import hmac

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

SIMPLE = {"complained": "complaint", "unsubscribed": "unsubscribe", "delivered": "delivered"}


async def verify(signed: object, ctx: Context) -> None:
    key = ctx.settings.mailgun_signing_key
    if key is None:
        raise Rejected(403, "not configured")
    if not isinstance(signed, dict) or not all(
        isinstance(signed.get(k), str) for k in ("timestamp", "token", "signature")
    ):
        raise Rejected(401, "unsigned")
    stamp, token = signed["timestamp"], signed["token"]
    expected = hmac.new(key.bytes(), (stamp + token).encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signed["signature"]):
        raise Rejected(403, "bad signature")
    tolerance = ctx.settings.webhook_tolerance
    if not stamp.isdigit() or not within(
        datetime.datetime.fromtimestamp(int(stamp), datetime.UTC), ctx.now, tolerance
    ):
        raise Rejected(403, "stale")
    if not await ctx.claim_once(f"mailgun:{token}", tolerance * 2):
        raise Rejected(403, "replayed")


async def receive(inbound: Inbound, ctx: Context) -> list[Event]:
    body = json_body(inbound.body)
    await verify(body.get("signature"), ctx)
    data = body.get("event-data")
    return _event(data, ctx) if isinstance(data, dict) else []


def _event(data: dict, ctx: Context) -> list[Event]:
    name, address, event_id = data.get("event"), data.get("recipient"), data.get("id")
    if not isinstance(address, str) or not address or not event_id:
        return []
    status = data.get("delivery-status") or {}
    if name == "failed":
        code = status.get("enhanced-code") or status.get("message") or status.get("description")
        basic = status.get("code")
        if not code and isinstance(basic, int) and basic >= 400:
            code = f"{basic // 100}.0.0"
        kind = bounce_kind(code, labelled_permanent=data.get("severity") == "permanent")
    else:
        kind = SIMPLE.get(name)
    if kind is None:
        return []
    when = parse_time(data.get("timestamp"), ctx.now)
    return [Event(str(event_id), kind, address, when, data.get("severity") or name)]

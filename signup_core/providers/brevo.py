"""Brevo: its webhooks are not signed, so a shared secret authenticates them (basic auth or a
bearer token, as Brevo's webhook settings offer), optionally from allowed networks only. One
event per request, or a batch when the webhook is set to batch."""

from __future__ import annotations

import base64
import datetime
import hmac
import ipaddress
from typing import Any

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
)
from signup_core.providers.bounces import DEFERRED, HARD, SOFT, SUPPRESSED, classify

SIMPLE = {
    "spam": "complaint",  # "Marked as spam", in the transactional and marketing webhooks
    "complaint": "complaint",
    "unsubscribed": "unsubscribe",
    "unsubscribe": "unsubscribe",  # the marketing webhooks' spelling
    "delivered": "delivered",
    # Brevo will try again; whatever its reason text says, this is no bounce.
    "deferred": DEFERRED,
    # The address is on the account's blocklist (an earlier bounce, complaint or
    # unsubscribe): Brevo refuses to send there, not the receiving server.
    "blocked": SUPPRESSED,
    "invalid_email": HARD,
}
BOUNCES = {"hard_bounce": HARD, "soft_bounce": SOFT}


def authenticate(inbound: Inbound, ctx: Context) -> None:
    s = ctx.settings
    if s.brevo_webhook_secret is None:
        raise Rejected(403, "not configured")
    if s.brevo_webhook_networks and not _allowed(inbound.client, s.brevo_webhook_networks):
        raise Rejected(403, "foreign network")
    expected = s.brevo_webhook_secret.value.encode()
    auth = inbound.headers.get("authorization", "")
    scheme, _, credentials = auth.partition(" ")
    if scheme.lower() == "bearer" and credentials:
        if not hmac.compare_digest(credentials.strip().encode("utf-8", "surrogatepass"), expected):
            raise Rejected(403, "bad credentials")
        return
    if scheme.lower() != "basic" or not credentials:
        raise Rejected(401, "unsigned")
    try:
        user, _, password = base64.b64decode(credentials, validate=True).partition(b":")
    except ValueError:  # binascii.Error, or non-ASCII text, which b64decode refuses
        raise Rejected(401, "unsigned") from None
    user_ok = hmac.compare_digest(user, s.brevo_webhook_user.encode())
    if not (hmac.compare_digest(password, expected) and user_ok):
        raise Rejected(403, "bad credentials")


def _allowed(client: str | None, networks: tuple) -> bool:
    try:
        address = ipaddress.ip_address(client or "")
    except ValueError:
        return False
    return any(address in network for network in networks)


async def receive(inbound: Inbound, ctx: Context) -> list[Event]:
    authenticate(inbound, ctx)
    body = json_body(inbound.body, dict | list)
    batch = body if isinstance(body, list) else [body]
    if not all(isinstance(item, dict) for item in batch):
        raise Malformed
    return [e for item in batch for e in _event(item, ctx)]


def _event(item: dict[str, Any], ctx: Context) -> list[Event]:
    name, address = text(item, "event"), text(item, "email")
    reason = text(item, "reason")
    if name in BOUNCES:
        kind: str | None = classify(reason, BOUNCES[name])
    else:
        kind = SIMPLE.get(name or "")
    # Brevo's `id` is the webhook's, the same on every event: the message, the event and its
    # moment are what tell one event from another; a retry carries all three unchanged.
    message_id, moment = text(item, "message-id"), item.get("ts_epoch") or item.get("ts_event")
    given = None
    if message_id and isinstance(moment, int) and not isinstance(moment, bool):
        given = f"{name}:{message_id}:{moment}"
    event_id, derived = identify(given, item)
    if kind is None or not address:
        return []
    return [Event(event_id, kind, address, _when(item, ctx), name, derived)]


def _when(item: dict[str, Any], ctx: Context) -> datetime.datetime:
    """`ts_epoch` is in milliseconds, `ts_event` in seconds; Brevo sends both."""
    epoch_ms = item.get("ts_epoch")
    if isinstance(epoch_ms, int) and not isinstance(epoch_ms, bool) and abs(epoch_ms) < 2**53:
        return parse_time(epoch_ms / 1000, ctx.now)
    return parse_time(item.get("ts_event"), ctx.now)

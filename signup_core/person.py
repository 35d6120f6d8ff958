"""Everything held about one person, for `signupctl show`, the admin API's look-up and the
subscriber's own "send me my data": every subscription on every list (pending, unsubscribed
and suppressed ones too) with its consent record, the suppression entry, the mails queued to
them, the provider events and the audit entries that name them (by blind index). Confirmation
tokens are counted, never shown. Decrypted: this is the data-subject access export
(GDPR art. 15 / 20), so it is handed only to the operator or to the person."""

from __future__ import annotations

import json
from typing import Any

import asyncpg

from signup_core import consent, db, sealing, unsubscribe_links
from signup_core.addresses import normalise
from signup_core.index_keys import index_keys
from signup_core.settings import Settings

FORMAT = "signet-signup/person-record/1"


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


async def person_record(conn: asyncpg.Connection, settings: Settings, address: str) -> dict:
    """The complete record of `address` (raises addresses.InvalidAddress if it is not one).
    Looks under the previous blind-index key too during a rotation; changes nothing."""
    address = normalise(address)
    keys = index_keys(settings)
    indexes = [keys.index(address)]
    previous = keys.previous_index(address)
    if previous is not None:
        indexes.append(previous)
    q = db.queries()
    subscriptions = [
        _subscription(settings, r)
        async for r in q.person_subscriptions(conn, email_indexes=indexes)
    ]
    suppression = [
        {"reason": r["reason"], "provider": r["provider"], "since": _iso(r["suppressed_at"])}
        async for r in q.person_suppression(conn, email_indexes=indexes)
    ]
    mails = [
        {
            "list": r["list_name"],
            "kind": r["kind"],
            "queued_at": _iso(r["created_at"]),
            "not_before": _iso(r["not_before"]),
            "sent_at": _iso(r["sent_at"]),
            "failed_at": _iso(r["failed_at"]),
            "outcome": _outcome(r),
        }
        async for r in q.person_mails(conn, email_indexes=indexes)
    ]
    events = [
        {
            "provider": r["provider"],
            "event_id": r["event_id"],
            "kind": r["kind"],
            "occurred_at": _iso(r["occurred_at"]),
            "received_at": _iso(r["received_at"]),
            "applied_at": _iso(r["applied_at"]),
            "detail": r["detail"],
        }
        async for r in q.person_events(conn, email_indexes=indexes)
    ]
    audit = [
        {
            "at": _iso(r["at"]),
            "actor": r["actor"],
            "action": r["action"],
            "params": json.loads(r["params"]),
            "counts": json.loads(r["counts"]),
            "outcome": r["outcome"],
        }
        async for r in q.person_audit(conn, hexes=[i.hex() for i in indexes])
    ]
    return {
        "format": FORMAT,
        "address": address,
        "email_index": indexes[0].hex(),
        "subscriptions": subscriptions,
        "suppression": suppression[0] if suppression else None,
        "mails": mails,
        "provider_events": events,
        "audit": audit,
    }


def _outcome(row: Any) -> str:
    if row["sent_at"] is not None:
        return "sent"
    if row["failed_at"] is not None:
        return f"failed: {row['failure']}"
    return "waiting"


def _subscription(settings: Settings, r: Any) -> dict[str, Any]:
    keys, kid = settings.seal_keys, r["seal_key_id"]
    return {
        "list": r["list_name"],
        "status": r["status_text"],
        "address": sealing.open_column(keys, r["email_sealed"], sealing.EMAIL, kid),
        "name": sealing.open_column(keys, r["name_sealed"], sealing.NAME, kid),
        "locale": r["locale"],
        "created_at": _iso(r["created_at"]),
        "updated_at": _iso(r["updated_at"]),
        "confirmed_at": _iso(r["confirmed_at"]),
        "unsubscribed_at": _iso(r["unsubscribed_at"]),
        "suppressed_at": _iso(r["suppressed_at"]),
        "suppression_reason": r["suppression_reason"],
        "last_mailed_at": _iso(r["last_mailed_at"]),
        "consent_form_version": r["consent_form_version"],
        "consent": consent.record(r),
        "tokens_outstanding": r["tokens_outstanding"],
        "unsubscribe_url": unsubscribe_links.url(settings, r["unsubscribe_id"]),
    }

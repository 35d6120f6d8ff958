"""The operator's actions, one implementation for both signupctl and the admin HTTP API: each
takes the pool and the actor, does its work and writes its audit row. Addresses arrive as blind
indexes; neither caller's audit row ever holds an address."""

from __future__ import annotations

import asyncio
import datetime
import json
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any

import anyio
import asyncpg

from signup_core import audit, db, key_registry, sealing
from signup_core import export as exporting
from signup_core.index_keys import Lookup, index_keys, refile
from signup_core.person import person_record
from signup_core.settings import Settings

log = logging.getLogger(__name__)

# How long an export's audit row may take once the export ended (a database that is away).
AUDIT_DEADLINE = 10.0

ERASE_COUNTS = ("subscriptions", "tokens", "outbox", "events", "suppressions_kept")


async def refiled(pool: asyncpg.Pool, settings: Settings, addresses: Sequence[str]) -> list[Lookup]:
    """Each (normalised) address's hashes, with what a key rotation left under the previous
    key refiled first, so the operation that follows finds it. A process whose keys are not
    the database's refuses here (KeyMismatch), before it writes anything."""
    keys = index_keys(settings)
    await key_registry.register(pool, keys)
    if keys.previous is not None:
        for address in addresses:
            async with pool.acquire() as conn:
                await refile(conn, keys, address)
    return [keys.lookup(a) for a in addresses]


async def lookup_of_index(pool: asyncpg.Pool, settings: Settings, index: bytes) -> Lookup:
    """The hashes of the address filed under a blind index (or a suppression-key hash): all of
    them when a subscription still holds its sealed address, the index alone otherwise."""
    async with pool.acquire() as conn:
        row = await db.queries().sealed_address_of(conn, email_index=index)
    if row is None:
        return Lookup(index, index)
    address = sealing.open_column(
        settings.seal_keys, row["email_sealed"], sealing.EMAIL, row["seal_key_id"]
    )
    found = index_keys(settings).lookup(str(address))
    return Lookup(index, found.held, found.previous) if found.index != index else found


async def _erase_one(pool: asyncpg.Pool, lookup: Lookup, events: bool) -> Any:
    # The mail rows are locked first, as the sender locks them; a deadlock with some other
    # writer is still possible in principle, and PostgreSQL's answer to one is to try again.
    for attempt in range(3):
        try:
            async with pool.acquire() as conn, conn.transaction():
                rows = db.queries().lock_address_mail(conn, email_index=lookup.index)
                _ = [r async for r in rows]
                return await db.queries().erase_address(
                    conn, email_index=lookup.index, lookups=lookup.every, events=events
                )
        except asyncpg.DeadlockDetectedError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


async def erase(
    pool: asyncpg.Pool, actor: str, lookups: Sequence[Lookup], events: bool = False
) -> dict[str, int]:
    """Erase everything held about each address but its suppression entry; totals per kind.
    With `events`, each erased address is announced (subscriber.erased) to the owner's tools."""
    totals = dict.fromkeys(ERASE_COUNTS, 0)
    for lookup in lookups:
        row = await _erase_one(pool, lookup, events)
        for name in ("subscriptions", "tokens", "outbox", "events"):
            totals[name] += row[name]
        totals["suppressions_kept"] += int(row["suppression_kept"])
    await audit.record(pool, actor, "erase", {"addresses": len(lookups)}, totals)
    return totals


async def suppress(
    pool: asyncpg.Pool,
    actor: str,
    lookups: Sequence[Lookup],
    reason: str,
    held_key: str,
    events: bool = False,
) -> dict[str, int]:
    """Suppress each address, its entry under its suppression-key hash (`held_key` names the
    key); its rows are found by its current blind index."""
    for lookup in lookups:
        async with pool.acquire() as conn:
            await db.queries().suppress_address(
                conn,
                email_index=lookup.index,
                held=lookup.held,
                held_key=held_key,
                reason=reason,
                provider=None,
                events=events,
            )
    counts = {"addresses": len(lookups)}
    params = {"reason": reason, "email_indexes": [lk.index.hex() for lk in lookups]}
    await audit.record(pool, actor, "suppress", params, counts)
    return counts


async def unsuppress(pool: asyncpg.Pool, actor: str, lookups: Sequence[Lookup]) -> dict[str, int]:
    """Lift each address's suppression, whichever of its hashes the entry is filed under."""
    counts = {"suppressions": 0, "subscriptions": 0}
    for lookup in lookups:
        async with pool.acquire() as conn:
            row = await db.queries().unsuppress_address(
                conn, email_index=lookup.index, lookups=lookup.every
            )
        counts["suppressions"] += row["suppressions"]
        counts["subscriptions"] += row["subscriptions"]
    params = {"email_indexes": [lk.index.hex() for lk in lookups]}
    await audit.record(pool, actor, "unsuppress", params, counts)
    return counts


async def stats(pool: asyncpg.Pool, now: datetime.datetime) -> list[dict[str, Any]]:
    """Per list: counts by status, recent signups and confirmations, 30-day rates."""
    async with pool.acquire() as conn:
        rows = [dict(r) async for r in db.queries().list_stats(conn, now=now)]
    for r in rows:
        r["confirmation_rate"] = _rate(r.pop("confirmed_of_month"), r.pop("signups_month"))
        mails = r.pop("mails_month")
        r["bounce_rate"] = _rate(r.pop("bounces_month"), mails)
        r["complaint_rate"] = _rate(r.pop("complaints_month"), mails)
    return rows


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


async def known_list(pool: asyncpg.Pool, settings: Settings, list_name: str) -> bool:
    """A list that is configured, or that still holds subscriptions (since taken out of
    SIGNUP_LISTS): anything else is a typo worth saying so."""
    if list_name in settings.lists:
        return True
    if "\x00" in list_name:  # no list has one, and PostgreSQL would refuse to look
        return False
    async with pool.acquire() as conn:
        return bool(await db.queries().list_has_rows(conn, list_name=list_name))


async def dead_letters(pool: asyncpg.Pool, limit: int) -> list[dict[str, Any]]:
    async with pool.acquire() as conn:
        return [dict(r) async for r in db.queries().dead_letters(conn, limit=limit)]


async def dead_events(pool: asyncpg.Pool, limit: int) -> list[dict[str, Any]]:
    """Outbound events the worker gave up on (or that the receiver refused with 410)."""
    async with pool.acquire() as conn:
        return [dict(r) async for r in db.queries().dead_hooks(conn, limit=limit)]


async def replay_dead_letters(pool: asyncpg.Pool, actor: str, outbox_id: int | None) -> int:
    """Put one (or, with None, every) dead-lettered mail back on the queue; how many."""
    async with pool.acquire() as conn:
        n = await db.queries().replay_dead_letters(conn, outbox_id=outbox_id)
    await audit.record(pool, actor, "dead-letters-replay", {"id": outbox_id}, {"replayed": n})
    return n


async def replay_dead_events(pool: asyncpg.Pool, actor: str, event_id: int | None) -> int:
    """Send one (or, with None, every) dead-lettered outbound event again, same webhook-id."""
    async with pool.acquire() as conn:
        n = await db.queries().replay_dead_hooks(conn, event_id=event_id)
    await audit.record(pool, actor, "dead-events-replay", {"id": event_id}, {"replayed": n})
    return n


async def audit_entries(
    conn: asyncpg.Connection, since: datetime.datetime | None, limit: int
) -> list[dict[str, Any]]:
    """Audit rows, newest first, parameters and counts as objects."""
    rows = []
    async for r in db.queries().audit_entries(conn, since=since, limit=limit):
        row = {**dict(r), "at": r["at"].isoformat()}
        row["params"], row["counts"] = json.loads(r["params"]), json.loads(r["counts"])
        rows.append(row)
    return rows


EXPORT_END = ""  # never a line: each CSV or JSON line ends with its newline


def exported_rows(lines: int, fmt: str) -> int:
    """The subscribers in `lines` lines of an export: a CSV's first line is its header."""
    return max(lines - 1, 0) if fmt == "csv" else lines


async def export_lines(
    pool: asyncpg.Pool,
    settings: Settings,
    actor: str,
    fmt: str,
    list_name: str | None,
    since: datetime.datetime | None,
    until: datetime.datetime | None,
) -> AsyncIterator[str]:
    """The export as lines, streamed, then EXPORT_END: the consumer delivers what it still
    holds (a flush, the last chunk sent) before it asks for more, and only then is the export
    whole. The audit row is written then, or when the export stops early: `interrupted` when
    the reader left (a closed pipe, a client gone, even at the last flush), outcome `failed`
    when the export itself broke; either way with the rows handed out so far, since those left
    as well."""
    n = 0
    ended = "whole"
    try:
        async with pool.acquire() as conn:
            async for line in exporting.lines(conn, settings, fmt, list_name, since, until):
                n += 1
                yield line
        yield EXPORT_END
    except (GeneratorExit, asyncio.CancelledError):
        ended = "left"
        raise
    except BaseException:
        ended = "failed"
        raise
    finally:
        rows = exported_rows(n, fmt)
        params = {"format": fmt, "list": list_name, "since": since, "until": until}
        counts = {"rows": rows} if ended == "whole" else {"rows": rows, "interrupted": True}
        outcome = "failed" if ended == "failed" else "done"
        # Shielded, since a client that left cancels the response's task, but bounded; and a
        # failure here must not replace the export's own.
        with anyio.move_on_after(AUDIT_DEADLINE, shield=True) as waited:
            try:
                await audit.record(pool, actor, "export", params, counts, outcome)
            except Exception as e:
                log.error("export not audited", extra={"error": type(e).__name__, "rows": rows})
        if waited.cancelled_caught:
            log.error("export not audited in time", extra={"rows": rows})


async def lookup(
    pool: asyncpg.Pool, settings: Settings, actor: str, address: str, how: str
) -> dict[str, Any]:
    """One person's record (signup_core.person); the look-up is audited by blind index only.
    `how` says what the record was for (summary, json, api) in the audit row."""
    (found_under,) = await refiled(pool, settings, [address])
    async with pool.acquire() as conn:
        found = await person_record(conn, settings, address)
    counts = {"subscriptions": len(found["subscriptions"]), "mails": len(found["mails"])}
    params = {"email_index": found_under.index.hex(), "how": how}
    await audit.record(pool, actor, "lookup", params, counts)
    return found

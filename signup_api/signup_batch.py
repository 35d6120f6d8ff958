"""Concurrent signups' writes as one statement over arrays: one PostgreSQL round trip for many.

The SQL statement was the biggest part of a signup's CPU (asyncpg's pool acquire and release,
the bind and the read, the task wake-ups around each), and concurrent signups reach it
together: the limiter's batched answer (signup_api/coalesce.py) wakes them in the same turn
of the event loop. Calls made in one turn go out together (signup_api/turn_batch.py: in the
next turn, or at once when sixteen are waiting) as `upsert_signups` over arrays; an idle
server sends batches of one and waits for nothing. The same statement with one row is the
single signup's write (during a blind-index rotation, and in the tests' helpers): there is one
statement to keep right, not two.

Each caller still gets its own answer and its own failure. What fails every row alike (the
database away, the schema behind, this process's blind-index key no longer the current one)
fails every caller of the batch alike, as it would have failed each alone. Any other failure
is a row's: every row is written again alone, so one bad row fails only its own signup. The
same address and list twice in one batch: the second goes in the next, since one statement
cannot upsert a row twice.
"""

from __future__ import annotations

import asyncio
import contextvars
from dataclasses import dataclass

import asyncpg

from signup_api.health import SCHEMA_BEHIND
from signup_api.turn_batch import Call, TurnBatcher, aborted, fail
from signup_core import db
from signup_core.index_keys import StaleIndexKey, index_keys
from signup_core.settings import Settings

# Failures of the statement, not of a row: every caller gets the same.
BATCH_WIDE = (*db.UNAVAILABLE, *SCHEMA_BEHIND, StaleIndexKey)


@dataclass(frozen=True, slots=True)
class SignupRow:
    """One signup's row: the address's hashes, its sealed fields and its consent record."""

    list_name: str
    email_index: bytes
    email_sealed: bytes
    name_sealed: bytes | None
    locale: str
    # The address's hash under the suppression key (its index when there is none) and under
    # the previous blind-index key during a rotation: its suppression may be filed under any.
    held_index: bytes | None = None
    previous_index: bytes | None = None
    ip_hash: bytes | None = None
    ip_key: str | None = None
    consent_source: str = "landing"
    consent_origin: str | None = None
    wording_hash: bytes | None = None
    traceparent: str | None = None


@dataclass(frozen=True, slots=True)
class Fixed:
    """What every signup of this process writes alike."""

    index_key: str  # the fingerprint of the blind-index key, checked by the key guard
    seal_key_id: str
    form_version: str
    resend_window: float
    reveal_existing: bool


def fixed(settings: Settings) -> Fixed:
    return Fixed(
        index_key=index_keys(settings).current_id,
        seal_key_id=settings.seal_keys.current_id,
        form_version=settings.form_version,
        resend_window=float(settings.resend_window),
        reveal_existing=settings.reveal_existing,
    )


async def upsert(conn: asyncpg.Connection, fixed: Fixed, rows: list[SignupRow]) -> list:
    """The statement for these rows (distinct address and list, in lock order): one record
    each, in their order, with its status and its outbox id (None when no mail is due)."""
    records = db.queries().upsert_signups(
        conn,
        list_names=[r.list_name for r in rows],
        email_indexes=[r.email_index for r in rows],
        held_indexes=[r.held_index for r in rows],
        previous_indexes=[r.previous_index for r in rows],
        emails_sealed=[r.email_sealed for r in rows],
        names_sealed=[r.name_sealed for r in rows],
        locales=[r.locale for r in rows],
        ip_hashes=[r.ip_hash for r in rows],
        ip_keys=[r.ip_key for r in rows],
        consent_sources=[r.consent_source for r in rows],
        consent_origins=[r.consent_origin for r in rows],
        wording_hashes=[r.wording_hash for r in rows],
        traceparents=[r.traceparent for r in rows],
        index_key=fixed.index_key,
        seal_key_id=fixed.seal_key_id,
        form_version=fixed.form_version,
        resend_window=fixed.resend_window,
        reveal_existing=fixed.reveal_existing,
    )
    return [record async for record in records]


class SignupBatcher(TurnBatcher[SignupRow]):
    def __init__(self, pool: asyncpg.Pool, fixed: Fixed) -> None:
        super().__init__()
        self._pool = pool
        self._fixed = fixed

    async def __call__(self, row: SignupRow) -> str:
        """The subscription's status after the write; raises what the database raised."""
        return await self._call(row)

    def _take(self) -> list[Call]:
        batch: list[Call] = []
        later: list[Call] = []
        seen: set[tuple[bytes, str]] = set()
        for call in self._pending:
            key = (call[0].email_index, call[0].list_name)
            if key in seen:
                later.append(call)
            else:
                seen.add(key)
                batch.append(call)
        self._pending = later
        if later:
            asyncio.get_running_loop().call_soon(self._flush, context=contextvars.Context())
        # One lock order for every batch: two processes' batches cannot deadlock on two rows.
        batch.sort(key=lambda call: (call[0].email_index, call[0].list_name))
        return batch

    async def _send(self, batch: list[Call]) -> None:
        try:
            async with self._pool.acquire() as conn:
                records = await upsert(conn, self._fixed, [row for row, _ in batch])
        except asyncio.CancelledError:
            aborted(batch)
            raise
        except BATCH_WIDE as e:
            # The same for every row (the key guard runs once for the whole statement): each
            # caller answers as it would have alone.
            fail(batch, e)
            return
        except Exception as e:
            if len(batch) == 1:
                fail(batch, e)  # a row alone: its failure is its caller's
            else:
                await self._one_by_one(batch)
            return
        for (_, future), record in zip(batch, records, strict=True):
            if not future.done():  # the caller may have given up meanwhile
                future.set_result(record["status"])

    async def _one_by_one(self, batch: list[Call]) -> None:
        """Each row alone, so the row that broke the statement fails only its own signup."""
        for row, future in batch:
            try:
                async with self._pool.acquire() as conn:
                    [record] = await upsert(conn, self._fixed, [row])
            except asyncio.CancelledError:
                aborted(batch)
                raise
            except Exception as e:
                fail([(row, future)], e)
            else:
                if not future.done():
                    future.set_result(record["status"])

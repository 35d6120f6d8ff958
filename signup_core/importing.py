"""Import of an existing list, shared by `signupctl import` and the admin API.

Two passes keep memory flat and the file all-or-nothing: the first reads the input once
(a file, stdin or a request body), checks every row and writes the good ones to a temporary
spool file, hashing the input as it goes; only when no row was invalid (or --skip-invalid)
does the second pass insert the spool in batches of set-based INSERTs (unnest), one
transaction each. The batch id is derived from the input's hash and the options, so running
the same file again finds its own rows ("resumed") and imports nothing twice, and an import
killed half-way is finished by running it again.
"""

from __future__ import annotations

import asyncio
import csv
import datetime
import hashlib
import tempfile
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any, BinaryIO

import asyncpg

from signup_core import audit, consent, db, sealing
from signup_core import import_rows as rows
from signup_core.index_keys import index_keys
from signup_core.settings import Settings

BATCH = 5000
# Invalid rows reported by line; the count covers them all.
REPORTED_INVALID = 100


@dataclass(frozen=True)
class Options:
    confirmed: bool  # True: --confirmed; False: --confirm-by-mail
    fmt: str = "csv"
    columns: str = "signet"
    list_name: str | None = None
    source: str | None = None
    rate: int = 60  # confirmations per minute, --confirm-by-mail only
    skip_invalid: bool = False
    dry_run: bool = False


@dataclass
class Report:
    batch_id: str = ""
    rows: int = 0
    invalid: int = 0
    imported: int = 0
    existing: int = 0
    suppressed: int = 0
    blocklisted: int = 0
    resumed: int = 0
    queued: int = 0
    dry_run: bool = False
    refused: bool = False  # invalid rows and no --skip-invalid: nothing was imported
    problems: list[dict[str, Any]] = field(default_factory=list)
    # When the first paced confirmation is due; later batches continue from it.
    paced_from: datetime.datetime | None = None

    def counts(self) -> dict[str, Any]:
        """What the audit row keeps: counts and the batch id, never a line's content."""
        return {k: v for k, v in asdict(self).items() if k not in ("problems", "paced_from")}


def first_pass(
    source: BinaryIO, spool: Any, options: Options, rules: rows.Rules, report: Report
) -> None:
    """Read and check every row, spool the good ones; sets the batch id from the input."""
    digest = hashlib.sha256()
    text = _HashingText(source, digest)
    try:
        _check_all(text, spool, options, rules, report)
    except UnicodeDecodeError:
        raise rows.ImportFormatError(f"line {text.lines} is not UTF-8 text") from None
    except csv.Error as e:
        raise rows.ImportFormatError(f"line {text.lines} is not CSV: {e}") from None
    for chunk in iter(lambda: source.read(1 << 16), b""):  # whatever a reader left unread
        digest.update(chunk)
    settings = (options.confirmed, options.columns, options.list_name, options.source)
    digest.update(repr(settings).encode())
    report.batch_id = str(uuid.UUID(bytes=digest.digest()[:16]))


def _check_all(
    text: _HashingText, spool: Any, options: Options, rules: rows.Rules, report: Report
) -> None:
    for line, fields in rows.records(text, options.fmt, options.columns):
        report.rows += 1
        checked = rows.check(line, fields, rules)
        if isinstance(checked, rows.Invalid):
            report.invalid += 1
            if len(report.problems) < REPORTED_INVALID:
                report.problems.append({"line": checked.line, "reason": checked.reason})
            continue
        spool.write(rows.spooled(checked))


class _HashingText:
    """A text stream over a binary one that hashes the bytes it hands out."""

    def __init__(self, raw: BinaryIO, digest: Any) -> None:
        self._raw, self._digest = raw, digest
        self.lines = 0

    def __iter__(self) -> _HashingText:
        return self

    def __next__(self) -> str:
        line = self._raw.readline()
        if not line:
            raise StopIteration
        self._digest.update(line)
        self.lines += 1
        return line.decode("utf-8-sig" if line.startswith(b"\xef\xbb\xbf") else "utf-8")


async def run(
    pool: asyncpg.Pool,
    settings: Settings,
    source: BinaryIO,
    options: Options,
    actor: str,
    now: datetime.datetime,
) -> Report:
    """Import `source`; writes one audit row with the counts. Invalid rows without
    skip_invalid import nothing (report.refused)."""
    keys = index_keys(settings)
    if keys.previous is not None:
        raise ImportRefused(
            "a blind-index rotation is in progress: finish `signupctl rotate-blind-index` first"
        )
    report = Report(dry_run=options.dry_run)
    rules = rows.Rules(settings, options.confirmed, options.list_name, options.source, now)
    with tempfile.TemporaryFile("w+", encoding="utf-8") as spool:
        try:
            await asyncio.to_thread(first_pass, source, spool, options, rules, report)
            if report.invalid and not options.skip_invalid:
                report.refused = True
            else:
                spool.seek(0)
                await _second_pass(pool, settings, spool, options, actor, now, report)
        except BaseException:
            await _audit(pool, actor, options, report, "failed")
            raise
    outcome = "failed" if report.refused else "dry-run" if options.dry_run else "done"
    await _audit(pool, actor, options, report, outcome)
    return report


class ImportRefused(RuntimeError):
    """The import cannot run now; the message says why."""


async def _audit(
    pool: asyncpg.Pool, actor: str, options: Options, report: Report, outcome: str
) -> None:
    params = {
        "mode": "confirmed" if options.confirmed else "confirm-by-mail",
        "format": options.fmt,
        "columns": options.columns,
        "list": options.list_name,
        "rate": None if options.confirmed else options.rate,
        "skip_invalid": options.skip_invalid,
        "batch_id": report.batch_id,
    }
    async with pool.acquire() as conn:
        await audit.record(conn, actor, "import", params, report.counts(), outcome)


async def _second_pass(
    pool: asyncpg.Pool,
    settings: Settings,
    spool: Any,
    options: Options,
    actor: str,
    now: datetime.datetime,
    report: Report,
) -> None:
    # A confirmed import prepares the next batch (sealing, hashing) while PostgreSQL inserts
    # the one before; paced confirmations need each batch's count before the next is timed.
    # Batches are read and prepared in a thread: the admin API runs this on the loop that
    # also serves signups.
    overlap = options.confirmed
    in_flight: asyncio.Task | None = None
    try:
        while True:
            arrays, size, blocked = await asyncio.to_thread(_next_batch, spool, settings, now)
            report.blocklisted += blocked
            if in_flight is not None and (not overlap or not size):
                await in_flight
                in_flight = None
            if not size:
                break
            if in_flight is not None:
                await in_flight
            in_flight = asyncio.create_task(
                _insert(pool, settings, arrays, size, options, actor, now, report)
            )
    finally:
        if in_flight is not None and not in_flight.done():
            in_flight.cancel()


def _next_batch(spool: Any, settings: Settings, now: datetime.datetime) -> tuple[dict, int, int]:
    """The next batch's arrays, its size (0 at the end) and the blocklisted rows passed over."""
    batch: list[rows.Row] = []
    blocked = 0
    for text in spool:
        row = rows.unspooled(text)
        if row.blocked:
            blocked += 1
            continue
        batch.append(row)
        if len(batch) == BATCH:
            break
    return (_arrays(settings, batch, now) if batch else {}), len(batch), blocked


def _arrays(settings: Settings, batch: list[rows.Row], now: datetime.datetime) -> dict:
    keys, seal = index_keys(settings), settings.seal_keys
    stated = {s: consent.stated_hash(s) for s in {r.source for r in batch if r.source}}
    return {
        "list_names": [r.list_name for r in batch],
        "email_indexes": [keys.index(r.address) for r in batch],
        "emails_sealed": [seal.seal(r.address, sealing.EMAIL) for r in batch],
        "names_sealed": [seal.seal(r.name, sealing.NAME) for r in batch],
        "locales": [r.locale for r in batch],
        "consent_ats": [r.consent_at or now for r in batch],
        "wording_hashes": [stated.get(r.source) if r.source else None for r in batch],
        "ip_hashes": [
            consent.hash_ip(settings, r.consent_ip)[0] if r.consent_ip else None for r in batch
        ],
    }


async def _insert(
    pool: asyncpg.Pool,
    settings: Settings,
    arrays: dict,
    size: int,
    options: Options,
    actor: str,
    now: datetime.datetime,
    report: Report,
) -> None:
    keys, seal = index_keys(settings), settings.seal_keys
    _, ip_key_id = consent.ip_key(settings)
    async with pool.acquire() as conn:
        tr = conn.transaction()
        await tr.start()
        try:
            got = await db.queries().import_batch(
                conn,
                **arrays,
                index_key=keys.current_id,
                seal_key_id=seal.current_id,
                ip_key=ip_key_id,
                form_version=f"import:{options.columns}",
                batch_id=report.batch_id,
                actor=actor,
                confirmed=options.confirmed,
                start=report.paced_from or now,
                first=report.queued,
                spacing=60.0 / options.rate,
            )
        except BaseException:
            await tr.rollback()
            raise
        if options.dry_run:
            await tr.rollback()
        else:
            await tr.commit()
    report.imported += got["imported"]
    report.suppressed += got["suppressed"]
    report.resumed += got["resumed"]
    report.queued += got["queued"]
    if got["queued"] and report.paced_from is None:
        report.paced_from = got["paced_from"]
    report.existing += size - got["imported"] - got["suppressed"] - got["resumed"]

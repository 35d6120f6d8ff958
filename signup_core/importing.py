"""Import of an existing list, shared by `signupctl import` and the admin API.

Two passes keep memory flat and the file all-or-nothing: the first reads the input once
(a file, stdin or a request body), checks every row and writes the good ones to a temporary
spool file in batches, hashing the input as it goes; only when no row was invalid (or
--skip-invalid) does the second pass import the spool, one transaction per batch: the batch is
sealed and hashed in a thread (import_records) while PostgreSQL inserts the one before, then
COPYed into a temporary table and inserted by one set-based statement, in two lanes (two
connections) for a confirmed import. The batch id is derived from the
input's hash and the options, so running the same file again finds its own rows ("resumed")
and imports nothing twice, and an import killed half-way is finished by running it again.
"""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import pickle
import tempfile
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any, BinaryIO

import asyncpg

from signup_core import audit, consent, db
from signup_core import import_rows as rows
from signup_core.import_records import Sealer
from signup_core.index_keys import index_keys
from signup_core.settings import Settings

# Rows per transaction: a killed import loses at most one batch's work, redone on re-run.
BATCH = 10_000
# Connections a confirmed import inserts through at once (see _second_pass).
LANES = 2
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
) -> int:
    """Read and check every row, spool the good ones; sets the batch id from the input.
    Returns the blocklisted rows passed over (counted when the rows are imported)."""
    digest = hashlib.sha256()
    blocked = _check_all(rows.Lines(source, digest), spool, options, rules, report)
    for chunk in iter(lambda: source.read(1 << 16), b""):  # whatever a reader left unread
        digest.update(chunk)
    settings = (options.confirmed, options.columns, options.list_name, options.source)
    digest.update(repr(settings).encode())
    report.batch_id = str(uuid.UUID(bytes=digest.digest()[:16]))
    return blocked


def _check_all(
    lines: rows.Lines, spool: Any, options: Options, rules: rows.Rules, report: Report
) -> int:
    batch: list[tuple] = []
    blocked = 0
    check, invalid = rows.check, rows.Invalid
    for line, fields in rows.records(lines, options.fmt, options.columns):
        report.rows += 1
        checked = check(line, fields, rules)
        if type(checked) is invalid:
            report.invalid += 1
            if len(report.problems) < REPORTED_INVALID:
                report.problems.append({"line": checked.line, "reason": checked.reason})
        elif checked.blocked:
            blocked += 1
        else:
            batch.append(tuple(checked))  # a plain tuple pickles in C, a NamedTuple does not
            if len(batch) == BATCH:
                pickle.dump(batch, spool, pickle.HIGHEST_PROTOCOL)
                batch = []
    if batch:
        pickle.dump(batch, spool, pickle.HIGHEST_PROTOCOL)
    return blocked


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
    with tempfile.TemporaryFile() as spool:
        try:
            blocked = await asyncio.to_thread(first_pass, source, spool, options, rules, report)
            if report.invalid and not options.skip_invalid:
                report.refused = True
            else:
                report.blocklisted = blocked
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
    # The next batch is read, sealed and hashed in a thread while PostgreSQL inserts the one
    # before (the admin API runs this on the loop that also serves signups). A confirmed
    # import inserts in two lanes, each on its own connection, so PostgreSQL (the slower
    # side) works on both cores: rows are dealt to a lane by their blind index, so every
    # copy of one address goes through one lane in file order, and the lanes never wait on
    # each other's rows (no lock waits, no deadlock, the same counts every run). Paced
    # confirmations need each batch's count before the next is timed: one lane, in order.
    # (A lane waits for its own connection: never more lanes than the pool has connections.)
    lanes = min(LANES, pool.get_max_size()) if options.confirmed else 1
    sealer = Sealer(settings, now, lanes)
    queues: list[asyncio.Queue[list[tuple] | None]] = [asyncio.Queue(1) for _ in range(lanes)]

    async def deal() -> None:
        while (dealt := await asyncio.to_thread(sealer.next_batch, spool)) is not None:
            for queue, staged in zip(queues, dealt, strict=True):
                if staged:
                    await queue.put(staged)
        for queue in queues:
            await queue.put(None)

    async def insert(queue: asyncio.Queue[list[tuple] | None]) -> None:
        async with pool.acquire() as conn:
            while (staged := await queue.get()) is not None:
                await _insert(conn, settings, staged, options, actor, now, report)

    try:
        async with asyncio.TaskGroup() as group:
            group.create_task(deal())
            for queue in queues:
                group.create_task(insert(queue))
    except BaseExceptionGroup as e:
        raise e.exceptions[0] from None  # what failed first, as a single import error


async def _insert(
    conn: asyncpg.Connection,
    settings: Settings,
    staged: list[tuple],
    options: Options,
    actor: str,
    now: datetime.datetime,
    report: Report,
) -> None:
    keys, seal = index_keys(settings), settings.seal_keys
    _, ip_key_id = consent.ip_key(settings)
    q = db.queries()
    tr = conn.transaction()
    await tr.start()
    try:
        await q.import_stage(conn)
        await conn.copy_records_to_table("import_stage", records=staged)
        got = await q.import_batch(
            conn,
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
    report.existing += len(staged) - got["imported"] - got["suppressed"] - got["resumed"]

"""Export of confirmed subscribers as CSV or JSON Lines, streamed row by row from a server-side
cursor: memory stays flat whatever the list's size."""

from __future__ import annotations

import csv
import datetime
import io
import json
from collections.abc import AsyncIterator, Callable
from typing import TextIO

import asyncpg

from signup_core import consent, db, sealing, unsubscribe_links
from signup_core.settings import Settings

# New columns go at the end: a reader that takes the first seven by position keeps working.
COLUMNS = (
    "address",
    "name",
    "list",
    "locale",
    "confirmed_at",
    "consent_form_version",
    "unsubscribe_url",
    *consent.FIELDS,
)


async def export(
    conn: asyncpg.Connection,
    settings: Settings,
    out: TextIO,
    fmt: str = "csv",
    list_name: str | None = None,
    since: datetime.datetime | None = None,
    until: datetime.datetime | None = None,
    on_row: Callable[[int], None] | None = None,
) -> int:
    """Write the rows to `out`; returns how many."""
    header = 1 if fmt == "csv" else 0
    n = -header
    async for line in lines(conn, settings, fmt, list_name, since, until):
        out.write(line)
        n += 1
        if on_row is not None and n > 0 and n % 1000 == 0:
            on_row(n)
    return max(n, 0)


async def lines(
    conn: asyncpg.Connection,
    settings: Settings,
    fmt: str = "csv",
    list_name: str | None = None,
    since: datetime.datetime | None = None,
    until: datetime.datetime | None = None,
) -> AsyncIterator[str]:
    """The export line by line (CSV starts with its header), for a file or an HTTP stream."""
    keys = settings.seal_keys
    render = _csv_line if fmt == "csv" else _jsonl_line
    if fmt == "csv":
        yield _csv_line(COLUMNS)
    async with db.queries().export_confirmed_cursor(
        conn, list_name=list_name, since=since, until=until
    ) as cursor:
        async for r in cursor:
            kid = r["seal_key_id"]
            yield render(
                (
                    sealing.open_column(keys, r["email_sealed"], sealing.EMAIL, kid),
                    sealing.open_column(keys, r["name_sealed"], sealing.NAME, kid) or "",
                    r["list_name"],
                    r["locale"],
                    r["confirmed_at"].isoformat(),
                    r["consent_form_version"],
                    unsubscribe_links.url(settings, r["unsubscribe_id"]),
                    *consent.record(r).values(),
                )
            )


def _csv_line(row: tuple) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(["" if v is None else v for v in row])
    return buffer.getvalue()


def _jsonl_line(row: tuple) -> str:
    return json.dumps(dict(zip(COLUMNS, row, strict=True)), ensure_ascii=False) + "\n"

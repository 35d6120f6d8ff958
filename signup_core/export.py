"""Export of confirmed subscribers as CSV or JSON Lines, streamed row by row from a server-side
cursor: memory stays flat whatever the list's size. CSV cells a spreadsheet would run as a
formula are written as text; JSON Lines stay exact."""

from __future__ import annotations

import csv
import datetime
import io
import json
from collections.abc import AsyncIterator

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


# What makes a spreadsheet read a cell as a formula (OWASP, "CSV Injection"): these first
# characters, also behind leading whitespace, which spreadsheets skip before deciding.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def as_text(cell: str) -> str:
    """`cell` as a spreadsheet will show it, never run it: a leading single quote, as OWASP
    advises, before a cell that would start a formula. Other cells come out as they are."""
    rest = cell.lstrip()
    if cell.startswith(FORMULA_STARTS) or rest.startswith(FORMULA_STARTS):
        return "'" + cell
    return cell


def _csv_line(row: tuple) -> str:
    buffer = io.StringIO()
    # QUOTE_ALL, as OWASP also advises: a cell is one cell whatever separator it holds.
    csv.writer(buffer, lineterminator="\n", quoting=csv.QUOTE_ALL).writerow(
        ["" if c is None else as_text(str(c)) for c in row]
    )
    return buffer.getvalue()


def _jsonl_line(row: tuple) -> str:
    return json.dumps(dict(zip(COLUMNS, row, strict=True)), ensure_ascii=False) + "\n"

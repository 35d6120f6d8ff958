"""Export of confirmed subscribers as CSV or JSON Lines, streamed row by row from a server-side
cursor: memory stays flat whatever the list's size."""

from __future__ import annotations

import csv
import datetime
import json
from collections.abc import Callable
from typing import TextIO

import asyncpg

from signup_core import db, sealing, unsubscribe_links
from signup_core.settings import Settings

COLUMNS = (
    "address",
    "name",
    "list",
    "locale",
    "confirmed_at",
    "consent_form_version",
    "unsubscribe_url",
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
    keys = settings.seal_keys
    write = _csv_writer(out) if fmt == "csv" else _jsonl_writer(out)
    n = 0
    async with db.queries().export_confirmed_cursor(
        conn, list_name=list_name, since=since, until=until
    ) as cursor:
        async for r in cursor:
            kid = r["seal_key_id"]
            write(
                (
                    sealing.open_column(keys, r["email_sealed"], sealing.EMAIL, kid),
                    sealing.open_column(keys, r["name_sealed"], sealing.NAME, kid) or "",
                    r["list_name"],
                    r["locale"],
                    r["confirmed_at"].isoformat(),
                    r["consent_form_version"],
                    unsubscribe_links.url(settings, r["unsubscribe_id"]),
                )
            )
            n += 1
            if on_row is not None and n % 1000 == 0:
                on_row(n)
    return n


def _csv_writer(out: TextIO) -> Callable[[tuple], None]:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    return writer.writerow


def _jsonl_writer(out: TextIO) -> Callable[[tuple], None]:
    def write(row: tuple) -> None:
        out.write(json.dumps(dict(zip(COLUMNS, row, strict=True)), ensure_ascii=False) + "\n")

    return write

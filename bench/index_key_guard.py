"""What the blind-index write guard (sql/migrations/0014) adds to each write that files by
address: one PL/pgSQL call taking a shared advisory lock and reading the one-row key table.
Sequential round trips with and without it, against a throwaway embedded PostgreSQL.

    .venv/bin/python -m bench.index_key_guard [--calls 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path

import aiosql
import asyncpg

from devstack import postgres
from devstack.processes import free_port
from signup_core import db as core_db
from signup_core.migrations import migrate

QUERIES = aiosql.from_path(Path(__file__).with_suffix(".sql"), "asyncpg")


async def _per_call_us(conn: asyncpg.Connection, query, calls: int) -> float:
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(calls):
            await query(conn, key_id="bench-key")
        best = min(best, time.perf_counter() - start)
    return best / calls * 1e6


async def _run(url: str, calls: int) -> dict[str, float]:
    conn = await asyncpg.connect(url)
    try:
        await migrate(conn)
        await core_db.queries().file_index_key(conn, key_id="bench-key", state="current")
        base = await _per_call_us(conn, QUERIES.unguarded, calls)
        guarded = await _per_call_us(conn, QUERIES.guarded, calls)
    finally:
        await conn.close()
    return {
        "round_trip_us": round(base, 1),
        "guarded_round_trip_us": round(guarded, 1),
        "guard_us": round(guarded - base, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=20_000)
    calls = parser.parse_args().calls
    root = Path(tempfile.mkdtemp(prefix="signet-guard-bench-"))
    root.chmod(0o755)
    pg = postgres.start(root / "pg" / "data", free_port(), durable=False, log=root / "pg.log")
    try:
        print(json.dumps(asyncio.run(_run(pg.url, calls)), indent=2))
    finally:
        pg.stop()


if __name__ == "__main__":
    main()

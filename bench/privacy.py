"""Export rows/s and peak RSS at 100,000 and 1,000,000 confirmed subscribers, and purge rows/s,
against a throwaway embedded PostgreSQL.

    .venv/bin/python -m bench.privacy [--sizes 100000,1000000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiosql
import asyncpg

from devstack import postgres
from devstack.processes import free_port
from signup_core import db as core_db
from signup_core import retention, sealing
from signup_core.clock import Clock
from signup_core.migrations import migrate
from signup_core.settings import load_settings

SEAL_KEYS = "b1:YmVuY2gtc2VhbC1rZXktMDEyMzQ1Njc4OWFiY2RlZmc"
Q = aiosql.from_path(Path(__file__).with_name("privacy.sql"), "asyncpg")


def _env(url: str) -> dict[str, str]:
    return {
        "DATABASE_URL": url,
        "REDIS_URL": "redis://127.0.0.1:1/0",
        "PUBLIC_BASE_URL": "https://news.example.com",
        "SIGNUP_BLIND_INDEX_KEY": "bench-blind-index-key-0123456789abcdef",
        "SIGNUP_SIGNING_KEY": "bench-signing-key-0123456789abcdef0123",
        "SIGNUP_SEAL_KEYS": SEAL_KEYS,
    }


def _export(env: dict[str, str], out: Path) -> tuple[float, float]:
    """Seconds and peak RSS (MiB) of one `signupctl export` process."""
    binary = Path(sys.executable).with_name("signupctl")
    started = time.perf_counter()
    with subprocess.Popen(
        [str(binary), "export", "-o", str(out)], env={**os.environ, **env}
    ) as process:
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise SystemExit("export failed")
    return time.perf_counter() - started, usage.ru_maxrss / 1024


async def _run(url: str, sizes: list[int], root: Path) -> dict:
    settings = load_settings(_env(url))
    keys = settings.seal_keys
    conn = await asyncpg.connect(url)
    await migrate(conn)
    results: dict = {"export": [], "purge": []}
    for size in sizes:
        await Q.clear(conn)
        await Q.seed_confirmed(
            conn,
            count=size,
            email_sealed=keys.seal("someone.subscribed@example.com", sealing.EMAIL),
            name_sealed=keys.seal("Ada Lovelace", sealing.NAME),
            key_id=keys.current_id,
        )
        await conn.execute("VACUUM ANALYZE subscriptions")
        seconds, rss = _export(_env(url), root / "export.csv")
        results["export"].append(
            {"rows": size, "seconds": round(seconds, 2), "rows_per_s": round(size / seconds),
             "peak_rss_mib": round(rss, 1)}
        )  # fmt: skip
        print(json.dumps(results["export"][-1]), file=sys.stderr)
    await Q.clear(conn)
    purge_rows = min(sizes)
    await Q.seed_expired_pending(conn, count=purge_rows)
    await conn.execute("VACUUM ANALYZE")
    pool = await core_db.create_pool(settings, max_size=2)
    started = time.perf_counter()
    counts = await retention.purge(pool, settings, Clock().now())
    seconds = time.perf_counter() - started
    await pool.close()
    deleted = counts["pending"]  # each with its outbox row, by cascade
    results["purge"].append(
        {"subscriptions": deleted, "batch": settings.purge_batch, "seconds": round(seconds, 2),
         "rows_per_s": round(deleted / seconds)}
    )  # fmt: skip
    await conn.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="100000,1000000")
    sizes = [int(s) for s in parser.parse_args().sizes.split(",")]
    root = Path(tempfile.mkdtemp(prefix="signet-privacy-bench-"))
    root.chmod(0o755)
    pg = postgres.start(root / "pg" / "data", free_port(), durable=False, log=root / "pg.log")
    try:
        print(json.dumps(asyncio.run(_run(pg.url, sizes, root)), indent=2))
    finally:
        pg.stop()


if __name__ == "__main__":
    main()

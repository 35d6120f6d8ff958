"""`signupctl import --confirmed` rows/s and peak RSS at 100,000 and 1,000,000 rows (and the
same file again, which imports nothing), against a throwaway embedded PostgreSQL. Writes its
figures to bench/results/import-<time>.json.

    .venv/bin/python -m bench.import [--sizes 100000,1000000]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import asyncpg

from bench.privacy import _env
from devstack import postgres
from devstack.processes import free_port
from signup_core.migrations import migrate

RESULTS = Path(__file__).with_name("results")


def _write_csv(path: Path, rows: int) -> None:
    """Our own columns, every row with its consent evidence, ~70 bytes a row."""
    with path.open("w", encoding="utf-8") as f:
        f.write("address,name,consent_at,source\n")
        for i in range(rows):
            f.write(f"reader.{i}@example.com,Reader {i},2021-05-01T10:00:00Z,old list form\n")


def _import(env: dict[str, str], path: Path) -> tuple[float, float, str]:
    """Seconds, peak RSS (MiB) and the summary line of one `signupctl import` process."""
    binary = Path(sys.executable).with_name("signupctl")
    started = time.perf_counter()
    with subprocess.Popen(
        [str(binary), "import", str(path), "--confirmed"],
        env={**os.environ, **env},
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        stderr = process.stderr.read() if process.stderr else ""
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise SystemExit(f"import failed: {stderr}")
    return time.perf_counter() - started, usage.ru_maxrss / 1024, stderr.strip()


async def _run(url: str, sizes: list[int], root: Path) -> list[dict]:
    env = _env(url)
    conn = await asyncpg.connect(url)
    await migrate(conn)
    results = []
    for size in sizes:
        await conn.execute("TRUNCATE subscriptions, outbox, audit_log CASCADE")
        path = root / f"import-{size}.csv"
        _write_csv(path, size)
        for run in ("first", "again"):
            seconds, rss, summary = _import(env, path)
            results.append(
                {"rows": size, "run": run, "seconds": round(seconds, 2),
                 "rows_per_s": round(size / seconds), "peak_rss_mib": round(rss, 1),
                 "summary": summary}
            )  # fmt: skip
            print(json.dumps(results[-1]), file=sys.stderr)
        path.unlink()
    await conn.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="100000,1000000")
    sizes = [int(s) for s in parser.parse_args().sizes.split(",")]
    root = Path(tempfile.mkdtemp(prefix="signet-import-bench-"))
    root.chmod(0o755)
    pg = postgres.start(root / "pg" / "data", free_port(), durable=False, log=root / "pg.log")
    try:
        results = asyncio.run(_run(pg.url, sizes, root))
    finally:
        pg.stop()
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%d-%H%M%S")
    # The machine's load says how far the figures are from an idle machine's.
    document = {
        "bench": "import",
        "cpus": os.cpu_count(),
        "load_average_at_end": [round(x, 1) for x in os.getloadavg()],
        "results": results,
    }
    out = RESULTS / f"import-{stamp}.json"
    out.write_text(json.dumps(document, indent=2) + "\n")
    print(out)


if __name__ == "__main__":
    main()

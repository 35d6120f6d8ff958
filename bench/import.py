"""`signupctl import --confirmed` rows/s and peak RSS at 100,000 and 1,000,000 rows (and the
same file again, which imports nothing), against a throwaway embedded PostgreSQL. Writes its
figures to bench/results/import-<time>.json.

On a machine shared with other work, rows/s says more about the load than about the code: each
run also records the CPU seconds the import process and PostgreSQL spent, and the load average
before and after it.

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


def _postgres_cpu(pid: int) -> float:
    """CPU seconds PostgreSQL has spent so far: the postmaster, its live processes (the import's
    backend, the WAL writer, ...) and those it has reaped."""
    ticks = 0
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    for n, process in enumerate([str(pid), *children]):
        try:
            fields = Path(f"/proc/{process}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:  # ended since the list was read: counted as reaped
            continue
        # utime and stime (fields 14, 15 of proc(5)); for the postmaster also cutime, cstime
        ticks += sum(int(x) for x in fields[11 : 15 if n == 0 else 13])
    return ticks / os.sysconf("SC_CLK_TCK")


def _import(env: dict[str, str], path: Path, rows: int, postgres_pid: int) -> dict:
    """Seconds, CPU seconds, peak RSS (MiB) and the summary line of one `signupctl import`."""
    binary = Path(sys.executable).with_name("signupctl")
    load_before = os.getloadavg()[0]
    pg_before = _postgres_cpu(postgres_pid)
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
    seconds = time.perf_counter() - started
    if process.returncode:
        raise SystemExit(f"import failed: {stderr}")
    time.sleep(0.5)  # the import's backend exits once its connection closes
    import_cpu = usage.ru_utime + usage.ru_stime
    postgres_cpu = _postgres_cpu(postgres_pid) - pg_before
    return {
        "seconds": round(seconds, 2),
        "rows_per_s": round(rows / seconds),
        "import_cpu_s": round(import_cpu, 2),
        "postgres_cpu_s": round(postgres_cpu, 2),
        # Rows per CPU second of both together: what one idle core would do with no overlap,
        # a floor for an idle 2-core machine (the second pass overlaps the two)
        "rows_per_cpu_s": round(rows / (import_cpu + postgres_cpu)),
        "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),
        "load_before_after": [round(load_before, 1), round(os.getloadavg()[0], 1)],
        "summary": stderr.strip(),
    }


async def _run(url: str, sizes: list[int], root: Path, postgres_pid: int) -> list[dict]:
    env = _env(url)
    conn = await asyncpg.connect(url)
    await migrate(conn)
    results = []
    for size in sizes:
        await conn.execute("TRUNCATE subscriptions, outbox, audit_log CASCADE")
        path = root / f"import-{size}.csv"
        _write_csv(path, size)
        for run in ("first", "again"):
            measured = _import(env, path, size, postgres_pid)
            results.append({"rows": size, "run": run, **measured})
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
        results = asyncio.run(_run(pg.url, sizes, root, pg.process.pid))
    finally:
        pg.stop()
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%d-%H%M%S")
    # The machine's load says how far the figures are from an idle machine's.
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    document = {
        "bench": "import",
        "commit": commit,
        "cpus": os.cpu_count(),
        "load_average_at_end": [round(x, 1) for x in os.getloadavg()],
        "results": results,
    }
    out = RESULTS / f"import-{stamp}.json"
    out.write_text(json.dumps(document, indent=2) + "\n")
    print(out)


if __name__ == "__main__":
    main()

"""The worker's phases of the benchmark: mails per second of one worker process into the SMTP
sink and to the HTTP API mock, with the worker's CPU seconds per mail (load-independent, unlike
the rate on a shared machine), and signup -> mail latency. `make bench` runs them after the
signup rounds; `make bench-worker` runs only them (and writes bench/results/worker-<time>.json).

BENCH_WORKER_MAILS (3000) sets the mails per throughput phase; BENCH_WORKER_PHASES
(smtp,http,latency) picks phases; BENCH_PYSPY=1 records each throughput phase's worker with
py-spy, GIL-holding samples only (collapsed stacks in the kept log folder; pip install py-spy
first).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from bench import run
from bench.cpu import idle_share, machine, tree_cpu
from devstack.processes import free_port, stop

MAILS = int(os.environ.get("BENCH_WORKER_MAILS", "3000"))
PHASES = os.environ.get("BENCH_WORKER_PHASES", "smtp,http,latency").split(",")
IDLE_SECONDS = 3.0


def _pyspy(pid: int, out: Path) -> subprocess.Popen | None:
    if not os.environ.get("BENCH_PYSPY"):
        return None
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    return subprocess.Popen(
        [
            spy,
            "record",
            "--gil",
            "--rate",
            os.environ.get("BENCH_PYSPY_RATE", "100"),
            "--subprocesses",
            "--pid",
            str(pid),
            "--format",
            "raw",
            "-o",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def worker_throughput(
    db_url: str, arrivals, env: dict, log: Path, count: int, command: list[str] | None = None
) -> dict:
    """One worker process sending `count` seeded confirmations; `arrivals()` says when each
    arrived at the sink (or the API mock), from the first to the last. The worker's CPU is read
    at the first arrival and at the last, so its start-up is not in the per-mail figure; its
    idle CPU, measured after the last, is also taken out in cpu_ms_per_mail_less_idle."""
    asyncio.run(run.sql(db_url, "clear_signups"))
    asyncio.run(run.sql(db_url, "seed_confirmations", count=count, prefix="w-"))
    arrivals(clear=True)
    worker = run.start_worker(env, log, command)
    spy = _pyspy(worker.pid, log.with_suffix(".pyspy.txt"))
    deadline = time.monotonic() + 120
    first: tuple[int, float, float] | None = None
    last: tuple[int, float, float] = (0, 0.0, 0.0)
    while time.monotonic() < deadline:
        got = len(arrivals())
        cpu = tree_cpu(worker.pid)
        if got and first is None:
            first = (got, cpu, time.monotonic())
            around = (machine(), time.process_time())
        last = (got, cpu, time.monotonic())
        ending = (machine(), time.process_time())
        if got >= count:
            break
        time.sleep(0.1)
    # What the worker burns idle (its pollers), measured once the queue is empty: at a few
    # hundred mails a second it is a share of the CPU per mail worth telling apart.
    idle_from = (tree_cpu(worker.pid), time.monotonic())
    time.sleep(IDLE_SECONDS)
    idle_rate = (tree_cpu(worker.pid) - idle_from[0]) / (time.monotonic() - idle_from[1])
    if spy is not None:
        spy.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
        spy.wait(timeout=30)
    stop(worker, timeout=30)
    times = sorted(arrivals().values())
    rate = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else 0.0
    mails = last[0] - first[0] if first else 0
    cpu = last[1] - first[1] if first else 0.0
    busy = cpu - idle_rate * (last[2] - first[2]) if first else 0.0
    return {
        "mails": len(times),
        "mails_per_s": rate,
        "cpu_ms_per_mail": cpu * 1000 / mails if mails else None,
        "idle_cpu_share": idle_rate,
        "cpu_ms_per_mail_less_idle": busy * 1000 / mails if mails else None,
        # What else the two cores did meanwhile: the sink (or the bench's own polling of the
        # API mock) lives in this process; a machine with no idle left bounds the rate, not
        # the worker.
        "bench_cpu_ms_per_mail": (ending[1] - around[1]) * 1000 / mails if mails else None,
        "machine_idle_share": idle_share(around[0], ending[0]) if mails else None,
    }


def phases(pg_url: str, sink, mock_url: str, api_env: dict, api_port: int, logs: Path) -> dict:
    """Every worker phase; the API at api_port (with api_env) must be running."""
    measured: dict = {}
    if "smtp" in PHASES:
        print("worker: confirmation mails per second into the SMTP sink…", flush=True)
        measured["worker"] = worker_throughput(
            pg_url, run.sink_arrivals(sink), api_env, logs / "worker-smtp.log", count=MAILS
        )
        print(f"  {measured['worker']}", flush=True)
    if "http" in PHASES:
        measured["worker_http_api"] = _http_phase(pg_url, mock_url, api_env, logs)
    if "latency" in PHASES:
        for rate, seconds in ((100, 20), (1000, 10)):
            measured[f"latency_{rate}_per_s"] = _latency(
                pg_url, sink, api_env, api_port, logs, rate, seconds
            )
    return measured


def _http_phase(pg_url: str, mock_url: str, api_env: dict, logs: Path) -> dict:
    print("worker: confirmation mails per second to the HTTP API mock…", flush=True)
    http_env = {
        **api_env,
        "SIGNUP_MAIL_TRANSPORT": "postmark",
        "SIGNUP_POSTMARK_SERVER_TOKEN": "bench",
        "BENCH_MAIL_API": f"{mock_url}/email",
    }
    http = worker_throughput(
        pg_url,
        run.api_arrivals(mock_url),
        http_env,
        logs / "worker-http.log",
        count=MAILS,
        command=[sys.executable, "-m", "bench.http_api_worker"],
    )
    print(f"  {http}", flush=True)
    return http


def _latency(
    pg_url: str, sink, api_env: dict, api_port: int, logs: Path, rate: int, seconds: int
) -> dict:
    print(f"worker: signup -> mail latency at {rate} signups/s…", flush=True)
    asyncio.run(run.sql(pg_url, "clear_signups"))
    live = run.start_worker(api_env, logs / f"worker-latency-{rate}.log")
    try:
        time.sleep(3)
        latency = asyncio.run(
            run.paced_signups(api_port, run.sink_arrivals(sink), rate, seconds, f"lat{rate}")
        )
    finally:
        stop(live, timeout=30)
    print(f"  {latency}", flush=True)
    return latency


def main() -> None:
    """`make bench-worker`: only the worker's phases, against the real API for the latency."""
    keep = bool(os.environ.get("BENCH_KEEP") or os.environ.get("BENCH_PYSPY"))
    with run.stores("signet-bench-worker-", keep) as st:
        logs, pg, rd, sink, smtp_port = st.logs, st.pg, st.rd, st.sink, st.smtp_port
        api_port = free_port()
        procs = []
        try:
            asyncio.run(run.prepare(pg.url))
            env = run.base_env(pg.url, rd.url, smtp_port)
            api_env = {
                **env,
                "PORT": str(api_port),
                "PUBLIC_BASE_URL": f"http://127.0.0.1:{api_port}",
            }
            mock, mock_url = run.start_mail_api(logs)
            procs.append(mock)
            api = [str(Path(sys.executable).with_name("signup-api"))]
            procs.append(run.start("real", api, api_env, api_port, logs))
            load_before = run.load()
            print(f"load {load_before}", flush=True)
            summary = phases(pg.url, sink, mock_url, api_env, api_port, logs)
            results = {
                "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "commit": run.commit(),
                "load_before": load_before,
                "load_after": run.load(),
                "machine": {"cpus": os.cpu_count(), "mails": MAILS},
                "summary": summary,
            }
            print(json.dumps(results, indent=2))
            run.save_results(results, "worker-")
        finally:
            for proc in procs:
                stop(proc, timeout=30)


if __name__ == "__main__":
    main()

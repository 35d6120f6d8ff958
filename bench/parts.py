"""`python -m bench.parts`: CPU per signup of the real API with one part taken out at a time,
and of the floor, measured in-process: each app called as ASGI, 32 signups at a time, against
its own durable PostgreSQL and Valkey. No HTTP, no load generator sharing the cores, so the
figures are the apps' own CPU. Each variant runs in a fresh process, RUNS times (the order
rotated each run); the median is printed.

BENCH_PARTS_ONLY (a regular expression) keeps the variants whose names it finds;
BENCH_PARTS_BEFORE (a checkout's folder, e.g. from `git archive`) adds, for each variant kept
but the floor, the same variant run from that checkout's code ("… [before]") in the same
interleaved rounds, so a change is measured against what it changed under the same load.

A part is taken out by replacing it with what it returns on the happy path; that is only good
for measuring, never for serving.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import asyncpg

RUNS = int(os.environ.get("BENCH_PARTS_RUNS", "3"))
SIGNUPS = int(os.environ.get("BENCH_PARTS_SIGNUPS", "4000"))
CONCURRENCY = 32

VARIANTS = {
    "the floor": ["floor"],
    "the real API": [],
    "… without the rate-limit call": ["limiter"],
    "… without the SQL statement": ["sql"],
    "… without address and form validation": ["validation"],
    "… without sealing the address and name": ["sealing"],
    "… without the blind index": ["index"],
    "… without the access log line": ["log"],
    "… without the request metrics": ["metrics"],
    "… without all four": ["limiter", "sql", "validation", "log"],
    "… with tracing on, sampled at 0 (every request unsampled)": ["+tracing=0"],
    "… with tracing on, sampled at 0.1": ["+tracing=0.1"],
    "… with tracing on, sampled at 1.0": ["+tracing=1.0"],
}


ONLY = os.environ.get("BENCH_PARTS_ONLY")
BEFORE = os.environ.get("BENCH_PARTS_BEFORE")
if ONLY:
    VARIANTS = {name: flags for name, flags in VARIANTS.items() if re.search(ONLY, name)}
if BEFORE:
    VARIANTS = {
        **{f"{name} [before]": flags for name, flags in VARIANTS.items() if name != "the floor"},
        **VARIANTS,
    }


def _env(db_url: str, redis_url: str) -> dict[str, str]:
    """make bench's settings for the API; it sends no mail here, so no SMTP server is behind
    the port."""
    from bench.run import base_env

    return {**base_env(db_url, redis_url, smtp_port=1), "PUBLIC_BASE_URL": "http://127.0.0.1:1"}


def _real_app(without: list[str]):
    import logging

    from signup_api import signup
    from signup_api.app import create_app
    from signup_api.forms import SignupForm
    from signup_api.ratelimit import Limiter, Verdict
    from signup_core import logs
    from signup_core.settings import load_settings

    settings = load_settings()
    logs.configure(settings.log_level, per_turn=True)  # as signup-api does
    if "log" in without:
        logging.getLogger("signup_api.access").disabled = True
    if "limiter" in without:

        async def allow(self, *args, **kwargs) -> Verdict:
            return Verdict(True)

        Limiter.check = allow
    if "sql" in without:

        async def stored(*args, **kwargs) -> str:
            return "pending"

        signup.store = stored
    if "validation" in without:
        signup.validate = lambda fields, s: SignupForm(fields["email"], None, s.default_list, "en")
    if "sealing" in without:
        _without_sealing(settings)
    if "index" in without:
        # The address's own bytes: unique per address, as the index is, and free.
        signup.blind_index = lambda key, address: address.encode()[:32].ljust(32, b"-")
    if "metrics" in without:
        _without_metrics()
    for flag in without:
        if flag.startswith("+tracing="):
            _with_tracing(settings, flag.partition("=")[2])
    return create_app(settings)


def _without_sealing(settings) -> None:
    """The sealed columns as the plain bytes: the same rows, none of the AEAD's CPU."""
    keyring = type(settings.seal_keys)
    keyring.seal = lambda self, value, purpose: None if value is None else value.encode()


class _Null:
    def inc(self, *args) -> None: ...

    def dec(self, *args) -> None: ...


def _without_metrics() -> None:
    """The request counters, histogram and in-flight gauge, and the signup outcome counter."""
    from signup_api import metrics, signup

    metrics.observe = lambda *args: None
    metrics.IN_FLIGHT = _Null()
    signup._ACCEPTED_COUNT = _Null()


def _with_tracing(settings, ratio: str) -> None:
    """Tracing configured as production does it (tracing.configure: batch processor, the
    instrumentations, the sampler from OTEL_TRACES_SAMPLER), sampling parent-based at `ratio`,
    with an exporter that drops the spans: the cost on the request path and the processor."""
    from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

    from signup_core import tracing

    class Drop(SpanExporter):
        def export(self, spans) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    os.environ["OTEL_TRACES_SAMPLER"] = "parentbased_traceidratio"
    os.environ["OTEL_TRACES_SAMPLER_ARG"] = ratio
    tracing.configure(settings, "api", exporter=Drop())


async def _measure(app, signups: int) -> float:
    counter = itertools.count()
    prefix = f"p{time.time_ns()}"

    async def one() -> None:
        body = json.dumps({"email": f"{prefix}-{next(counter)}@example.com"}).encode()
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/signup",
            "raw_path": b"/signup",
            "query_string": b"",
            "root_path": "",
            "headers": [
                (b"host", b"127.0.0.1"),
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
            "client": ("127.0.0.1", 5000),
            "server": ("127.0.0.1", 80),
            "state": {},
        }
        sent = []

        async def receive() -> dict:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict) -> None:
            sent.append(message)

        await app(scope, receive, send)
        if sent[0]["status"] != 202:
            raise RuntimeError(f"signup answered {sent[0]['status']}")

    async def client(n: int) -> None:
        for _ in range(n):
            await one()

    await asyncio.gather(*(client(50) for _ in range(CONCURRENCY)))  # warm-up
    per_client = signups // CONCURRENCY
    started = time.process_time()
    await asyncio.gather(*(client(per_client) for _ in range(CONCURRENCY)))
    return (time.process_time() - started) / (per_client * CONCURRENCY) * 1e6


async def _lifespan(app):
    queue: asyncio.Queue = asyncio.Queue()
    await queue.put({"type": "lifespan.startup"})
    started = asyncio.Event()

    async def send(message: dict) -> None:
        if message["type"] == "lifespan.startup.complete":
            started.set()
        elif message["type"] == "lifespan.startup.failed":
            raise RuntimeError(message.get("message"))

    task = asyncio.ensure_future(
        app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, queue.get, send)
    )
    await started.wait()
    return task


def child(without: list[str]) -> None:
    """One measurement in this process; prints CPU µs per signup."""
    import uvloop

    async def main() -> float:
        if "floor" in without:
            from bench.floor import app
        else:
            app = _real_app(without)
        lifespan = await _lifespan(app)  # held: a collected task would close the pools
        try:
            return await _measure(app, SIGNUPS)
        finally:
            lifespan.cancel()

    print(f"{uvloop.run(main()):.1f}", flush=True)
    os._exit(0)  # the lifespan task and pools need no tidy exit here


def main() -> None:
    from devstack import postgres, redis
    from devstack.processes import free_port
    from signup_core.migrations import migrate

    root = Path(tempfile.mkdtemp(prefix="signet-parts-"))
    root.chmod(0o755)
    pg = postgres.start(root / "pg" / "data", free_port(), durable=True, log=root / "pg.log")
    rd = redis.start(free_port())
    try:

        async def prepare() -> None:
            conn = await asyncpg.connect(pg.url)
            await migrate(conn)
            await conn.close()

        async def clear() -> None:
            conn = await asyncpg.connect(pg.url)
            await conn.execute("TRUNCATE subscriptions, outbox CASCADE")
            await conn.execute("DROP TABLE IF EXISTS floor_signups")  # the floor makes it
            await conn.execute("CHECKPOINT")
            await conn.close()

        asyncio.run(prepare())
        load_before = [round(x, 2) for x in os.getloadavg()]
        env = {**os.environ, **_env(pg.url, rd.url)}
        results: dict[str, list[float]] = {name: [] for name in VARIANTS}
        order = list(VARIANTS.items())
        for run in range(RUNS):  # variants interleaved, so the machine's drift hits all alike
            # ... and the order rotated each run (as make bench's rounds), so no variant always
            # runs first or right after the same one.
            shift = run % len(order)
            for name, without in order[shift:] + order[:shift]:
                asyncio.run(clear())
                out = subprocess.run(
                    [sys.executable, "-m", "bench.parts", "--child", *without],
                    cwd=BEFORE if name.endswith(" [before]") else None,
                    env=env,
                    capture_output=True,
                    text=True,
                )
                if out.returncode != 0:
                    notable = [
                        line for line in out.stderr.splitlines() if '"level": "info"' not in line
                    ]
                    sys.exit(f"{name}: the measurement failed:\n" + "\n".join(notable[-40:]))
                results[name].append(float(out.stdout.strip().splitlines()[-1]))
            print(f"  run {run + 1} of {RUNS} done", flush=True)
        print(f"\n  CPU per signup, median of {RUNS} runs of {SIGNUPS}:")
        for name, values in results.items():
            base = "the real API [before]" if name.endswith(" [before]") else "the real API"
            real = statistics.median(results.get(base, [0.0]))
            median = statistics.median(values)
            part = ""
            if name.startswith("… with "):
                part = f"  (it adds: {median - real:.0f} µs)"
            elif name.startswith("…"):
                part = f"  (the part: {real - median:.0f} µs)"
            print(f"  {name:<50} {median:6.0f} µs{part}")
        _write(results, load_before)
    finally:
        rd.stop()
        pg.stop()
        shutil.rmtree(root, ignore_errors=True)


def _write(results: dict[str, list[float]], load_before: list[float]) -> None:
    """bench/results/parts-<time>.json: every run's figure, the medians, the commit, the load."""
    from bench.run import commit, save_results

    record = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "commit": commit(),
        "before": BEFORE,
        "load_before": load_before,
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "runs": RUNS,
        "signups": SIGNUPS,
        "cpu_us_per_signup": {name: values for name, values in results.items()},
        "median_us": {name: statistics.median(values) for name, values in results.items()},
    }
    save_results(record, "parts-")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2:])
    else:
        main()

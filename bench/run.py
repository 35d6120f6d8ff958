"""`make bench`: the real API against the floor, A/B interleaved, then the worker and webhook
ingest. Starts its own PostgreSQL (durable commits), Valkey and SMTP sink; installs wrk from
Debian if missing; writes bench/results/<time>.json and prints a table."""

from __future__ import annotations

import asyncio
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import aiosql
import asyncpg
import httpx
from aiosmtpd.controller import Controller

from bench import webhook_requests
from devstack import postgres, redis
from devstack.processes import die_with_parent, free_port, stop, wait_for_port
from signup_core.migrations import migrate

HERE = Path(__file__).resolve().parent
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
WARMUP = int(os.environ.get("BENCH_WARMUP", "3"))
CONNECTIONS = 32
SEED = aiosql.from_path(HERE / "seed.sql", "asyncpg")


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    print("installing wrk from Debian packages…", flush=True)
    subprocess.run(["apt-get", "update", "-qq"], check=True, capture_output=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, capture_output=True)
    return shutil.which("wrk") or sys.exit("wrk could not be installed")


class Sink:
    """SMTP sink that notes when each recipient's mail arrived; parses nothing."""

    def __init__(self) -> None:
        self.arrivals: dict[str, float] = {}
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope) -> str:
        now = time.monotonic()
        with self.lock:
            for rcpt in envelope.rcpt_tos:
                self.arrivals.setdefault(rcpt, now)
        return "250 OK"


def parse_wrk(text: str) -> dict:
    def ms(value: str) -> float:
        number, unit = re.match(r"([\d.]+)(us|ms|s)", value).groups()
        return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    percentiles = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", text, re.M))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    errors = re.search(r"Socket errors: (.*)", text)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1)),
        "p50_ms": ms(percentiles["50"]),
        "p99_ms": ms(percentiles["99"]),
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
        "socket_errors": errors.group(1) if errors else None,
    }


def run_wrk(wrk: str, url: str, script: str, args: list[str], seconds: int) -> dict:
    done = subprocess.run(
        [
            wrk,
            "-t2",
            f"-c{CONNECTIONS}",
            f"-d{seconds}s",
            "--latency",
            "-s",
            script,
            url,
            "--",
            *args,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return parse_wrk(done.stdout)


def start(name: str, args: list[str], env: dict, port: int, logs: Path) -> subprocess.Popen:
    out = open(logs / f"{name}.log", "ab")  # noqa: SIM115 - the child keeps it
    proc = subprocess.Popen(
        args,
        env={**os.environ, **env},
        stdout=out,
        stderr=subprocess.STDOUT,
        preexec_fn=die_with_parent(),
        start_new_session=True,
    )
    wait_for_port(port, proc)
    return proc


def start_worker(env: dict, log: Path) -> subprocess.Popen:
    out = open(log, "ab")  # noqa: SIM115 - the child keeps it
    return subprocess.Popen(
        [str(Path(sys.executable).with_name("signup-worker"))],
        env={**os.environ, **env},
        stdout=out,
        stderr=subprocess.STDOUT,
        preexec_fn=die_with_parent(),
        start_new_session=True,
    )


def rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) / 1024


def spread(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


async def sql(url: str, name: str, **params) -> None:
    conn = await asyncpg.connect(url)
    try:
        await getattr(SEED, name)(conn, **params)
    finally:
        await conn.close()


def signup_rounds(wrk: str, api: str, floor: str) -> list[dict]:
    # Unmeasured warm-up for both: the first seconds fill pools and caches, and their tail
    # would otherwise land in whichever app round 1 happens to start with.
    for name, url in (("real", api), ("floor", floor)):
        run_wrk(wrk, url, str(HERE / "signup.lua"), [f"warm{name}"], WARMUP)
    rounds = []
    for n in range(ROUNDS):
        order = [("real", api), ("floor", floor)]
        if n % 2:
            order.reverse()
        result = {}
        for name, url in order:
            result[name] = run_wrk(wrk, url, str(HERE / "signup.lua"), [f"r{n}{name}"], SECONDS)
        result["ratio"] = result["real"]["rps"] / result["floor"]["rps"]
        print(
            f"  round {n + 1}: real {result['real']['rps']:.0f} req/s "
            f"(p99 {result['real']['p99_ms']:.1f} ms), floor {result['floor']['rps']:.0f} "
            f"req/s (p99 {result['floor']['p99_ms']:.1f} ms), ratio {result['ratio']:.2f}",
            flush=True,
        )
        rounds.append(result)
    return rounds


def worker_throughput(db_url: str, sink: Sink, env: dict, logs: Path, count: int) -> dict:
    asyncio.run(sql(db_url, "clear_signups"))
    asyncio.run(sql(db_url, "seed_confirmations", count=count, prefix="w-"))
    with sink.lock:
        sink.arrivals.clear()
    worker = start_worker(env, logs / "worker-throughput.log")
    deadline = time.monotonic() + 120
    while len(sink.arrivals) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    stop(worker, timeout=30)
    times = sorted(sink.arrivals.values())
    rate = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else 0.0
    return {"mails": len(times), "mails_per_s": rate}


async def paced_signups(api: str, sink: Sink, rate: int, seconds: int) -> dict:
    sent: dict[str, float] = {}
    async with httpx.AsyncClient(base_url=api, timeout=10) as client:
        start = time.monotonic()
        tasks = []
        for i in range(rate * seconds):
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            address = f"lat-{i}@example.com"
            sent[address] = time.monotonic()
            tasks.append(asyncio.create_task(client.post("/signup", json={"email": address})))
        answers = await asyncio.gather(*tasks)
    await asyncio.sleep(3)
    with sink.lock:
        latencies = sorted(
            (sink.arrivals[a] - t) * 1000 for a, t in sent.items() if a in sink.arrivals
        )
    return {
        "signups": len(sent),
        "accepted": sum(a.status_code == 202 for a in answers),
        "mailed": len(latencies),
        "p50_ms": statistics.median(latencies) if latencies else None,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] if latencies else None,
    }


def main() -> None:
    wrk = ensure_wrk()
    root = Path(tempfile.mkdtemp(prefix="signet-bench-"))
    root.chmod(0o755)
    logs = root / "logs"
    logs.mkdir()
    pg = postgres.start(root / "pg" / "data", free_port(), durable=True, log=logs / "pg.log")
    rd = redis.start(free_port())
    sink = Sink()
    smtp_port = free_port()
    smtp = Controller(sink, hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    procs: list[subprocess.Popen] = []
    try:

        async def prepare() -> None:
            c = await asyncpg.connect(pg.url)
            await migrate(c)
            await c.close()

        asyncio.run(prepare())
        api_port, floor_port, hook_port = free_port(), free_port(), free_port()
        sg_key, sg_public = webhook_requests.sendgrid_key()
        sns_key, sns_cert = webhook_requests.sns_key_and_certificate()
        (root / "sns.pem").write_bytes(sns_cert)
        env = {
            "DATABASE_URL": pg.url,
            "REDIS_URL": rd.url,
            "HOST": "127.0.0.1",
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(smtp_port),
            "SIGNUP_BLIND_INDEX_KEY": "bench-blind-index-key-0123456789abcdef",
            "SIGNUP_SIGNING_KEY": "bench-signing-key-0123456789abcdef0123",
            "SIGNUP_SEAL_KEYS": "b1:YmVuY2gtc2VhbC1rZXktMDEyMzQ1Njc4OWFiY2RlZmc",
            "SIGNUP_CORS_ORIGINS": "https://www.example.com",
            **{
                f"SIGNUP_RATE_LIMIT_{k}": "100000000/minute"
                for k in ("IP", "NETWORK", "ADDRESS", "GLOBAL")
            },
            "SIGNUP_SES_TOPIC_ARNS": webhook_requests.TOPIC,
            "SIGNUP_SENDGRID_PUBLIC_KEY": sg_public,
            "SIGNUP_RELAY_INTERVAL": "0.2",
            "BENCH_CERT_URL": webhook_requests.CERT_URL,
        }
        bin_dir = Path(sys.executable).parent
        api_env = {**env, "PORT": str(api_port), "PUBLIC_BASE_URL": f"http://127.0.0.1:{api_port}"}
        api = start("api", [str(bin_dir / "signup-api")], api_env, api_port, logs)
        floor = start(
            "floor",
            [sys.executable, "-m", "bench.floor"],
            {**env, "PORT": str(floor_port)},
            floor_port,
            logs,
        )
        procs += [api, floor]

        print(
            f"signup: {ROUNDS} rounds x {SECONDS} s per app, {CONNECTIONS} connections", flush=True
        )
        rounds = signup_rounds(
            wrk, f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{floor_port}"
        )
        api_rss = rss_mb(api.pid)

        print("worker: confirmation mails per second into the sink…", flush=True)
        worker = worker_throughput(pg.url, sink, api_env, logs, count=3000)

        print("worker: signup -> mail latency at 100 signups/s…", flush=True)
        asyncio.run(sql(pg.url, "clear_signups"))
        live = start_worker(api_env, logs / "worker-latency.log")
        procs.append(live)
        time.sleep(3)
        with sink.lock:
            sink.arrivals.clear()
        latency = asyncio.run(paced_signups(f"http://127.0.0.1:{api_port}", sink, 100, 20))
        stop(live, timeout=30)

        print("webhooks: ingest…", flush=True)
        hook_env = {**env, "PORT": str(hook_port), "PUBLIC_BASE_URL": "http://127.0.0.1"}
        hooks = start(
            "webhooks",
            [sys.executable, "-m", "bench.webhook_app", str(root / "sns.pem")],
            hook_env,
            hook_port,
            logs,
        )
        procs.append(hooks)
        webhook_requests.write_sendgrid(root / "sendgrid.txt", sg_key, 1500, batch=50)
        webhook_requests.write_sns(root / "sns.txt", sns_key, 6000)
        hook_url = f"http://127.0.0.1:{hook_port}"
        sendgrid = run_wrk(wrk, hook_url, str(HERE / "replay.lua"), [str(root / "sendgrid.txt")], 5)
        sendgrid["events_per_s"] = sendgrid["rps"] * 50
        sns = run_wrk(wrk, hook_url, str(HERE / "replay.lua"), [str(root / "sns.txt")], 5)

        ratios = [r["ratio"] for r in rounds]
        summary = {
            "real_rps": spread([r["real"]["rps"] for r in rounds]),
            "floor_rps": spread([r["floor"]["rps"] for r in rounds]),
            "ratio": spread(ratios),
            "real_p99_ms": spread([r["real"]["p99_ms"] for r in rounds]),
            "floor_p99_ms": spread([r["floor"]["p99_ms"] for r in rounds]),
            "api_rss_mb": api_rss,
            "worker": worker,
            "latency_100_per_s": latency,
            "webhooks": {"sendgrid_batches_of_50": sendgrid, "sns_single": sns},
        }
        results = {
            "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "machine": {
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "connections": CONNECTIONS,
                "seconds": SECONDS,
            },
            "rounds": rounds,
            "summary": summary,
        }
        out_dir = HERE / "results"
        out_dir.mkdir(exist_ok=True)
        path = out_dir / f"{time.strftime('%Y%m%d-%H%M%S')}.json"
        path.write_text(json.dumps(results, indent=2))
        print_table(results)
        print(f"\nwritten to {path.relative_to(HERE.parent)}")
    finally:
        for proc in procs:
            stop(proc, timeout=30)
        smtp.stop()
        rd.stop()
        pg.stop()
        shutil.rmtree(root, ignore_errors=True)


def _range(values: dict, digits: int = 0) -> str:
    f = f"{{:.{digits}f}}"
    return f"{f.format(values['median'])} ({f.format(values['min'])}-{f.format(values['max'])})"


def print_table(results: dict) -> None:
    s = results["summary"]
    lat, w, hooks = s["latency_100_per_s"], s["worker"], s["webhooks"]
    sendgrid, sns = hooks["sendgrid_batches_of_50"], hooks["sns_single"]
    rows = [
        ("signup req/s, real (median; min-max)", _range(s["real_rps"])),
        ("signup req/s, floor", _range(s["floor_rps"])),
        ("real / floor (target >= 0.80)", _range(s["ratio"], 2)),
        (
            "p99 ms, real / floor (target real <= 2x floor)",
            f"{s['real_p99_ms']['median']:.1f} / {s['floor_p99_ms']['median']:.1f}",
        ),
        (
            "non-2xx, real / floor",
            f"{sum(r['real']['non_2xx'] for r in results['rounds'])} / "
            f"{sum(r['floor']['non_2xx'] for r in results['rounds'])}",
        ),
        ("API RSS after the run (target <= 150 MB)", f"{s['api_rss_mb']:.0f} MB"),
        ("worker mails/s, one process (target >= 300)", f"{w['mails_per_s']:.0f} ({w['mails']})"),
        (
            "signup->mail p50 / p99 at 100/s (target p99 <= 500)",
            f"{lat['p50_ms']:.0f} / {lat['p99_ms']:.0f} ms",
        ),
        ("  mailed / signups", f"{lat['mailed']} / {lat['signups']}"),
        (
            "SendGrid batches of 50 /s (events/s; non-2xx)",
            f"{sendgrid['rps']:.0f} ({sendgrid['events_per_s']:.0f}; {sendgrid['non_2xx']})",
        ),
        ("SNS notifications /s (non-2xx)", f"{sns['rps']:.0f} ({sns['non_2xx']})"),
    ]
    width = max(len(r[0]) for r in rows)
    print()
    for label, value in rows:
        print(f"  {label:<{width}}  {value}")


if __name__ == "__main__":
    main()
